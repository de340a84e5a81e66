"""A QBO payment of an invoice and a finance charge together lands in TPS: the invoice part
applied to the TPS invoice, the finance charge's part unapplied on the TPS payment (TPS applies
payments to invoices only), with a Warning naming the charge, the amount and what to do in
TPS (a payment of an increase adjustment's QBO invoice likewise); the next sync writes
nothing for them and reconcile finds no difference."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tpsqbo_engine import expr
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer
from tpsqbo_engine.expr import ExpressionError
from tpsqbo_engine.resources import rules_dir
from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.ruleset.shapes import entity_catalog
from tpsqbo_engine.ruleset.typecheck import Scope as CheckScope
from tpsqbo_engine.ruleset.typecheck import check_value
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.links import Links
from tpsqbo_engine.sync.plan import Operation
from tpsqbo_engine.sync.plan_input import LinkRow, PlanInput
from tpsqbo_engine.sync.planner import Planner
from tpsqbo_engine.sync.runtime import Resolver, context
from tpsqbo_engine.sync.session import Session
from tpsqbo_engine.sync.snapshot import Snapshot


@dataclass
class Paid:
    session: Session
    tps: TpsEmulatorServer
    payment: dict[str, Any]  # the QBO payment
    charge_id: str  # the TPS finance charge it paid
    charge_amount: Decimal
    invoice_id: str  # the TPS invoice it paid
    invoice_amount: Decimal
    client_id: str
    run_id: int
    increase: tuple[dict[str, Any], str, Decimal]  # a payment of an increase only: it, its id

    def item(self, run_id: int, payment: dict[str, Any] | None = None) -> dict[str, Any]:
        (item,) = [
            i
            for i in self.session.state.items(run_id)
            if i["record"] == f"qbo.Payment:{(payment or self.payment)['Id']}"
        ]
        return item

    def tps_payment(self, payment: dict[str, Any] | None = None) -> dict[str, Any]:
        (link,) = [
            row
            for row in self.session.state.links("Payment|Payment")
            if row["qbo_id"] == (payment or self.payment)["Id"]
        ]
        return dict(self.tps.firm.table("payments")[link["tps_id"]])


def _tps_id(session: Session, pair: str, qbo_id: str) -> str:
    (tps_id,) = [r["tps_id"] for r in session.state.links(pair) if r["qbo_id"] == qbo_id]
    return str(tps_id)


def _open(session: Session, invoices: dict[str, Any], pair: str) -> Iterator[dict[str, Any]]:
    """The QBO invoices of the pair's links that are still open."""
    return (
        invoices[link["qbo_id"]]
        for link in session.state.links(pair)
        if invoices[link["qbo_id"]]["Balance"] > 0
    )


def _pay(qbo: QboEmulatorServer, *docs: dict[str, Any]) -> dict[str, Any]:
    """A QBO payment of these QBO invoices of one customer, each in full."""
    company = qbo.company
    bank = next(a for a in company.table("Account").values() if a["AccountType"] == "Bank")
    return company.create(
        "Payment",
        {
            "CustomerRef": {"value": docs[0]["CustomerRef"]["value"]},
            "TotalAmt": sum(doc["Balance"] for doc in docs),
            "DepositToAccountRef": {"value": bank["Id"]},
            "Line": [
                {
                    "Amount": doc["Balance"],
                    "LinkedTxn": [{"TxnId": doc["Id"], "TxnType": "Invoice"}],
                }
                for doc in docs
            ],
        },
    )


@pytest.fixture(scope="module")
def paid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Paid]:
    """The demo firm synced, then paid in QBO: one payment of a synced invoice with a balance
    and the same customer's finance charge, each in full, and one of an increase alone; then
    synced again."""
    workdir: Path = tmp_path_factory.mktemp("firm")
    with demo_firm(workdir) as (session, qbo, tps):
        session.backup()
        session.sync()
        invoices = qbo.company.table("Invoice")
        charge = next(_open(session, invoices, "FinanceCharge|Invoice"))
        customer = charge["CustomerRef"]["value"]
        invoice = next(
            i
            for i in _open(session, invoices, "Invoice|Invoice")
            if i["CustomerRef"]["value"] == customer
        )
        increase = next(_open(session, invoices, "Adjustment|Invoice"))
        # the emulator's own records: read before the payments change their balances
        amounts = [Decimal(doc["Balance"]) for doc in (charge, invoice, increase)]
        payment, increase_payment = _pay(qbo, invoice, charge), _pay(qbo, increase)
        summary = session.sync()
        yield Paid(
            session,
            tps,
            payment,
            _tps_id(session, "FinanceCharge|Invoice", charge["Id"]),
            amounts[0],
            _tps_id(session, "Invoice|Invoice", invoice["Id"]),
            amounts[1],
            _tps_id(session, "Client|Customer", customer),
            summary.run_id,
            (
                increase_payment,
                _tps_id(session, "Adjustment|Invoice", increase["Id"]),
                amounts[2],
            ),
        )


