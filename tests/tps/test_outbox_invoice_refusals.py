"""An invoice create the file bridge's import would take as another's, or that would stop
every later read of the outbox, is refused before a row is written."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tpsqbo_engine.connectors.tps.client import TpsRejected
from tpsqbo_engine.connectors.tps.filebooks import FileBooks


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "clients.csv").write_text(
        "Client Code,Client Name,Email,Phone\nA1,Alder,a@x.example,1\nB2,Birch,b@x.example,2\n"
    )
    (tmp_path / "invoices.csv").write_text(
        "Client Code,Invoice Number,Amount,Taxes,Date,Description\n"
        "A1,AA-1,300.00,0.00,2026-10-01,Review\n"
    )
    return tmp_path


def _invoice(number: str, client: str, total: str) -> dict[str, object]:
    return {
        "doc_number": number,
        "date": "2026-11-01",
        "client_id": client,
        "type": "quick",
        "description": f"for {client}",
        "tax_total": "0.00",
        "total": total,
        "lines": [],
    }


def _outbox(folder: Path) -> list[tuple[str, str, str]]:
    with (folder / "outbox" / "import-invoices.csv").open(encoding="utf-8-sig") as handle:
        return [
            (r["Client Code"], r["Invoice Number"], r["Amount"]) for r in csv.DictReader(handle)
        ]


def test_a_second_invoice_of_one_number_is_refused_and_the_first_row_kept(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path)
    books = FileBooks(folder, "Firm")
    books.create("invoices", _invoice("1050", "A1", "500.00"), key="inv:qbo.Invoice:145:create@1")
    with pytest.raises(TpsRejected) as refused:
        books.create("invoices", _invoice("1050", "B2", "80.00"), key="inv:qbo.Invoice:146:c@2")
    assert "qbo.Invoice:145" in str(refused.value) and "qbo.Invoice:146" in str(refused.value)
    # The next run (a fresh read, the first's row waiting) refuses it too.
    with pytest.raises(TpsRejected, match="already waits to be imported"):
        FileBooks(folder, "Firm").create(
            "invoices", _invoice("1050", "B2", "80.00"), key="inv:qbo.Invoice:146:c@3"
        )
    assert _outbox(folder) == [("A1", "1050", "500.00")]
    assert FileBooks(folder, "Firm").get("invoices", "1050")["client_id"] == "A1"


def test_the_same_create_made_again_under_its_key_still_replaces_its_row(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    FileBooks(folder, "Firm").create(
        "invoices", _invoice("1050", "A1", "500.00"), key="inv:qbo.Invoice:145:create@1"
    )
    # Resumed after a crash with the same key (QBO's amount changed meanwhile): one row.
    FileBooks(folder, "Firm").create(
        "invoices", _invoice("1050", "A1", "510.00"), key="inv:qbo.Invoice:145:create@1"
    )
    assert _outbox(folder) == [("A1", "1050", "510.00")]


def test_an_invoice_the_export_holds_is_not_imported_again_under_its_number(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path)
    with pytest.raises(TpsRejected, match="already hold invoice AA-1"):
        FileBooks(folder, "Firm").create("invoices", _invoice("AA-1", "B2", "9.00"), key="k")
    assert not (folder / "outbox" / "import-invoices.csv").exists()


def test_an_invoice_without_a_number_is_refused_before_a_row_is_written(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    books = FileBooks(folder, "Firm")
    list(books.records("invoices"))  # the run's read
    with pytest.raises(TpsRejected, match="has no number") as refused:
        books.create("invoices", _invoice("", "A1", "50.00"), key="inv:qbo.Invoice:145:create@7")
    assert "qbo.Invoice:145" in str(refused.value)
    assert "number in QBO" in (refused.value.hint or "")
    assert not (folder / "outbox" / "import-invoices.csv").exists()
    # The next run's read is not stopped by it.
    assert [i["id"] for i in FileBooks(folder, "Firm").records("invoices")] == ["AA-1"]
