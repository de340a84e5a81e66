"""TPS applies no decrease adjustment to a void invoice, as it applies no payment: the
emulator refuses it (422 `invoice_void`, the field `invoice_id`), and so does the file bridge,
before a row of adjustments-to-enter TPS would not take is written. What a decrease took off
the invoice before the void stays; only more is refused."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.tps.void_invoices import open_invoice, post, void
from tpsqbo_engine.connectors.tps.client import TpsClient, TpsRejected
from tpsqbo_engine.connectors.tps.filebooks import FileBooks
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer


def _decrease(invoice: dict[str, Any] | None, client: str, amount: str = "15.00") -> dict[str, Any]:
    applied = {"invoice_id": invoice["id"]} if invoice is not None else {}
    return {
        "client_id": client,
        "direction": "decrease",
        "date": "2026-11-24",
        "amount": amount,
        "description": "write-off",
        **applied,
    }


def test_a_decrease_on_a_void_invoice_is_refused_as_a_payment_on_it_is(
    tps_server: TpsEmulatorServer, tps: TpsClient
) -> None:
    invoice = open_invoice(tps_server)
    void(tps, invoice)
    voided = tps_server.firm.table("invoices")[invoice["id"]]
    before = (len(tps_server.firm.table("adjustments")), voided["version"], voided["balance"])

    refused = post(tps_server, "adjustments", _decrease(invoice, invoice["client_id"]))

    assert refused.status_code == 422
    error = refused.json()["error"]
    assert (error["code"], error["resource"], error["field"]) == (
        "invoice_void",
        "adjustments",
        "invoice_id",
    )
    assert error["message"] == (
        f"invoice {voided['doc_number']} is void: a decrease adjustment cannot be applied to it"
    )
    after = tps_server.firm.table("invoices")[invoice["id"]]
    assert (len(tps_server.firm.table("adjustments")), after["version"], after["balance"]) == before
    with pytest.raises(TpsRejected, match="is void: a decrease adjustment cannot") as client:
        tps.create("adjustments", _decrease(invoice, invoice["client_id"]), key="adj-void-1")
    assert (client.value.status, client.value.code) == (422, "invoice_void")
    # The same decrease on the client's account, on no invoice, is taken.
    taken = tps.create("adjustments", _decrease(None, invoice["client_id"]), key="adj-void-2")
    assert taken["amount"] == Decimal("15.00") and not taken.get("invoice_id")


def test_a_decrease_applied_before_the_void_stays_and_only_more_is_refused(
    tps_server: TpsEmulatorServer, tps: TpsClient
) -> None:
    invoice = open_invoice(tps_server)
    made = tps.create("adjustments", _decrease(invoice, invoice["client_id"]), key="adj-before")
    void(tps, invoice)

    edited = tps.update("adjustments", made["id"], {"description": "bad debt"}, version=1)
    assert (edited["invoice_id"], edited["amount"]) == (invoice["id"], Decimal("15.00"))
    with pytest.raises(TpsRejected, match="is void: a decrease adjustment cannot") as refused:
        tps.update("adjustments", made["id"], {"amount": "16.00"}, version=edited["version"])
    assert refused.value.code == "invoice_void"
    lowered = tps.update("adjustments", made["id"], {"amount": "5.00"}, version=edited["version"])
    assert lowered["amount"] == Decimal("5.00")


def test_a_decrease_on_an_open_invoice_still_lowers_its_balance(
    tps_server: TpsEmulatorServer, tps: TpsClient
) -> None:
    invoice = open_invoice(tps_server)
    balance = Decimal(invoice["balance"])
    tps.create("adjustments", _decrease(invoice, invoice["client_id"]), key="adj-open")
    after = tps_server.firm.table("invoices")[invoice["id"]]
    assert Decimal(after["balance"]) == balance - Decimal("15.00")


# The file bridge ----------------------------------------------------------------------------
SHEETS = {
    "clients": "Client Code,Client Name\nA1,Alder\n",
    "invoices": "Client Code,Invoice Number,Amount,Taxes,Date\n"
    "A1,AA-1,300.00,0.00,2026-10-01\nA1,AA-2,200.00,0.00,2026-10-02\n",
    "payments": "Client Code,Date,Amount,Applied To\n",
}


def _books(folder: Path, voids: str = "") -> FileBooks:
    for name, text in {**SHEETS, "voids": "Kind,Number,What\n" + voids}.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return FileBooks(folder, "Alder & Ash")


def _outbox(folder: Path) -> Path:
    return folder / "outbox" / "adjustments-to-enter.csv"


def test_on_sheets_a_decrease_on_an_invoice_voided_in_tps_is_refused_before_any_row(
    tmp_path: Path,
) -> None:
    books = _books(tmp_path, "invoice,AA-1,void\n")
    with pytest.raises(TpsRejected, match="invoice AA-1 as void: a decrease adjustment") as no:
        books.create("adjustments", _decrease({"id": "AA-1"}, "A1"), key="cm-1")
    assert (no.value.status, no.value.code) == (422, "invoice_void")
    assert not _outbox(tmp_path).exists()  # no row TPS would not take

    books.create("adjustments", _decrease({"id": "AA-2"}, "A1"), key="cm-2")
    books.create("adjustments", _decrease(None, "A1"), key="cm-3")
    assert _outbox(tmp_path).read_text().count("write-off") == 2


def test_on_sheets_a_decrease_on_an_invoice_the_sync_voided_is_refused_too(tmp_path: Path) -> None:
    books = _books(tmp_path)
    books.update(
        "invoices", "AA-1", {"status": "void"}, version=books.get("invoices", "AA-1")["version"]
    )  # written to voids-to-enter.csv, not entered yet
    with pytest.raises(TpsRejected, match="invoice AA-1 as void") as no:
        books.create("adjustments", _decrease({"id": "AA-1"}, "A1"), key="cm-1")
    assert no.value.code == "invoice_void"
    assert not _outbox(tmp_path).exists()
