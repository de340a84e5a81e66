"""Undo on a sheets firm reads each record back after its write, from the one sheets
connection the run holds: that read must see what the write left in the outbox, or a
first undo ends "not taken back" though it was written."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from tpsqbo_engine.connectors.tps.filebooks import FileBooks
from tpsqbo_engine.sync.undo import Step, current_record, is_taken_back


def _books(tmp_path: Path) -> FileBooks:
    (tmp_path / "clients.csv").write_text("Client Code,Client Name,Email,Phone\nA1,Alder,a@x,1\n")
    (tmp_path / "invoices.csv").write_text(
        "Client Code,Invoice Number,Amount,Taxes,Date,Description\n"
        "A1,AA-1,300.00,0.00,2026-10-01,Review\nA1,AA-2,100.00,0.00,2026-10-02,Audit\n"
    )
    (tmp_path / "payments.csv").write_text(
        "Client Code,Date,Amount,Method,Reference,Applied To,Description\n"
        "A1,2026-10-05,100.00,CHQ,881,AA-1=100.00,\n"
    )
    return FileBooks(tmp_path, "Firm")


def test_an_undo_void_and_restore_read_back_as_written(tmp_path: Path) -> None:
    books = _books(tmp_path)
    session = SimpleNamespace(tps=books)  # the run's one connection, its sheets read once
    assert books.get("invoices", "AA-1")["balance"] == Decimal("200.00")
    current = books.get("invoices", "AA-2")
    books.update("invoices", "AA-2", {"status": "void"}, version=current["version"])
    void = Step(1, "qbo-invoices", "qbo.Invoice:9", "tps.Invoice:AA-2", "void")
    assert is_taken_back(void, current_record(session, "tps.Invoice:AA-2"))

    current = books.get("invoices", "AA-1")
    books.update("invoices", "AA-1", {"description": "Review 2026"}, version=current["version"])
    restore = Step(
        2,
        "qbo-invoices",
        "qbo.Invoice:10",
        "tps.Invoice:AA-1",
        "restore",
        {"description": "Review 2026"},
    )
    assert is_taken_back(restore, current_record(session, "tps.Invoice:AA-1"))

    [payment] = books.records("payments")
    books.update("payments", payment["id"], {"status": "void"}, version=payment["version"])
    assert books.get("payments", payment["id"])["status"] == "void"
    assert books.get("invoices", "AA-1")["balance"] == Decimal("300.00")
    # What the next run reads (the sheets afresh) agrees with what this run read back.
    fresh = FileBooks(tmp_path, "Firm")
    for resource, ident in (
        ("invoices", "AA-1"),
        ("invoices", "AA-2"),
        ("payments", payment["id"]),
    ):
        again, cached = fresh.get(resource, ident), books.get(resource, ident)
        assert (again["status"], again.get("balance")) == (cached["status"], cached.get("balance"))
    assert fresh.get("invoices", "AA-1")["description"] == "Review 2026"
