"""A firm on sheets: a QBO payment written to outbox/payments-to-enter.csv, then changed in
QBO onto an invoice TPS voided meanwhile, fails with what to do (as on the TPS API), never
recorded Successful with a row TPS would not take."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.sync.sheets_firm import on_sheets
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.session import Session


def _item(session: Session, run_id: int, record: str) -> dict[str, Any]:
    (item,) = [i for i in session.state.items(run_id) if i["record"] == record]
    return item


def _two_open_invoices(session: Session, qbo: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two open QBO invoices of one customer, linked to TPS invoices."""
    invoices = qbo.company.table("Invoice")
    linked = [invoices[r["qbo_id"]] for r in session.state.links("Invoice|Invoice")]
    open_ones = [i for i in linked if i["Balance"] >= 50]
    for first in open_ones:
        same = [
            i
            for i in open_ones
            if i["CustomerRef"] == first["CustomerRef"] and i["Id"] != first["Id"]
        ]
        if same:
            return first, same[0]
    raise AssertionError("the demo firm has no customer with two open invoices")


def test_a_pending_payment_moved_in_qbo_onto_an_invoice_voided_in_tps_fails_saying_what_to_do(
    tmp_path: Path,
) -> None:
    with demo_firm(tmp_path) as (api, qbo, tps):
        folder = tmp_path / "tps-export"
        session = on_sheets(api, tps, folder)
        config = session.config
        session.backup()
        session.sync()
        voided, paid = _two_open_invoices(session, qbo)
        line = {"Amount": "50.00", "LinkedTxn": [{"TxnId": paid["Id"], "TxnType": "Invoice"}]}
        payment = qbo.company.create(
            "Payment", {"CustomerRef": paid["CustomerRef"], "TotalAmt": "50.00", "Line": [line]}
        )
        run = Session(config).sync().run_id
        assert _item(session, run, f"qbo.Payment:{payment['Id']}")["status"] == "Successful"
        outbox = folder / "outbox" / "payments-to-enter.csv"
        written = outbox.read_bytes()
        assert f"{paid['DocNumber']}=50.00".encode() in written

        # TPS voids one invoice; before that reaches QBO, the payment is moved onto it there.
        voids = folder / "voids.csv"
        head = "" if voids.exists() else "Kind,Number,What\n"
        with voids.open("a", encoding="utf-8") as sheet:
            sheet.write(f"{head}invoice,{voided['DocNumber']},void\n")
        now = qbo.company.get("Payment", payment["Id"])
        moved = {**line, "LinkedTxn": [{"TxnId": voided["Id"], "TxnType": "Invoice"}]}
        body = {"Id": now["Id"], "SyncToken": now["SyncToken"], "Line": [moved]}
        qbo.company.update("Payment", body, sparse=True)

        session = Session(config)
        run = session.sync().run_id
        item = _item(session, run, f"qbo.Payment:{payment['Id']}")
        assert (item["action"], item["status"]) == ("update", "Failed"), item["message"]
        assert f"invoice {voided['DocNumber']} as void" in item["message"]
        assert "unapply the payment from that invoice in QBO" in item["message"]
        assert outbox.read_bytes() == written  # no row TPS would not take