def test_the_invoice_part_is_applied_and_the_charge_part_left_unapplied(paid: Paid) -> None:
    written = paid.tps_payment()
    assert written["client_id"] == paid.client_id
    assert written["applications"] == [
        {"invoice_id": paid.invoice_id, "amount": f"{paid.invoice_amount:.2f}"}
    ]
    assert Decimal(written["amount"]) == paid.invoice_amount + paid.charge_amount
    assert Decimal(written["unapplied_amount"]) == paid.charge_amount
    invoice = paid.tps.firm.table("invoices")[paid.invoice_id]
    assert (invoice["balance"], invoice["status"]) == ("0.00", "paid")


def test_the_run_warns_naming_the_charge_the_amount_and_what_to_do(paid: Paid) -> None:
    item = paid.item(paid.run_id)
    assert (item["status"], item["action"]) == ("Warning", "create")
    message = item["message"]
    assert f"tps.FinanceCharge:{paid.charge_id}" in message
    assert f"{paid.charge_amount:.2f} paid tps.FinanceCharge:{paid.charge_id}" in message
    assert "left unapplied on the TPS payment" in message
    assert f"attach the unapplied amount to finance charge {paid.charge_id}" in message
    assert "Payment → Detach/Attach" in message


def test_a_payment_of_an_increase_alone_is_wholly_unapplied_and_says_so(paid: Paid) -> None:
    payment, increase_id, amount = paid.increase
    written = paid.tps_payment(payment)
    assert written["applications"] == []
    assert Decimal(written["amount"]) == Decimal(written["unapplied_amount"]) == amount
    item = paid.item(paid.run_id, payment)
    assert item["status"] == "Warning"
    assert f"{amount:.2f} paid tps.Adjustment:{increase_id}" in item["message"]
    assert f"attach the unapplied amount to adjustment {increase_id}" in item["message"]


def test_the_next_sync_writes_nothing_for_it_and_says_nothing(paid: Paid) -> None:
    before = paid.tps_payment()
    plan, _ = paid.session.plan()
    payments = {f"qbo.Payment:{paid.payment['Id']}", f"qbo.Payment:{paid.increase[0]['Id']}"}
    mine = [op for op in plan.operations if op.record in payments]
    assert mine == [] and plan.writes() == []
    summary = paid.session.sync()
    assert not [i for i in paid.session.state.items(summary.run_id) if i["record"] in payments]
    assert paid.tps_payment()["version"] == before["version"]


def test_reconcile_finds_no_difference_for_the_client(paid: Paid) -> None:
    code = paid.tps.firm.table("clients")[paid.client_id]["code"]
    rows = paid.session.reconcile()
    (row,) = [r for r in rows if r.client == code]
    # TPS: the charge is still open and the payment's unapplied part is the client's credit;
    # QBO: both invoices are paid. The nets agree.
    assert row.difference == 0 and row.tps == row.qbo
    assert row.tps_credits >= paid.charge_amount
    assert [r.client for r in rows if r.difference] == []  # nor for any other client


# The planner alone, on records as both systems give them -------------------------------------
LINKS = {
    "Client|Customer": [LinkRow("c-1", "1", mapping="clients")],
    "Invoice|Invoice": [LinkRow("i-1", "10", mapping="invoices")],
    "FinanceCharge|Invoice": [LinkRow("fc-1", "11", mapping="finance-charges")],
    "Adjustment|Invoice": [LinkRow("adj-1", "13", mapping="adjustment-increases")],
}


def _payment_op(*paid: tuple[str, str], unapplied: str = "0.00") -> Operation:
    """The plan's operation for a QBO payment of these (QBO invoice id, amount), with
    `unapplied` of it applied to nothing in QBO."""
    total = sum((Decimal(amount) for _, amount in paid), Decimal(unapplied))
    payment = {
        "Id": "50",
        "SyncToken": "0",
        "CustomerRef": {"value": "1"},
        "TxnDate": "2026-11-20",
        "TotalAmt": total,
        "UnappliedAmt": Decimal(unapplied),
        "Line": [
            {"Amount": Decimal(a), "LinkedTxn": [{"TxnId": i, "TxnType": "Invoice"}]}
            for i, a in paid
        ],
    }
    snapshot = Snapshot(
        tps={"Client": {"c-1": {"id": "c-1", "code": "OAK01", "name": "Oak", "active": True}}},
        qbo={"Payment": {"50": payment}},
    )
    rules = load_ruleset(rules_dir())
    plan = Planner(PlanInput(rules, snapshot, LINKS, phase="ongoing")).plan()
    (op,) = [op for op in plan.operations if op.record == "qbo.Payment:50"]
    if op.writes:  # what TPS computes itself, so that the next run finds nothing to change
        applied = sum((a["amount"] for a in op.body["applications"]), Decimal(0))
        assert op.body["unapplied_amount"] == op.body["amount"] - applied
    return op


