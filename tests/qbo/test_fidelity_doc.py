"""docs/emulator-fidelity.md names one test per behaviour: each of them exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "emulator-fidelity.md"
ROW = re.compile(r"\| (\d+\.\d+) \|")
SAME_FILE = re.compile(r"`::(test_[a-z0-9_]+)`")
NAMED = re.compile(r"`(test_[a-z0-9_]+\.py)::(?:[A-Za-z0-9_]+::)?(test_[a-z0-9_]+)`")


def _tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def test_every_row_names_a_test_that_exists() -> None:
    rows = [r for r in DOC.read_text(encoding="utf-8").splitlines() if ROW.match(r)]
    assert rows
    for row in rows:
        cell = row.rstrip(" |").rsplit("|", 1)[-1]
        named = NAMED.findall(cell)
        assert named, f"no test named in row {ROW.match(row).group(1)}"  # type: ignore[union-attr]
        for more in SAME_FILE.findall(cell):  # `::test_x` after a full name: the same file
            named.append((named[0][0], more))
        for file, name in named:
            path = ROOT / "tests" / "qbo" / file
            assert path.is_file(), file
            assert name in _tests(path), f"{file}::{name}"
