"""`tpsqbo-engine test`: a pack's offline cases, planned in memory with a fixed clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tpsqbo_engine import resources
from tpsqbo_engine.cli import main
from tpsqbo_engine.packtest import run_pack_tests
from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.sync.plan_input import PlanInput
from tpsqbo_engine.sync.planner import Planner
from tpsqbo_engine.sync.snapshot import Snapshot

CASE = """description: a new client
phase: initial
today: 2026-11-30
tps:
  Client:
    - {id: c-1, code: A1, name: Acme Ltd, email: a@acme.example, active: true}
expect:
  writes:
  - mapping: clients
    record: tps.Client:c-1
    action: create
    target: qbo.Customer
    fields:
      DisplayName: Acme Ltd
      CompanyName: Acme Ltd
      PrimaryEmailAddr:
        Address: a@acme.example
      Notes: TPS client A1
  excluded: []
  other: []
"""


def _firm(tmp_path: Path, case: str = CASE, extra: str = "") -> Path:
    (tmp_path / "tests").mkdir()
    (tmp_path / "pack.yaml").write_text(
        "kind: pack\nid: firm\nversion: 1.0.0\nextends: [tps-qbo-standard]\n" + extra
    )
    (tmp_path / "tests" / "new-client.yaml").write_text(case)
    return tmp_path


def test_the_standard_pack_ships_passing_cases() -> None:
    root = resources.rules_dir()
    results = run_pack_tests(root, load_ruleset(root))
    assert len(results) >= 2
    assert [r.name for r in results if not r.passed] == []


EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.mark.parametrize(
    "example", sorted(EXAMPLES.glob("*/rules/tests")), ids=lambda p: p.parts[-3]
)
def test_example_packs_ship_passing_cases(example: Path) -> None:
    root = example.parent
    assert [r.name for r in run_pack_tests(root, load_ruleset(root)) if not r.passed] == []


def test_a_matching_case_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _firm(tmp_path)
    assert main(["test", str(root)]) == 0
    assert "ok       new-client" in capsys.readouterr().out


def test_a_rule_change_shows_as_a_difference_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _firm(
        tmp_path,
        extra="patches:\n  - document: clients\n"
        "    set: {fields/Notes: {value: 'Client {{ code }}', one_way: true}}\n",
    )
    assert main(["test", str(root)]) == 1
    out = capsys.readouterr().out
    assert "FAILED   new-client" in out
    assert "-    Notes: TPS client A1" in out and "+    Notes: Client A1" in out
    # --update accepts the new plan, keeping the case's input as written
    assert main(["test", str(root), "--update"]) == 0
    text = (root / "tests" / "new-client.yaml").read_text()
    assert text.startswith("description: a new client\n") and "Notes: Client A1" in text
    assert main(["test", str(root)]) == 0


def test_json_and_junit_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _firm(tmp_path, CASE.replace("Notes: TPS client A1", "Notes: wrong"))
    assert main(["test", str(root), "--format", "json"]) == 1
    (result,) = json.loads(capsys.readouterr().out)
    assert result["case"] == "new-client" and result["passed"] is False
    assert "+    Notes: TPS client A1" in result["diff"]
    assert main(["test", str(root), "--format", "junit"]) == 1
    suite = ElementTree.fromstring(capsys.readouterr().out)
    assert suite.get("tests") == "1" and suite.get("failures") == "1"
    assert suite.find("testcase/failure") is not None


def test_bad_case_input_is_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = CASE.replace("active: true}", "active: maybe}").replace("phase: initial", "phase: later")
    root = _firm(tmp_path, case)
    assert main(["test", str(root)]) == 1
    out = capsys.readouterr().out
    assert "new-client.yaml:6:" in out and "test.record-type" in out
    assert "new-client.yaml:2:" in out and "test.bad-phase" in out


def test_a_pack_without_cases_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "pack.yaml").write_text("kind: pack\nid: p\nversion: 1.0.0\n")
    assert main(["test", str(tmp_path)]) == 2


def test_the_planner_runs_in_memory_with_a_fixed_clock() -> None:
    rules = load_ruleset(resources.rules_dir())
    moment = datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)
    plan = Planner(PlanInput(rules, Snapshot(), {}, clock=lambda: moment)).plan()
    assert plan.created_at == "2030-05-06T07:08:09+00:00"
    assert plan.operations == []


def test_run_time_failures_name_the_expression_and_the_key(tmp_path: Path) -> None:
    root = _firm(
        tmp_path,
        extra="patches:\n  - document: clients\n"
        "    set: {fields/Notes: {value: \"{{ lookup('tax-codes', office) }}\", one_way: true}}\n",
    )
    case = CASE.replace("active: true}", "active: true, office: Ottawa}")
    (root / "tests" / "new-client.yaml").write_text(case)
    (result,) = run_pack_tests(root, load_ruleset(root))
    (failure,) = result.actual["other"]
    assert failure["action"] == "fail" and failure["record"] == "tps.Client:c-1"
    assert "pack.yaml:7:33:" in failure["message"]  # the expression's line and column
    assert "no entry for 'Ottawa'" in failure["message"]
