"""`undo` and payments made in QBO after run N: a payment moves the paid invoice's SyncToken
(as QBO does), which is QBO's bookkeeping, not a change to what run N wrote; but an invoice
run N created that a payment now pays is listed for the firm, never deleted under it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer
from tpsqbo_engine.sync.demo import demo_firm, november_invoice
from tpsqbo_engine.sync.session import Session
from tpsqbo_engine.sync.undo import plan_undo
from tpsqbo_engine.sync.undo_apply import apply_undo


def _pay(qbo: QboEmulatorServer, invoice: dict[str, Any], value: str) -> dict[str, Any]:
    link = [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]
    return qbo.company.create(
        "Payment",
        {
            "CustomerRef": {"value": invoice["CustomerRef"]["value"]},
            "TotalAmt": value,
            "Line": [{"Amount": value, "LinkedTxn": link}],
        },
    )


def _run_creating_two_invoices(
    session: Session, tps: TpsEmulatorServer, qbo: QboEmulatorServer
) -> tuple[int, dict[str, Any], dict[str, Any]]:
    clients = sorted(tps.firm.table("clients").values(), key=lambda c: c["name"])[:2]
    numbers = [
        session.tps.create("invoices", november_invoice(c["id"]), key=f"paid-{n}")["doc_number"]
        for n, c in enumerate(clients)
    ]
    run = session.sync()
    assert run.counts["Failed"] == 0
    made = [qbo.company.find_by("Invoice", "DocNumber", n) for n in numbers]
    assert made[0] is not None and made[1] is not None
    return run.run_id, made[0], made[1]


def test_an_invoice_run_n_created_and_later_paid_in_qbo_is_listed_not_deleted(
    tmp_path: Path,
) -> None:
    with demo_firm(tmp_path) as (session, qbo, tps):
        session.backup()
        assert session.sync().counts["Failed"] == 0
        run, paid, repaid = _run_creating_two_invoices(session, tps, qbo)
        payment = _pay(qbo, paid, "100.00")
        # The other was paid and the payment deleted again: its version moved twice, but
        # nothing run N wrote changed.
        gone = _pay(qbo, repaid, "50.00")
        qbo.company.delete("Payment", {"Id": gone["Id"], "SyncToken": gone["SyncToken"]})
        for invoice, token in ((paid, "1"), (repaid, "2")):
            assert qbo.company.get("Invoice", invoice["Id"])["SyncToken"] == token

        undo = plan_undo(session, run)
        ops = {op.target: op for op in undo.plan.operations}
        listed = ops[f"qbo.Invoice:{paid['Id']}"]
        assert listed.action == "review" and listed.level == "Warning"
        assert f"Payment {payment['Id']}" in listed.message and "firm decides" in listed.message
        deleted = ops[f"qbo.Invoice:{repaid['Id']}"]
        assert deleted.action == "void" and deleted.message.startswith("delete")

        summary = apply_undo(session, undo)
        assert not summary.complete and summary.counts["Failed"] == 0
        assert qbo.company.table("Invoice").get(repaid["Id"]) is None
        kept = qbo.company.get("Invoice", paid["Id"])
        assert kept["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "Payment"}]
        statuses = {i["record"]: i["status"] for i in session.state.items(summary.run_id)}
        assert statuses[f"qbo.Invoice:{paid['Id']}"] == "Warning"

        # The firm removes the payment in QBO; the same undo then takes the invoice back.
        now = qbo.company.get("Payment", payment["Id"])
        qbo.company.delete("Payment", {"Id": now["Id"], "SyncToken": now["SyncToken"]})
        again = apply_undo(session, plan_undo(session, run))
        assert again.complete
        assert qbo.company.table("Invoice").get(paid["Id"]) is None
