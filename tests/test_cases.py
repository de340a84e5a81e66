"""Every folder under cases/valid must validate clean; every folder under cases/invalid must
report problems, compared with a reviewed snapshot. Adding a case means adding a folder."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from tpsqbo_engine import resources
from tpsqbo_engine.ruleset.validate import validate_paths

CASES = Path(__file__).parent / "cases"


def _case_dirs(kind: str) -> list[Path]:
    return sorted(p for p in (CASES / kind).iterdir() if (p / "pack.yaml").is_file())


def _problems(case: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    monkeypatch.chdir(case)
    standard = str(resources.rules_dir())
    found = validate_paths([case]).problems
    return [{**asdict(p), "file": p.file.replace(standard, "<standard>")} for p in found]


@pytest.mark.parametrize("case", _case_dirs("valid"), ids=lambda p: p.name)
def test_valid_case_has_no_problems(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _problems(case, monkeypatch) == []


@pytest.mark.parametrize("case", _case_dirs("invalid"), ids=lambda p: p.name)
def test_invalid_case_problems(case: Path, monkeypatch: pytest.MonkeyPatch, snapshot) -> None:
    problems = _problems(case, monkeypatch)
    assert any(p["level"] == "error" for p in problems)
    assert all(p["line"] >= 1 and p["column"] >= 1 for p in problems)
    assert problems == snapshot


def test_cases_exist() -> None:
    assert len(_case_dirs("valid")) >= 3
    assert len(_case_dirs("invalid")) >= 20


EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*/rules"))


@pytest.mark.parametrize("pack", EXAMPLES, ids=lambda p: p.parent.name)
def test_example_packs_are_valid(pack: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _problems(pack, monkeypatch) == []


def test_there_is_an_example_pack() -> None:
    assert EXAMPLES


def test_oversized_templates_are_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tpsqbo_engine.ruleset import template_check as semantics

    monkeypatch.setattr(semantics, "MAX_FILE_BYTES", 100)
    (tmp_path / "pack.yaml").write_text("kind: pack\nid: t\nversion: 1.0.0\n")
    (tmp_path / "big.html").write_text("{{ invoice.total }}" * 20)
    (tmp_path / "t.yaml").write_text(
        "kind: template\nid: big\nfile: big.html\nformat: html\nfor: tps.Invoice\n"
        "context: {invoice: tps.Invoice}\n"
    )
    codes = [p["code"] for p in _problems(tmp_path, monkeypatch)]
    assert codes == ["template.too-large"]
