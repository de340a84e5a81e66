"""The awkward firm through TPS sheets reaches the same QBO books as through the TPS API."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tpsqbo_engine.connectors.tps.filebooks import FileBooks
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer
from tpsqbo_engine.emulators.tps.export import export_sheets
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer
from tpsqbo_engine.sync.awkward import Books, build_books
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.session import Session

Side = tuple[Session, QboEmulatorServer, TpsEmulatorServer, Books]


def _books(qbo: QboEmulatorServer) -> dict[str, Any]:
    """What the firm's accountant sees in QBO, by names and numbers, not by ids."""
    company = qbo.company
    names = {c["Id"]: c["DisplayName"] for c in company.table("Customer").values()}
    items = {i["Id"]: i["Name"] for i in company.table("Item").values()}
    invoices = {i["Id"]: i.get("DocNumber") or i["Id"] for i in company.table("Invoice").values()}

    def lines(txn: dict[str, Any]) -> list[tuple[str, Decimal]]:
        return sorted(
            (items[line["SalesItemLineDetail"]["ItemRef"]["value"]], Decimal(line["Amount"]))
            for line in txn["Line"]
            if line.get("DetailType") == "SalesItemLineDetail"
        )

    def described(txn: dict[str, Any]) -> tuple[Any, ...]:
        return (
            names[txn["CustomerRef"]["value"]],
            str(txn.get("TxnDate")),
            Decimal(txn["TotalAmt"]),
            Decimal(txn.get("Balance") or 0),
            tuple(lines(txn)),
            txn.get("TxnStatus", ""),
        )

    return {
        "customers": sorted(
            (
                c["DisplayName"],
                c.get("CompanyName"),
                (c.get("PrimaryEmailAddr") or {}).get("Address"),
                c.get("Active"),
                Decimal(c.get("Balance") or 0),
            )
            for c in company.table("Customer").values()
        ),
        "invoices": sorted(
            (str(i.get("DocNumber") or "(none)"), described(i))
            for i in company.table("Invoice").values()
        ),
        "credit memos": sorted(described(m) for m in company.table("CreditMemo").values()),
        "payments": sorted(
            (
                names[p["CustomerRef"]["value"]],
                str(p.get("TxnDate")),
                Decimal(p["TotalAmt"]),
                Decimal(p.get("UnappliedAmt") or 0),
                tuple(
                    sorted(
                        (invoices.get(t["TxnId"], t["TxnType"]), Decimal(line["Amount"]))
                        for line in p.get("Line") or []
                        for t in line.get("LinkedTxn") or []
                    )
                ),
            )
            for p in company.table("Payment").values()
        ),
    }


@pytest.fixture
def both(tmp_path: Path) -> Iterator[tuple[Side, Side, Path]]:
    with ExitStack() as stack:
        sides = []
        for name in ("api", "sheets"):
            session, qbo, tps = stack.enter_context(
                demo_firm(tmp_path / name, qbo_seed="starter", tps_seed="empty")
            )
            books = build_books(session.tps, session.qbo)
            for record, reason in books.ignored.items():
                session.state.ignore(record, reason)
            sides.append((session, qbo, tps, books))
        folder = tmp_path / "sheets" / "tps-export"
        export_sheets(sides[1][2].firm, folder)
        http = sides[1][0]
        files = dataclasses.replace(
            http.config,
            tps=dataclasses.replace(http.config.tps, connection="files", folder=folder),
        )
        on_sheets = Session(files)
        assert isinstance(on_sheets.tps, FileBooks)
        yield sides[0], (on_sheets, *sides[1][1:]), folder  # type: ignore[misc]


def _sync(session: Session) -> None:
    if session.state.latest_backup() is None:
        session.backup()
    assert session.sync().counts["Failed"] == 0


def test_the_same_books_in_qbo_through_sheets_as_through_the_api(
    both: tuple[Side, Side, Path],
) -> None:
    (api, api_qbo, api_tps, books), (sheets, sheets_qbo, sheets_tps, _), folder = both
    _sync(api)
    _sync(sheets)
    first = _books(api_qbo)
    assert len(first["invoices"]) > 60 and len(first["payments"]) > 15
    assert _books(sheets_qbo) == first
    # A week in TPS, the same on both: a void, a write-off on an invoice, a payment voided.
    for tps in (api_tps, sheets_tps):
        firm = tps.firm
        pine = firm.get("invoices", books.invoices["PIN01"][-1]["id"])
        firm.update(
            "invoices", pine["id"], {"status": "void", "version": pine["version"]}, partial=True
        )
        nutmeg = books.invoices["NUT01"][-1]["id"]
        firm.create(
            "adjustments",
            {
                "client_id": books.clients["NUT01"]["id"],
                "direction": "decrease",
                "date": "2026-11-20",
                "amount": "55.00",
                "description": "Write-off",
                "invoice_id": nutmeg,
            },
        )
        paid = next(
            p
            for p in firm.table("payments").values()
            if p["client_id"] == books.clients["VIN01"]["id"]
        )
        firm.update(
            "payments", paid["id"], {"status": "void", "version": paid["version"]}, partial=True
        )
    export_sheets(sheets_tps.firm, folder)
    sheets = Session(sheets.config)  # the next night's run reads the new export
    _sync(api)
    _sync(sheets)
    second = _books(api_qbo)
    assert second != first
    assert any(m[2] == Decimal("55.00") for m in second["credit memos"])
    assert _books(sheets_qbo) == second
    assert sheets.plan()[0].writes() == []
    outbox = sorted(p.name for p in (folder / "outbox").iterdir())
    assert "import-invoices.csv" in outbox  # Q-3001, made in QBO, for TPS to enter
