"""A pack's test case that is a link to a file outside the pack (the firm's token file, its
settings): `test` neither reads it nor, with --update, writes through it; `validate` says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from tpsqbo_engine import resources
from tpsqbo_engine.cli import main
from tpsqbo_engine.errors import RuleError
from tpsqbo_engine.packtest import run_pack_tests, write_expectation
from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.ruleset.validate import validate_pack

OUTSIDE = b'{"access_token": "not-a-real-token"}\n'
CASE = "description: nothing\ntps: {}\nexpect: {writes: [], excluded: [], other: []}\n"


def _pack_with_a_link(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "pack"
    (root / "tests").mkdir(parents=True)
    (root / "pack.yaml").write_text(
        "kind: pack\nid: firm\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"
    )
    (root / "tests" / "fine.yaml").write_text(CASE)
    outside = tmp_path / "settings.json"
    outside.write_bytes(OUTSIDE)
    (root / "tests" / "zz.yaml").symlink_to(outside)
    return root, outside


def test_test_update_neither_reads_nor_writes_through_a_link(tmp_path: Path) -> None:
    root, outside = _pack_with_a_link(tmp_path)
    rules = load_ruleset(resources.rules_dir())
    results = {r.name: r for r in run_pack_tests(root, rules, update=True)}
    linked = results["zz"]
    assert not linked.passed and not linked.updated
    assert [p.code for p in linked.problems] == ["pack.symlink-escape"]
    assert "access_token" not in "\n".join(linked.diff())  # nothing of the file shown
    assert outside.read_bytes() == OUTSIDE
    assert results["fine"].passed


def test_write_expectation_refuses_a_path_leading_out(tmp_path: Path) -> None:
    root, outside = _pack_with_a_link(tmp_path)
    with pytest.raises(RuleError) as refused:
        write_expectation(root / "tests" / "zz.yaml", {"writes": []}, root)
    assert [p.code for p in refused.value.problems] == ["pack.symlink-escape"]
    assert outside.read_bytes() == OUTSIDE


def test_validate_reports_a_case_linked_out(tmp_path: Path) -> None:
    root, _ = _pack_with_a_link(tmp_path)
    found = [p for p in validate_pack(root).problems if p.code == "pack.symlink-escape"]
    assert [(Path(p.file).name, p.is_error) for p in found] == [("zz.yaml", True)]


def test_a_case_linked_inside_the_pack_is_fine(tmp_path: Path) -> None:
    root, _ = _pack_with_a_link(tmp_path)
    (root / "tests" / "zz.yaml").unlink()
    (root / "cases").mkdir()
    (root / "cases" / "shared.txt").write_text(CASE)
    (root / "tests" / "zz.yaml").symlink_to(root / "cases" / "shared.txt")
    assert [p for p in validate_pack(root).problems if p.is_error] == []
    assert [r.passed for r in run_pack_tests(root, load_ruleset(root))] == [True, True]


def test_the_command_stops_before_running_cases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, outside = _pack_with_a_link(tmp_path)
    assert main(["test", str(root), "--update"]) == 1
    assert "pack.symlink-escape" in capsys.readouterr().out
    assert outside.read_bytes() == OUTSIDE
