"""A pack's templates that include each other many times over: `validate` reads each file
once and refuses what no rendering could finish; a rendering counts every include against
the budget's steps and clock."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tpsqbo_engine import budget as limits
from tpsqbo_engine.budget import BudgetExceeded
from tpsqbo_engine.expr import render_text
from tpsqbo_engine.ruleset import template_check
from tpsqbo_engine.ruleset.validate import validate_pack
from tpsqbo_engine.sync.bindings import compile_template

STANDARD = Path(__file__).resolve().parents[2] / "rules"
FAN_DOCUMENT = """
---
kind: template
id: fan
file: t/t0.html
format: html
for: tps.Invoice
context:
  invoice: tps.Invoice
"""


def _fan(root: Path, width: int, depth: int) -> Path:
    """The standard pack, and a template t/t0.html whose files each include the next
    `width` times, `depth` levels deep (the last one empty)."""
    shutil.copytree(STANDARD, root)
    with (root / "templates.yaml").open("a", encoding="utf-8") as documents:
        documents.write(FAN_DOCUMENT)
    (root / "t").mkdir()
    for level in range(depth):
        include = "{% include 't/t" + str(level + 1) + ".html' %}"
        (root / "t" / f"t{level}.html").write_text(include * width, encoding="utf-8")
    (root / "t" / f"t{depth}.html").write_text("", encoding="utf-8")
    return root


def _codes(root: Path) -> list[str]:
    return [p.code for p in validate_pack(root).problems if p.is_error]


def test_validate_refuses_a_fan_out_no_rendering_could_finish(tmp_path: Path) -> None:
    root = _fan(tmp_path / "fan", width=10, depth=6)  # a million includes; days to check
    started = time.monotonic()
    problems = [p for p in validate_pack(root).problems if p.is_error]
    assert time.monotonic() - started < 30  # days before; about 1 s now, more on a busy machine
    assert [(p.code, Path(p.file).name) for p in problems] == [
        ("template.too-many-includes", "templates.yaml")
    ]
    assert "1,111,110 times" in problems[0].message


def test_validate_checks_each_template_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _fan(tmp_path / "fan", width=3, depth=4)  # 120 includes of 5 files
    checked: list[str] = []
    real = template_check.check_template_parts

    def counting(source: str, *args: object, **kwargs: bool) -> object:
        checked.append(source)
        return real(source, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(template_check, "check_template_parts", counting)
    assert _codes(root) == []
    fan_files = [s for s in checked if "t/t" in s or s == ""]
    assert len(fan_files) == 5  # t0.html ... t4.html, once each


def test_cycles_and_depth_are_still_reported(tmp_path: Path) -> None:
    root = _fan(tmp_path / "cycle", width=2, depth=2)
    (root / "t" / "t2.html").write_text("{% include 't/t1.html' %}", encoding="utf-8")
    assert _codes(root) == ["template.cycle"]
    deep = _fan(tmp_path / "deep", width=1, depth=10)
    assert _codes(deep) == ["template.too-deep"]


def test_rendering_counts_includes_against_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A template with no loop at all, 10,000 includes: the steps run out, not the clock
    (the step limit lowered, so a busy machine cannot make the clock come first)."""
    monkeypatch.setattr(limits, "MAX_STEPS", 1_000)
    root = _fan(tmp_path / "fan", width=10, depth=4)
    rule = SimpleNamespace(pack_root=root, file=root / "t" / "t0.html", format="html")
    template = compile_template(rule)  # type: ignore[arg-type]
    with pytest.raises(BudgetExceeded, match="more than 1,000 loop iterations and includes"):
        render_text(template, {})


def test_a_template_including_a_few_others_renders(tmp_path: Path) -> None:
    root = _fan(tmp_path / "fan", width=3, depth=3)
    (root / "t" / "t3.html").write_text("x", encoding="utf-8")
    rule = SimpleNamespace(pack_root=root, file=root / "t" / "t0.html", format="html")
    assert render_text(compile_template(rule), {}) == "x" * 27  # type: ignore[arg-type]
