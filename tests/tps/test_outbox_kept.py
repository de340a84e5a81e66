"""Outbox sheets hold rows nobody has entered in TPS yet: a write never drops or reverts one.
A sheet changed by hand is refused (the write fails, the sheet is left as it was); a second
change to a record whose first still waits is made on top of the first."""

from __future__ import annotations

import contextvars
import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest

from tpsqbo_engine.connectors.tps import sheetio
from tpsqbo_engine.connectors.tps.client import TpsRejected
from tpsqbo_engine.connectors.tps.filebooks import FileBooks
from tpsqbo_engine.connectors.tps.sheetreading import FileBridgeError


def _folder(tmp_path: Path) -> Path:
    sheets = {
        "clients": "Client Code,Client Name,Email,Phone\n"
        "A1,Alder,a@alder.example,(503) 555-1001\n"
        "B2,Côté & Fils Ltée,b@cote.example,(503) 555-1002\n",
        "invoices": "Client Code,Invoice Number,Amount,Taxes,Date,Description\n"
        "A1,AA-1,300.00,15.00,2026-10-01,Review\nB2,BB-1,200.00,0.00,2026-10-02,Audit\n",
    }
    for name, text in sheets.items():
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
    return tmp_path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _change(folder: Path, resource: str, ident: str, changes: dict[str, object]) -> None:
    books = FileBooks(folder, "Alder & Ash")  # a new run: the sheets read again
    books.update(resource, ident, changes, version=books.get(resource, ident)["version"])


