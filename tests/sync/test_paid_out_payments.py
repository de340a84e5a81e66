"""A TPS payment that paid only invoices the initial sync leaves out (paid history) stays out
with them, whatever its own fields say; one with an open part or an unapplied rest goes
across with that part."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tpsqbo_engine.resources import rules_dir
from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.sync.plan import Operation
from tpsqbo_engine.sync.plan_input import PlanInput
from tpsqbo_engine.sync.planner import Planner
from tpsqbo_engine.sync.snapshot import Snapshot

CLIENT = {"id": "c-1", "code": "OAK01", "name": "Oak Street Dental", "email": "ap@oak.example"}


def _invoice(ident: str, balance: str) -> dict[str, Any]:
    return {
        "id": ident,
        "client_id": "c-1",
        "doc_number": f"INV-{ident}",
        "date": "2023-03-01",
        "due_date": "2023-03-31",
        "status": "outstanding" if balance != "0.00" else "paid",
        "total": "500.00",
        "balance": balance,
        "tax_total": "0.00",
        "lines": [],
    }


def _payment(amount: str, *paid: tuple[str, str]) -> dict[str, Any]:
    return {
        "id": "p-1",
        "client_id": "c-1",
        "date": "2023-03-20",
        "amount": amount,
        "reference": "CHK 1001",
        "bank_account": "Operating",
        "source": "tps",
        "status": "active",
        "applications": [{"invoice_id": i, "amount": a} for i, a in paid],
    }


def _payment_op(
    payment: dict[str, Any], *invoices: dict[str, Any], accounts: tuple[str, ...] = ()
) -> Operation:
    """The payment's operation; QBO holds only `accounts` (none: the deposit account the
    payment's fields name is missing, and evaluating them fails)."""
    snapshot = Snapshot(
        tps={
            "Client": {"c-1": dict(CLIENT)},
            "Invoice": {i["id"]: i for i in invoices},
            "Payment": {"p-1": payment},
        },
        qbo={"Account": {str(n): {"Id": str(n), "Name": a} for n, a in enumerate(accounts)}},
    )
    plan = Planner(PlanInput(load_ruleset(rules_dir()), snapshot, {}, phase="initial")).plan()
    (op,) = [op for op in plan.operations if op.record == "tps.Payment:p-1"]
    return op


def test_a_payment_of_paid_invoices_only_stays_out_with_them() -> None:
    paid = [_invoice("i-1", "0.00"), _invoice("i-2", "0.00")]
    op = _payment_op(_payment("700.00", ("i-1", "500.00"), ("i-2", "200.00")), *paid)
    assert (op.action, op.level) == ("exclude", "Excluded")
    assert op.message.startswith("refers to tps.Invoice:i-1, which is left out: Fully paid")


def test_its_unapplied_rest_still_goes_across_and_its_fields_are_evaluated() -> None:
    op = _payment_op(_payment("600.00", ("i-1", "500.00")), _invoice("i-1", "0.00"))
    assert (op.action, op.level) == ("fail", "Failed")  # the rest, 100.00, is A/R to carry
    assert "QBO has no Account named 'Chequing'" in op.message


def test_one_with_an_open_invoice_goes_across_with_its_open_part() -> None:
    invoices = [_invoice("i-1", "0.00"), _invoice("i-2", "200.00")]
    payment = _payment("300.00", ("i-1", "100.00"), ("i-2", "200.00"))
    op = _payment_op(payment, *invoices, accounts=("Chequing",))
    assert op.action == "create", op.message
    assert op.body["TotalAmt"] == Decimal("200.00")
    assert [line["Amount"] for line in op.body["Line"]] == [Decimal("200.00")]


def test_an_amount_that_is_not_one_fails_that_payment_not_the_plan() -> None:
    op = _payment_op(_payment("n/a", ("i-1", "500.00")), _invoice("i-1", "0.00"))
    assert (op.action, op.level) == ("fail", "Failed")
    assert "the payment's amount: expected an amount" in op.message
    paid = _payment("500.00", ("i-1", "five hundred"))
    op = _payment_op(paid, _invoice("i-1", "0.00"))
    assert "an application's amount: expected an amount" in op.message
