"""docs/rules.md names every problem code the rule checks can report."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
SOURCES = [*sorted((ROOT / "engine" / "ruleset").glob("*.py")), ROOT / "engine" / "packtest.py"]
SOURCES.append(ROOT / "engine" / "online.py")
CODE = re.compile(r'"((?:pack|mapping|expr|template|test|online|rules|yaml)\.[a-z][a-z-]*)"')


def test_every_problem_code_is_documented() -> None:
    docs = (ROOT / "docs" / "rules.md").read_text()
    codes = {m.group(1) for path in SOURCES for m in CODE.finditer(path.read_text())}
    assert len(codes) > 40
    missing = sorted(c for c in codes if not c.endswith("-") and f"`{c}`" not in docs)
    assert missing == []
