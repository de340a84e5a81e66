"""TPS applies no payment to a void invoice. The emulator refuses it as it refuses an
over-application (422, a code, the field); what a payment applied before the void stays.
A QBO payment of an invoice TPS voided since, refused so, ends as a Failed item saying what
to do: one request a run, the rest of the run going on, and written once the firm has done
it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest

from tests.tps.void_invoices import open_invoice, post, void
from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.tps.client import TpsClient, TpsRejected
from tpsqbo_engine.connectors.tps.filebooks import FileBooks
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer
from tpsqbo_engine.errors import SkippableConnectorError
from tpsqbo_engine.sync.demo import demo_firm, november_invoice
from tpsqbo_engine.sync.plan import Operation
from tpsqbo_engine.sync.refusals import explained
from tpsqbo_engine.sync.session import Session


def _payment(invoice: dict[str, Any], applied: str, amount: str = "20.00") -> dict[str, Any]:
    return {
        "client_id": invoice["client_id"],
        "date": "2026-11-24",
        "amount": amount,
        "method": "Cheque",
        "reference": "chq 12",
        "applications": [{"invoice_id": invoice["id"], "amount": applied}] if applied else [],
    }


def test_a_payment_of_a_void_invoice_is_refused_as_an_over_application_is(
    tps_server: TpsEmulatorServer, tps: TpsClient
) -> None:
    invoice = open_invoice(tps_server)
    over = post(tps_server, "payments", _payment(invoice, "30.00"))  # more than the payment's 20.00
    void(tps, invoice)
    voided = tps_server.firm.table("invoices")[invoice["id"]]
    before = (len(tps_server.firm.table("payments")), voided["version"], voided["balance"])

    refused = post(tps_server, "payments", _payment(invoice, "20.00"))

    assert (over.status_code, refused.status_code) == (422, 422)
    error = refused.json()["error"]
    assert set(error) == set(over.json()["error"])  # the same shape: code, message, where
    assert (error["code"], error["resource"], error["field"]) == (
        "invoice_void",
        "payments",
        "applications",
    )
    assert (
        error["message"]
        == f"invoice {voided['doc_number']} is void: a payment cannot be applied to it"
    )
    after = tps_server.firm.table("invoices")[invoice["id"]]
    assert (len(tps_server.firm.table("payments")), after["version"], after["balance"]) == before
    with pytest.raises(TpsRejected, match=r"is void: a payment cannot be applied") as client:
        tps.create("payments", _payment(invoice, "20.00"), key="void-1")
    assert (client.value.status, client.value.code) == (422, "invoice_void")
    taken = tps.create("payments", _payment(invoice, ""), key="void-2")  # the money, unapplied
    assert taken["unapplied_amount"] == Decimal("20.00")


def test_a_payment_applied_before_the_void_can_still_be_changed_or_unapplied(
    tps_server: TpsEmulatorServer, tps: TpsClient
) -> None:
    invoice = open_invoice(tps_server)
    paid = tps.create("payments", _payment(invoice, "10.00"), key="before-void")
    void(tps, invoice)

    edited = tps.update("payments", paid["id"], {"reference": "chq 13"}, version=paid["version"])
    assert edited["applications"] == [{"invoice_id": invoice["id"], "amount": Decimal("10.00")}]
    more = [{"invoice_id": invoice["id"], "amount": "15.00"}]
    with pytest.raises(TpsRejected, match=r"is void: a payment cannot be applied") as refused:
        tps.update("payments", paid["id"], {"applications": more}, version=edited["version"])
    assert refused.value.code == "invoice_void"
    unapplied = tps.update("payments", paid["id"], {"applications": []}, version=edited["version"])
    assert unapplied["unapplied_amount"] == Decimal("20.00")


# The engine ---------------------------------------------------------------------------------
def _items(session: Session, run_id: int) -> dict[str, dict[str, Any]]:
    return {item["record"]: item for item in session.state.items(run_id)}


def test_a_qbo_payment_of_an_invoice_voided_in_tps_fails_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    posts: list[str] = []
    call = TpsClient._call

    def counted(self: TpsClient, method: str, path: str, **kwargs: Any) -> Any:
        if method == "POST" and path.endswith("/payments"):
            posts.append(path)
        return call(self, method, path, **kwargs)

    monkeypatch.setattr(TpsClient, "_call", counted)
    with demo_firm(tmp_path) as (session, qbo, tps):
        session.backup()
        assert session.sync().counts["Failed"] == 0
        client = sorted(tps.firm.table("clients").values(), key=lambda c: c["name"])[0]
        made = session.tps.create("invoices", november_invoice(client["id"]), key="void-paid")
        assert session.sync().counts["Failed"] == 0
        invoice = qbo.company.find_by("Invoice", "DocNumber", made["doc_number"])
        assert invoice is not None
        # Paid online in QBO; TPS voids the invoice before the payment reaches it.
        payment = qbo.company.create(
            "Payment",
            {
                "CustomerRef": invoice["CustomerRef"],
                "TotalAmt": "380.00",
                "Line": [
                    {
                        "Amount": "380.00",
                        "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}],
                    }
                ],
            },
        )
        version = tps.firm.table("invoices")[made["id"]]["version"]
        session.tps.update("invoices", made["id"], {"status": "void"}, version=version)
        payments = len(tps.firm.table("payments"))
        posts.clear()

        for _ in range(2):  # refused each run, once, until the firm settles it
            run = session.sync()
            item = _items(session, run.run_id)[f"qbo.Payment:{payment['Id']}"]
            assert (item["action"], item["status"]) == ("create", "Failed")
            assert item["message"].startswith(
                f"TPS refused a new payments record: invoice {made['doc_number']} is void"
            )
            assert (
                f"QBO Payment {payment['Id']} is applied to an invoice voided in TPS"
                in (item["message"])
            )
            assert "unapply the payment from that invoice in QBO" in item["message"]
            assert "the void in TPS is the mistake: correct it in TPS" in item["message"]
            assert len(posts) == 1 and len(tps.firm.table("payments")) == payments
            assert not session.state.unfinished_intents()
            posts.clear()

        # The firm does what it says: unapplied in QBO, the money reaches TPS as credit.
        now = qbo.company.get("Payment", payment["Id"])
        qbo.company.update(
            "Payment", {"Id": now["Id"], "SyncToken": now["SyncToken"], "Line": []}, sparse=True
        )
        again = session.sync()
        items = _items(session, again.run_id)
        assert items[f"qbo.Payment:{payment['Id']}"]["status"] == "Successful"
        [tps_id] = [
            link["tps_id"]
            for link in session.state.links("Payment|Payment")
            if link["qbo_id"] == payment["Id"]
        ]
        copy = tps.firm.table("payments")[tps_id]
        assert (copy["client_id"], copy["applications"]) == (client["id"], [])
        assert copy["unapplied_amount"] == "380.00"
        assert len(tps.firm.table("payments")) == payments + 1
        assert tps.firm.table("invoices")[made["id"]]["status"] == "void"


def test_explained_adds_what_to_do_to_that_refusal_only() -> None:
    op = Operation("qbo-payments", "qbo.Payment:77", "create", "tps.Payment")
    void = TpsRejected("TPS refused x: invoice 0-9 is void", status=422, code="invoice_void")
    said = explained(cast(QboClient, None), op, void)
    assert isinstance(said, SkippableConnectorError)
    assert said.message.startswith("TPS refused x: invoice 0-9 is void. QBO Payment 77 is")
    over = TpsRejected("TPS refused x: too much", status=422, code="over_applied")
    assert explained(cast(QboClient, None), op, over) is over


# A firm on sheets --------------------------------------------------------------------------
def test_a_payment_of_a_void_invoice_is_not_written_to_the_outbox(tmp_path: Path) -> None:
    sheets = {
        "clients": "Client Code,Client Name\nA1,Alder\n",
        "invoices": "Client Code,Invoice Number,Amount,Taxes,Date\n"
        "A1,AA-1,300.00,0.00,2026-10-01\nA1,AA-2,200.00,0.00,2026-10-02\n",
        "payments": "Client Code,Date,Amount,Applied To\n",
        "voids": "Kind,Number,What\ninvoice,AA-1,void\n",
    }
    for name, text in sheets.items():
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
    books = FileBooks(tmp_path, "Alder & Ash")
    paid = {"client_id": "A1", "date": "2026-11-24", "amount": "50.00", "reference": "chq 7"}

    with pytest.raises(TpsRejected, match=r"invoice AA-1 as void: a payment cannot") as refused:
        books.create(
            "payments",
            {**paid, "applications": [{"invoice_id": "AA-1", "amount": "50.00"}]},
            key="qbo-payments:qbo.Payment:5:create",
        )
    assert refused.value.code == "invoice_void"
    assert not (tmp_path / "outbox" / "payments-to-enter.csv").exists()
    books.create(
        "payments",
        {**paid, "applications": [{"invoice_id": "AA-2", "amount": "50.00"}]},
        key="qbo-payments:qbo.Payment:6:create",
    )
    rows = (tmp_path / "outbox" / "payments-to-enter.csv").read_text().splitlines()
    assert len(rows) == 2 and "AA-2=50.00" in rows[1]
