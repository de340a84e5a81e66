"""The planner on small books, no servers: inactive customers and people's typing."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tpsqbo_engine.resources import rules_dir
from tpsqbo_engine.ruleset.model import RuleSet, load_ruleset
from tpsqbo_engine.sync.plan import Operation
from tpsqbo_engine.sync.plan_input import LinkRow, PlanInput
from tpsqbo_engine.sync.planner import Planner
from tpsqbo_engine.sync.snapshot import Snapshot

CLIENT = {"id": "c-1", "code": "CED01", "name": "Cedar Point Marina ", "email": None}
INACTIVE = {
    "Id": "7",
    "SyncToken": "3",
    "DisplayName": "Cedar Point Marina",
    "CompanyName": "Cedar Point Marina",
    "Active": False,
}


def _rules(**clients: Any) -> RuleSet:
    rules = load_ruleset(rules_dir())
    mappings = tuple(
        dataclasses.replace(m, **clients) if m.id == "clients" else m for m in rules.mappings
    )
    return dataclasses.replace(rules, mappings=mappings)


def _plan(rules: RuleSet, links: dict[str, list[LinkRow]] | None = None) -> list[Operation]:
    snapshot = Snapshot(
        tps={"Client": {"c-1": dict(CLIENT)}}, qbo={"Customer": {"7": dict(INACTIVE)}}
    )
    plan = Planner(PlanInput(rules, snapshot, links or {}, phase="initial")).plan()
    return [op for op in plan.operations if op.mapping == "clients"]


def test_reactivate_links_the_inactive_customer_and_says_so() -> None:
    (op,) = _plan(_rules())
    assert op.action == "link" and op.target == "qbo.Customer:7"
    assert op.body["Active"] is True and op.diff["Active"] == [False, True]
    assert "reactivates qbo.Customer:7 (Cedar Point Marina)" in op.message
    assert "DisplayName" not in op.body  # only spaces differ: the tidy name stays


def test_review_leaves_it_for_the_firm() -> None:
    (op,) = _plan(_rules(on_inactive="review"))
    assert op.action == "review" and op.level == "Warning"
    assert "is inactive in QBO (on_inactive: review)" in op.message


def test_create_makes_a_new_customer_whose_name_does_not_clash() -> None:
    (op,) = _plan(_rules(on_inactive="create"))
    assert op.action == "create"
    assert op.body["DisplayName"] == "Cedar Point Marina (CED01)"  # QBO would refuse 6240


def test_a_linked_customer_made_inactive_later_is_reactivated() -> None:
    rules = _rules()
    (first,) = _plan(rules)
    link = LinkRow("c-1", "7", first.content_hash, "", "2", "clients")  # changed since
    (op,) = _plan(rules, {"Client|Customer": [link]})
    assert op.action == "update" and op.body == {"Active": True}


@pytest.mark.parametrize("conflict", ["flag", "source_wins"])
def test_text_differing_only_in_spaces_or_case_is_no_change_unless_tps_wins(
    conflict: str,
) -> None:
    rules = _rules(conflict=conflict)
    snapshot = Snapshot(
        tps={"Client": {"c-1": {**CLIENT, "name": "cedar point  marina"}}},
        qbo={"Customer": {"7": {**INACTIVE, "Active": True}}},
    )
    plan = Planner(PlanInput(rules, snapshot, {}, phase="initial")).plan()
    (op,) = [o for o in plan.operations if o.mapping == "clients"]
    assert op.action == "link"
    assert ("CompanyName" in op.diff) is (conflict == "source_wins")
    if conflict == "source_wins":
        assert op.body["CompanyName"] == "cedar point  marina"  # as TPS has it, since TPS wins


def test_an_exclusion_rule_failing_on_one_record_fails_that_record_only() -> None:
    rules = load_ruleset(rules_dir())
    lookups = {k: v for k, v in rules.lookups.items() if k != "receivables-account"}
    broken = dataclasses.replace(rules, lookups=lookups)
    transfer = {"Id": "9", "FromAccountRef": {"value": "1", "name": "Chequing"}}
    snapshot = Snapshot(
        tps={"Client": {"c-1": dict(CLIENT)}},
        qbo={"Customer": {"7": dict(INACTIVE)}, "Transfer": {"9": transfer}},
    )
    plan = Planner(PlanInput(broken, snapshot, {}, phase="initial")).plan()
    (failed,) = [op for op in plan.operations if op.record == "qbo.Transfer:9"]
    assert failed.level == "Failed" and "receivables-account" in failed.message
    assert any(op.mapping == "clients" and op.writes for op in plan.operations)