def test_a_line_paying_an_invoice_no_mapping_links_still_fails() -> None:
    op = _payment_op(("10", "100.00"), ("11", "8.48"), ("12", "50.00"))
    assert (op.action, op.level) == ("fail", "Failed")
    assert "qbo.Invoice 12 has no partner in tps.Invoice" in op.message


def test_a_payment_of_charges_only_is_wholly_unapplied_and_names_each() -> None:
    op = _payment_op(("11", "8.48"), ("13", "25.00"))
    assert (op.action, op.level) == ("create", "Warning")
    assert op.body["applications"] == []
    assert (op.body["amount"], op.body["unapplied_amount"]) == (Decimal("33.48"), Decimal("33.48"))
    assert "33.48 of this payment is left unapplied" in op.message
    assert "8.48 paid tps.FinanceCharge:fc-1" in op.message
    assert "25.00 paid tps.Adjustment:adj-1" in op.message
    assert "to finance charge fc-1, adjustment adj-1 with Payment → Detach/Attach" in op.message


def test_a_payment_of_invoices_only_is_written_as_before() -> None:
    op = _payment_op(("10", "100.00"))
    assert (op.action, op.level, op.message) == ("create", "", "")
    assert op.body["applications"] == [{"invoice_id": "i-1", "amount": Decimal("100.00")}]
    assert op.body["unapplied_amount"] == Decimal("0.00")


def test_what_qbo_left_unapplied_stays_so_beside_the_charge_part() -> None:
    op = _payment_op(("10", "100.00"), ("11", "8.48"), unapplied="41.52")
    assert (op.action, op.level) == ("create", "Warning")
    assert op.body["applications"] == [{"invoice_id": "i-1", "amount": Decimal("100.00")}]
    assert op.body["unapplied_amount"] == Decimal("50.00")
    assert op.message.startswith("8.48 of this payment is left unapplied on the TPS payment")


# The two rule functions ---------------------------------------------------------------------
def _resolver() -> Resolver:
    links = Links()
    for pair, rows in LINKS.items():
        for row in rows:
            links.add(pair, row.tps_id, row.qbo_id)
    return Resolver(load_ruleset(rules_dir()), Snapshot(), links)


def _line(txn: str, kind: str = "Invoice") -> dict[str, Any]:
    return {"Amount": Decimal("1.00"), "LinkedTxn": [{"TxnId": txn, "TxnType": kind}]}


def test_the_functions_split_a_payments_lines_between_invoices_and_the_rest() -> None:
    lines = [
        _line("10"),
        _line("11"),
        _line("13"),
        _line("12"),  # no mapping's: applied, so that its rule fails for it
        _line("11", "CreditMemo"),  # not the finance charge's invoice: another entity
        {"Amount": Decimal("5.00")},  # links nothing: in neither
    ]
    scope = context("qbo.Payment", {"Line": lines}, _resolver())
    to_apply = expr.compile_value("{{ lines_to_apply(Line) }}", "t:1").evaluate(scope)
    left = expr.compile_value("{{ lines_left_unapplied(Line) }}", "t:2").evaluate(scope)
    assert _paid(to_apply) == [("10", "Invoice"), ("12", "Invoice"), ("11", "CreditMemo")]
    assert _paid(left) == [("11", "Invoice"), ("13", "Invoice")]


def _paid(lines: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(line["LinkedTxn"][0]["TxnId"], line["LinkedTxn"][0]["TxnType"]) for line in lines]


def test_the_functions_refuse_what_is_not_a_payments_lines() -> None:
    scope = context("qbo.Payment", {"Line": "10"}, _resolver())
    with pytest.raises(ExpressionError, match="expected a QBO payment's lines"):
        expr.compile_value("{{ lines_to_apply(Line) }}", "t:1").evaluate(scope)
    scope = context("qbo.Payment", {"Line": None}, _resolver())
    assert expr.compile_value("{{ lines_left_unapplied(Line) }}", "t:1").evaluate(scope) == []


def test_validate_knows_their_arity() -> None:
    catalog = entity_catalog()
    scope = CheckScope(catalog, dict(catalog.shapes["qbo.Payment"].properties()), "qbo")
    for source in ("{{ lines_to_apply() }}", "{{ lines_left_unapplied(Line, 'x') }}"):
        assert "expr.bad-call" in [f.code for f in check_value(source, scope).findings]
    assert check_value("{{ lines_to_apply(Line) }}", scope).findings == ()
