"""A firm on sheets: a QBO payment not yet entered in TPS, changed in QBO onto an invoice
TPS's sheets hold as void, is refused as its create would be (`invoice_void`), and its row
of outbox/payments-to-enter.csv stays as it was. What it applied to the invoice before the
void stays, as TPS keeps it: only more is refused."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tpsqbo_engine.connectors.tps.client import TpsRejected
from tpsqbo_engine.connectors.tps.filebooks import FileBooks

SHEETS = {
    "clients": "Client Code,Client Name\nA1,Alder\n",
    "invoices": "Client Code,Invoice Number,Amount,Taxes,Date\n"
    "A1,AA-1,300.00,0.00,2026-10-01\nA1,AA-2,200.00,0.00,2026-10-02\n",
    "payments": "Client Code,Date,Amount,Applied To\n",
}
PAID = {"client_id": "A1", "date": "2026-11-24", "amount": "50.00", "reference": "chq 7"}


def _books(folder: Path, void: bool) -> FileBooks:
    voids = "Kind,Number,What\n" + ("invoice,AA-1,void\n" if void else "")
    for name, text in {**SHEETS, "voids": voids}.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return FileBooks(folder, "Alder & Ash")


def _applied(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"invoice_id": invoice, "amount": amount} for invoice, amount in pairs]


def _outbox(folder: Path) -> bytes:
    return (folder / "outbox" / "payments-to-enter.csv").read_bytes()


def test_a_pending_payment_changed_onto_a_void_invoice_is_refused_and_its_row_kept(
    tmp_path: Path,
) -> None:
    books = _books(tmp_path, void=True)
    made = books.create(
        "payments",
        {**PAID, "applications": _applied(("AA-2", "50.00"))},
        key="qbo-payments:qbo.Payment:6:create",
    )
    written = _outbox(tmp_path)
    assert b"AA-2=50.00" in written

    for applications in (
        _applied(("AA-1", "50.00")),
        _applied(("AA-2", "30.00"), ("AA-1", "20.00")),
    ):
        with pytest.raises(TpsRejected, match=r"invoice AA-1 as void: a payment cannot") as no:
            books.update(
                "payments", made["id"], {"applications": applications}, version=made["version"]
            )
        assert (no.value.status, no.value.code) == (422, "invoice_void")
        assert _outbox(tmp_path) == written  # no row TPS would not take
    # A change that puts nothing on the void invoice still goes through.
    kept = books.update("payments", made["id"], {"reference": "chq 8"}, version=made["version"])
    assert kept["applications"] == made["applications"] and b"chq 8" in _outbox(tmp_path)


def test_what_a_pending_payment_applied_before_the_void_stays_and_only_more_is_refused(
    tmp_path: Path,
) -> None:
    made = _books(tmp_path, void=False).create(
        "payments",
        {**PAID, "applications": _applied(("AA-1", "40.00"))},
        key="qbo-payments:qbo.Payment:7:create",
    )
    books = _books(tmp_path, void=True)  # TPS voids AA-1 before the row is entered
    current = books.get("payments", made["id"])

    edited = books.update(
        "payments", made["id"], {"reference": "chq 9"}, version=current["version"]
    )
    assert b"AA-1=40.00" in _outbox(tmp_path) and b"chq 9" in _outbox(tmp_path)
    current = books.get("payments", made["id"])
    with pytest.raises(TpsRejected, match=r"invoice AA-1 as void") as more:
        books.update(
            "payments",
            made["id"],
            {"applications": _applied(("AA-1", "45.00"))},
            version=current["version"],
        )
    assert more.value.code == "invoice_void"
    less = books.update(
        "payments",
        made["id"],
        {"applications": _applied(("AA-1", "25.00"))},
        version=current["version"],
    )
    assert less["applications"] == [{"invoice_id": "AA-1", "amount": Decimal("25.00")}]
    assert edited["applications"] == [{"invoice_id": "AA-1", "amount": Decimal("40.00")}]
    assert b"AA-1=25.00" in _outbox(tmp_path)