def test_a_second_change_to_a_client_keeps_the_first(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    _change(folder, "clients", "A1", {"phone": "(503) 555-9999"})
    _change(folder, "clients", "B2", {"phone": "(503) 555-8888"})
    _change(folder, "clients", "A1", {"email": "new@alder.example"})
    rows = {r["Client Code"]: r for r in _rows(folder / "outbox" / "client-changes.csv")}
    assert sorted(rows) == ["A1", "B2"]
    assert (rows["A1"]["Phone"], rows["A1"]["Email"]) == ("(503) 555-9999", "new@alder.example")
    assert rows["B2"]["Phone"] == "(503) 555-8888"
    assert rows["B2"]["Client Name"] == "Côté & Fils Ltée"


def test_a_second_change_to_an_invoice_keeps_the_first(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    _change(folder, "invoices", "AA-1", {"total": Decimal("415.00")})
    _change(folder, "invoices", "AA-1", {"description": "Review and returns"})
    (row,) = _rows(folder / "outbox" / "invoice-changes.csv")
    assert (row["Amount"], row["Taxes"], row["Description"]) == (
        "400.00",
        "15.00",
        "Review and returns",
    )


def test_an_outbox_sheet_changed_by_hand_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    _change(folder, "clients", "A1", {"phone": "(503) 555-9999"})
    _change(folder, "clients", "B2", {"phone": "(503) 555-8888"})
    sheet = folder / "outbox" / "client-changes.csv"
    lines = sheet.read_text(encoding="utf-8").splitlines()  # a column to tick rows off
    ticked = [lines[0] + ",Entered", *(line + ",yes" for line in lines[1:])]
    sheet.write_text("\n".join(ticked) + "\n", encoding="utf-8")
    before = sheet.read_bytes()
    with pytest.raises(TpsRejected) as refused:
        _change(folder, "clients", "A1", {"email": "new@alder.example"})
    assert "outbox/client-changes.csv was changed by hand" in refused.value.message
    assert "row 1, column 15: unknown column 'Entered'" in refused.value.message
    assert "move it out of outbox/" in refused.value.hint
    assert sheet.read_bytes() == before  # nothing lost


def test_an_outbox_row_retyped_so_it_cannot_be_read_stops_the_read(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    _change(folder, "clients", "A1", {"active": False})
    sheet = folder / "outbox" / "client-changes.csv"
    sheet.write_text(sheet.read_text().replace("FALSE", "maybe"))
    before = sheet.read_bytes()
    with pytest.raises(FileBridgeError) as refused:
        _change(folder, "clients", "B2", {"phone": "(503) 555-8888"})
    (problem,) = refused.value.problems
    assert problem.file.endswith("outbox/client-changes.csv")
    assert (problem.line, problem.column, problem.code) == (2, 13, "file.bad-value")
    assert sheet.read_bytes() == before


def test_every_outbox_sheet_changed_by_hand_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    books = FileBooks(folder, "Alder & Ash")
    adjustment = {"client_id": "A1", "direction": "decrease", "date": "2026-11-01"}
    books.create("adjustments", {**adjustment, "amount": "80.00"}, key="cm-1")
    books.update(
        "invoices", "AA-1", {"status": "void"}, version=books.get("invoices", "AA-1")["version"]
    )
    books.create("payments", {"client_id": "A1", "date": "2026-11-02", "amount": "5"}, key="p-1")
    books.create(
        "invoices",
        {"doc_number": "AA-9", "client_id": "A1", "date": "2026-11-03", "total": "9.00"},
        key="i-9",
    )
    outbox = folder / "outbox"
    names = [
        "adjustments-to-enter.csv",
        "voids-to-enter.csv",
        "payments-to-enter.csv",
        "import-invoices.csv",
    ]
    for name in names:
        text = (outbox / name).read_text(encoding="utf-8")
        (outbox / name).write_text(text.replace("\n", ",Entered\n", 1), encoding="utf-8")
    before = {name: (outbox / name).read_bytes() for name in names}
    sent = (outbox / "sent.json").read_bytes()
    books = FileBooks(folder, "Alder & Ash")
    writes = [
        lambda: books.create("adjustments", {**adjustment, "amount": "7.00"}, key="cm-2"),
        lambda: books.update(
            "invoices", "BB-1", {"status": "void"}, version=books.get("invoices", "BB-1")["version"]
        ),
        lambda: books.create(
            "payments", {"client_id": "B2", "date": "2026-11-04", "amount": "6"}, key="p-2"
        ),
        lambda: books.create(
            "invoices",
            {
                "doc_number": "BB-9",
                "client_id": "B2",
                "date": "2026-11-05",
                "total": "8.00",
                "due_date": "2026-12-05",
            },
            key="i-8",
        ),
    ]
    for name, write in zip(names, writes, strict=True):
        with pytest.raises(TpsRejected, match=f"{name} was changed by hand"):
            write()
    assert {name: (outbox / name).read_bytes() for name in names} == before
    assert (outbox / "sent.json").read_bytes() == sent  # nothing kept for a write refused


def test_the_same_adjustment_or_void_written_again_is_one_row(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    adjustment = {"client_id": "A1", "direction": "decrease", "date": "2026-11-01"}
    for _ in range(2):  # the second: a run resumed after a crash, the same keys
        books = FileBooks(folder, "Alder & Ash")
        books.create("adjustments", {**adjustment, "amount": "80.00"}, key="cm-1")
        books.update(
            "invoices", "AA-1", {"status": "void"}, version=books.get("invoices", "AA-1")["version"]
        )
    books.create("adjustments", {**adjustment, "amount": "7.00"}, key="cm-2")
    books.update(
        "invoices", "BB-1", {"status": "void"}, version=books.get("invoices", "BB-1")["version"]
    )
    outbox = folder / "outbox"
    assert [r["Amount"] for r in _rows(outbox / "adjustments-to-enter.csv")] == ["80.00", "7.00"]
    assert [r["Number"] for r in _rows(outbox / "voids-to-enter.csv")] == ["AA-1", "BB-1"]


def test_an_emptied_outbox_sheet_is_written_again(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    _change(folder, "clients", "A1", {"phone": "(503) 555-9999"})
    (folder / "outbox" / "client-changes.csv").write_text("")  # entered, then cleared
    _change(folder, "clients", "B2", {"phone": "(503) 555-8888"})
    rows = _rows(folder / "outbox" / "client-changes.csv")
    assert [r["Client Code"] for r in rows] == ["B2"]


def test_the_outbox_is_read_back_as_written_whatever_the_exports_encoding(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path)
    (folder / "clients.csv").write_bytes((folder / "clients.csv").read_text().encode("cp1252"))

    def two_runs() -> None:
        sheetio.from_command_line("cp1252")  # --encoding: the firm's exports, not the outbox
        _change(folder, "clients", "B2", {"phone": "(503) 555-8888"})
        _change(folder, "clients", "A1", {"phone": "(503) 555-9999"})

    contextvars.copy_context().run(two_runs)
    rows = {r["Client Code"]: r for r in _rows(folder / "outbox" / "client-changes.csv")}
    assert rows["B2"]["Client Name"] == "Côté & Fils Ltée"  # not read as cp1252 and garbled


def test_sent_json_is_untouched_when_the_invoice_change_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    _change(folder, "invoices", "AA-1", {"total": Decimal("415.00"), "due_date": "2026-11-01"})
    sheet = folder / "outbox" / "invoice-changes.csv"
    sheet.write_text(sheet.read_text().replace("\n", ",Entered\n", 1))
    sent = json.loads((folder / "outbox" / "sent.json").read_text())
    with pytest.raises(TpsRejected):
        _change(folder, "invoices", "AA-1", {"due_date": "2026-12-01"})
    assert json.loads((folder / "outbox" / "sent.json").read_text()) == sent


def test_a_change_to_a_payment_is_refused_not_entered_as_a_second_payment(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path)
    (folder / "payments.csv").write_text(
        "Client Code,Date,Amount,Applied To\nA1,2026-10-05,100.00,AA-1=100.00\n"
    )
    books = FileBooks(folder, "Alder & Ash")
    (paid,) = books.records("payments")
    with pytest.raises(TpsRejected, match="change its amount in TPS"):
        books.update("payments", paid["id"], {"amount": "90.00"}, version=paid["version"])
    assert not (folder / "outbox" / "payments-to-enter.csv").exists()


def test_changes_waiting_in_the_outbox_are_read_as_made(tmp_path: Path) -> None:
    """A fresh export before the outbox is entered still has the old values: read so, the
    sync would take them for TPS changing back and send them to QBO."""
    folder = _folder(tmp_path)
    (folder / "payments.csv").write_text(
        "Client Code,Date,Amount,Applied To\nA1,2026-10-05,100.00,AA-1=100.00\n"
    )
    _change(folder, "clients", "A1", {"phone": "(503) 555-9999"})
    _change(folder, "invoices", "AA-1", {"total": Decimal("415.00")})
    _change(folder, "invoices", "BB-1", {"status": "void"})
    sheet = folder / "outbox" / "client-changes.csv"  # ticked off by hand: still read
    sheet.write_text(sheet.read_text().replace("\n", ",Entered\n", 1))
    books = FileBooks(folder, "Alder & Ash")
    assert books.get("clients", "A1")["phone"] == "(503) 555-9999"
    assert books.get("clients", "B2")["phone"] == "(503) 555-1002"
    invoice = books.get("invoices", "AA-1")
    assert (invoice["subtotal"], invoice["total"], invoice["balance"]) == (
        Decimal("400.00"),
        Decimal("415.00"),
        Decimal("315.00"),  # less the payment applied to it
    )
    assert books.get("invoices", "BB-1")["status"] == "void"
    for name in ("client-changes.csv", "invoice-changes.csv", "voids-to-enter.csv"):
        (folder / "outbox" / name).rename(folder / name.replace(".csv", ".entered"))
    books = FileBooks(folder, "Alder & Ash")  # moved out unentered: the export's values
    assert books.get("clients", "A1")["phone"] == "(503) 555-1001"
    assert books.get("invoices", "AA-1")["total"] == Decimal("315.00")
    assert books.get("invoices", "BB-1")["status"] == "outstanding"


def test_a_client_change_returns_the_version_the_next_read_gives(tmp_path: Path) -> None:
    """The sync keeps it as TPS's version: another would read as a change made in TPS."""
    folder = _folder(tmp_path)
    books = FileBooks(folder, "Alder & Ash")
    before = books.get("clients", "A1")
    written = books.update("clients", "A1", {"phone": "(503) 555-9999"}, version=before["version"])
    again = FileBooks(folder, "Alder & Ash").get("clients", "A1")
    assert written["version"] != before["version"]
    assert (written["version"], written["phone"]) == (again["version"], "(503) 555-9999")
    assert books.get("clients", "A1") | {"updated_at": ""} == again | {"updated_at": ""}
    # and the outbox written is a change to read: the record is newer than before it
    assert again["updated_at"] > before["updated_at"]


def test_a_change_to_an_invoice_waiting_to_be_imported_is_made_on_its_import_row(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path)
    invoice = {"doc_number": "Q-9", "client_id": "A1", "date": "2026-11-03", "total": "80.00"}
    FileBooks(folder, "Alder & Ash").create(
        "invoices", {**invoice, "due_date": "2026-12-03"}, key="q-9"
    )
    books = FileBooks(folder, "Alder & Ash")  # the next run: read as TPS will hold it
    waiting = books.get("invoices", "Q-9")
    assert (waiting["total"], waiting["balance"], waiting["due_date"]) == (
        Decimal("80.00"),
        Decimal("80.00"),
        "2026-12-03",
    )
    books.update("invoices", "Q-9", {"total": Decimal("95.00")}, version=waiting["version"])
    outbox = folder / "outbox"
    assert not (outbox / "invoice-changes.csv").exists()
    (row,) = _rows(outbox / "import-invoices.csv")
    assert (row["Invoice Number"], row["Amount"]) == ("Q-9", "95.00")
    # Imported and exported, the sheet left in the outbox: the export's invoice is read,
    # and a change to it is one to make by hand.
    with (folder / "invoices.csv").open("a", encoding="utf-8") as sheet:
        sheet.write("A1,Q-9,95.00,0.00,2026-11-03,\n")
    books = FileBooks(folder, "Alder & Ash")
    assert [i["id"] for i in books.records("invoices")].count("Q-9") == 1
    current = books.get("invoices", "Q-9")
    books.update("invoices", "Q-9", {"description": "Q"}, version=current["version"])
    assert [r["Invoice Number"] for r in _rows(outbox / "invoice-changes.csv")] == ["Q-9"]
    assert [r["Amount"] for r in _rows(outbox / "import-invoices.csv")] == ["95.00"]


def test_payments_and_credits_waiting_to_be_entered_are_read_as_entered(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path)
    books = FileBooks(folder, "Alder & Ash")
    payment = books.create(
        "payments",
        {
            "client_id": "A1",
            "date": "2026-11-02",
            "amount": Decimal("100.00"),
            "applications": [{"invoice_id": "AA-1", "amount": Decimal("100.00")}],
            "source": "qbo_online",
        },
        key="qbo-pay-1",
    )
    credit = books.create(
        "adjustments",
        {"client_id": "A1", "direction": "decrease", "date": "2026-11-03", "amount": "15.00"},
        key="qbo-cm-1",
    )
    books = FileBooks(folder, "Alder & Ash")  # the next run, nothing entered yet
    read = books.get("payments", payment["id"])
    assert (read["amount"], read["unapplied_amount"], read["source"]) == (
        Decimal("100.00"),
        Decimal("0.00"),
        "qbo_online",
    )
    assert read["applications"] == [{"invoice_id": "AA-1", "amount": Decimal("100.00")}]
    assert books.get("adjustments", credit["id"])["amount"] == Decimal("15.00")
    assert books.get("invoices", "AA-1")["balance"] == Decimal("215.00")  # 315 less 100
    # Entered and exported with the outbox left in place: read once, not twice.
    (folder / "payments.csv").write_text(
        "Client Code,Date,Amount,Applied To,Description\n"
        f"A1,2026-11-02,100.00,AA-1=100.00,{payment['id']}\n"
    )
    books = FileBooks(folder, "Alder & Ash")
    assert [p["id"] for p in books.records("payments")] == [payment["id"]]
    assert books.get("invoices", "AA-1")["balance"] == Decimal("215.00")


def test_a_payment_changed_in_qbo_before_it_is_entered_is_changed_on_its_row(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path)
    made = FileBooks(folder, "Alder & Ash").create(
        "payments",
        {
            "client_id": "A1",
            "date": "2026-11-02",
            "amount": Decimal("50.00"),
            "applications": [{"invoice_id": "AA-1", "amount": Decimal("50.00")}],
            "description": "cheque",
        },
        key="qbo-pay-1",
    )
    books = FileBooks(folder, "Alder & Ash")
    waiting = books.get("payments", made["id"])
    changes = {
        "amount": Decimal("60.00"),
        "applications": [{"invoice_id": "AA-1", "amount": Decimal("60.00")}],
    }
    books.update("payments", made["id"], changes, version=waiting["version"])
    (row,) = _rows(folder / "outbox" / "payments-to-enter.csv")  # one payment, not two
    assert (row["Amount"], row["Applied To"], row["Description"]) == (
        "60.00",
        "AA-1=60.00",
        f"{made['id']} cheque",
    )
    again = FileBooks(folder, "Alder & Ash")
    assert again.get("payments", made["id"])["amount"] == Decimal("60.00")
    assert again.get("invoices", "AA-1")["balance"] == Decimal("255.00")
