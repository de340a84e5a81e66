"""A firm that stops syncing finance charges (`disable: [finance-charges]`) still has the
charges synced before in QBO, and customers still pay them. A QBO payment of an invoice and
such a charge reaches TPS as under the standard pack: the invoice part applied, the charge's
part left unapplied with a Warning naming the charge, never a failure telling the firm to
pin the charge's QBO invoice to some TPS invoice (which would apply its money to one)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.sync.test_finance_charge_payment import _open, _pay, _tps_id
from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.links import Links
from tpsqbo_engine.sync.plan import Operation
from tpsqbo_engine.sync.plan_input import LinkRow, PlanInput
from tpsqbo_engine.sync.planner import Planner
from tpsqbo_engine.sync.referenced import links_of
from tpsqbo_engine.sync.runtime import Resolver
from tpsqbo_engine.sync.session import Session
from tpsqbo_engine.sync.snapshot import Snapshot

NO_CHARGES = """\
kind: pack
id: no-finance-charges
version: 1.0.0
description: The standard rules, without syncing finance charges from now on.
extends: [tps-qbo-standard]
disable: [finance-charges]
"""


def _pack(folder: Path) -> Path:
    folder.mkdir()
    (folder / "pack.yaml").write_text(NO_CHARGES, encoding="utf-8")
    return folder


def _item(session: Session, run_id: int, payment: dict[str, Any]) -> dict[str, Any]:
    (item,) = [
        i for i in session.state.items(run_id) if i["record"] == f"qbo.Payment:{payment['Id']}"
    ]
    return item


def test_a_payment_of_a_charge_synced_before_its_mapping_was_disabled_is_written(
    tmp_path: Path,
) -> None:
    with demo_firm(tmp_path / "firm") as (session, qbo, tps):
        session.backup()
        session.sync()  # the standard pack: the finance charges are in QBO
        session.rules = load_ruleset(_pack(tmp_path / "pack"))
        assert "finance-charges" not in {m.id for m in session.rules.mappings}
        invoices = qbo.company.table("Invoice")
        charge = next(_open(session, invoices, "FinanceCharge|Invoice"))
        customer = charge["CustomerRef"]["value"]
        invoice = next(
            i
            for i in _open(session, invoices, "Invoice|Invoice")
            if i["CustomerRef"]["value"] == customer
        )
        owed = Decimal(invoice["Balance"]), Decimal(charge["Balance"])
        payment = _pay(qbo, invoice, charge)
        charge_id = _tps_id(session, "FinanceCharge|Invoice", charge["Id"])
        # What the planner is given: the links the disabled mapping left, with the others.
        found = links_of(session.rules, session.state, {charge["Id"]})
        assert [r.tps_id for r in found["FinanceCharge|Invoice"]] == [charge_id]

        run = session.sync()  # an ongoing run: what changed, and the links it names
        item = _item(session, run.run_id, payment)
        assert (item["action"], item["status"]) == ("create", "Warning"), item["message"]
        assert f"{owed[1]:.2f} paid tps.FinanceCharge:{charge_id}" in item["message"]
        assert "mapping finance-charges (disabled))" in item["message"]
        assert f"attach the unapplied amount to finance charge {charge_id}" in item["message"]
        assert "pin the record" not in item["message"] and "no partner" not in item["message"]
        (link,) = [
            r for r in session.state.links("Payment|Payment") if r["qbo_id"] == payment["Id"]
        ]
        written = tps.firm.table("payments")[link["tps_id"]]
        applied = _tps_id(session, "Invoice|Invoice", invoice["Id"])
        assert written["applications"] == [{"invoice_id": applied, "amount": f"{owed[0]:.2f}"}]
        assert Decimal(written["unapplied_amount"]) == owed[1]
        assert session.sync().counts["Failed"] == 0  # and nothing fails for it after


def test_a_rule_applying_a_disabled_charges_invoice_says_whose_copy_it_is(tmp_path: Path) -> None:
    """A pack's own payments rule asking for the charge's QBO invoice as a TPS invoice is
    told it is the charge's copy, not "sync first, or pin the record"."""
    rules = load_ruleset(_pack(tmp_path / "pack"))
    links = Links()
    links.add("FinanceCharge|Invoice", "fc-1", "11")
    resolver = Resolver(rules, Snapshot(), links)
    payments = next(m for m in rules.mappings if m.id == "qbo-payments")
    invoices = next(m for m in rules.mappings if m.id == "invoices")
    assert resolver._linked_elsewhere(invoices, "11") == (
        "finance-charges",
        "tps.FinanceCharge:fc-1",
    )
    assert resolver._linked_elsewhere(payments, "11") is None  # not a QBO target


def test_the_planner_leaves_the_charges_part_unapplied_under_the_disabling_pack(
    tmp_path: Path,
) -> None:
    rules = load_ruleset(_pack(tmp_path / "pack"))
    links = {
        "Client|Customer": [LinkRow("c-1", "1", mapping="clients")],
        "Invoice|Invoice": [LinkRow("i-1", "10", mapping="invoices")],
        "FinanceCharge|Invoice": [LinkRow("fc-1", "11", mapping="finance-charges")],
    }
    lines = [
        {"Amount": Decimal(amount), "LinkedTxn": [{"TxnId": txn, "TxnType": "Invoice"}]}
        for amount, txn in (("100.00", "10"), ("8.48", "11"))
    ]
    payment = {
        "Id": "50",
        "SyncToken": "0",
        "CustomerRef": {"value": "1"},
        "TxnDate": "2026-11-20",
        "TotalAmt": Decimal("108.48"),
        "UnappliedAmt": Decimal("0"),
        "Line": lines,
    }
    client = {"id": "c-1", "code": "OAK01", "name": "Oak", "active": True}
    snapshot = Snapshot(tps={"Client": {"c-1": client}}, qbo={"Payment": {"50": payment}})
    plan = Planner(PlanInput(rules, snapshot, links, phase="ongoing")).plan()
    (op,) = [op for op in plan.operations if op.record == "qbo.Payment:50"]
    assert isinstance(op, Operation)
    assert (op.action, op.level) == ("create", "Warning"), op.message
    assert "8.48 paid tps.FinanceCharge:fc-1" in op.message
    assert op.body["applications"] == [{"invoice_id": "i-1", "amount": Decimal("100.00")}]
