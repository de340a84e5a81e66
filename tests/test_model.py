"""The standard pack loads into typed, frozen rules that say where they came from."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tpsqbo_engine import resources
from tpsqbo_engine.errors import RuleError
from tpsqbo_engine.ruleset.model import Action, load_ruleset


def test_standard_pack_builds_a_ruleset() -> None:
    rules = load_ruleset(resources.rules_dir())
    assert rules.pack_id == "tps-qbo-standard"
    mappings = {m.id: m for m in rules.mappings}
    assert {
        "clients",
        "work-codes",
        "invoices",
        "qbo-invoices",
        "payments",
        "qbo-payments",
        "adjustment-increases",
        "adjustment-decreases",
        "finance-charges",
    } <= set(mappings)
    assert mappings["clients"].direction == "both"
    assert mappings["clients"].match[0].normalize == "email"
    assert rules.uses_payment_links
    assert rules.lookups["income-accounts"].default == "Fees Income"


def test_standard_exclusions_block_initially_and_warn_afterwards() -> None:
    rules = load_ruleset(resources.rules_dir())
    by_entity = {r.entity: r for r in rules.exclusions}
    for entity in ("qbo.CreditMemo", "qbo.JournalEntry", "qbo.Deposit", "qbo.Purchase"):
        assert by_entity[entity].initial is Action.BLOCK
        assert by_entity[entity].ongoing is Action.SKIP_AND_WARN
    assert by_entity["tps.Invoice"].initial is Action.SKIP


def test_rules_are_frozen_and_located() -> None:
    rules = load_ruleset(resources.rules_dir())
    clients = next(m for m in rules.mappings if m.id == "clients")
    with pytest.raises(dataclasses.FrozenInstanceError):
        clients.id = "other"  # type: ignore[misc]
    assert clients.where.endswith("clients.yaml:2")
    assert all(f.where.startswith(clients.where.rsplit(":", 1)[0]) for f in clients.fields)


def test_an_invoice_line_is_computed_from_the_compiled_rules() -> None:
    rules = load_ruleset(resources.rules_dir())
    invoices = next(m for m in rules.mappings if m.id == "invoices")
    line = next(f for f in invoices.fields if f.path == "Line")
    assert line.each is not None and line.alias == "line"
    lines = line.each.evaluate(
        {
            "lines": [
                {"work_code": "TAX", "amount": "100.00"},
                {"work_code": "TAX", "amount": "20.00"},
            ]
        }
    )
    amount = next(f for f in line.items[0] if f.path == "Amount")
    assert amount.value is not None
    assert str(amount.value.evaluate({"line": lines[0]})) == "120.00"


def test_rules_with_errors_are_refused() -> None:
    broken = Path(__file__).parent / "cases" / "invalid" / "unknown-fields"
    with pytest.raises(RuleError) as refused:
        load_ruleset(broken)
    assert refused.value.problems
