"""The file bridge: example sheets round-trip, bad rows are located, nothing half-imported."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tpsqbo_engine.connectors.tps import sheetlayouts, sheetreading, sheetwriting
from tpsqbo_engine.connectors.tps.sheetreading import FileBridgeError

EXAMPLES = Path(__file__).parents[2] / "examples" / "tps-files"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_example_sheets_round_trip_unchanged(tmp_path: Path) -> None:
    clients = sheetreading.read_clients(EXAMPLES / "clients.csv")
    codes = sheetreading.read_work_codes(EXAMPLES / "work-codes.csv")
    invoices = sheetreading.read_invoices(EXAMPLES / "invoices.csv", {c["code"] for c in clients})
    payments = sheetreading.read_payments(EXAMPLES / "payments.csv")
    sheetwriting.write_sheet(tmp_path / "clients.csv", sheetlayouts.SHEETS["clients"], clients)
    sheetwriting.write_sheet(
        tmp_path / "work-codes.csv",
        sheetlayouts.SHEETS["work-codes"],
        sheetwriting.work_code_import_rows(codes),
    )
    sheetwriting.write_sheet(
        tmp_path / "invoices.csv",
        sheetlayouts.SHEETS["invoices"],
        sheetwriting.invoice_import_rows(invoices),
    )
    sheetwriting.write_sheet(
        tmp_path / "payments.csv",
        sheetlayouts.SHEETS["payments"],
        sheetwriting.payment_rows(payments),
    )
    for name in ("clients.csv", "work-codes.csv", "invoices.csv", "payments.csv"):
        assert (tmp_path / name).read_text() == (EXAMPLES / name).read_text(), name


def test_work_codes_form_a_tree_with_their_type(tmp_path: Path) -> None:
    codes = {c["code"]: c for c in sheetreading.read_work_codes(EXAMPLES / "work-codes.csv")}
    assert codes["TAX-1040"]["work_type"] == "Tax"
    assert codes["TAX-1040"]["node_type"] == "work_code"
    parent = next(c for c in codes.values() if c["id"] == codes["TAX-1040"]["parent_id"])
    assert parent["node_type"] == "subtype"


def test_xlsx_reads_like_csv() -> None:
    from_xlsx = sheetreading.read_work_codes(EXAMPLES / "work-codes.xlsx")
    assert from_xlsx == sheetreading.read_work_codes(EXAMPLES / "work-codes.csv")
    assert sheetreading.read_invoices(EXAMPLES / "invoices.xlsx") == sheetreading.read_invoices(
        EXAMPLES / "invoices.csv"
    )


def test_invoice_import_has_exactly_tps_columns(tmp_path: Path) -> None:
    target = tmp_path / "out.xlsx"
    sheetwriting.write_sheet(
        target,
        sheetlayouts.SHEETS["invoices"],
        sheetwriting.invoice_import_rows(sheetreading.read_invoices(EXAMPLES / "invoices.csv")),
    )
    from openpyxl import load_workbook

    header = [c.value for c in next(load_workbook(target).worksheets[0].iter_rows())]
    assert header == ["Client Code", "Invoice Number", "Amount", "Taxes", "Date", "Description"]


def test_bad_rows_are_all_reported_with_row_and_column(tmp_path: Path) -> None:
    sheet = _write(
        tmp_path / "invoices.csv",
        "Client Code,Invoice Number,Amount,Taxes,Date,Description\n"
        "ABBOTT001,HP-1,100.00,0.00,2026-11-01,ok\n"
        "ABBOTT001,HP-2,12.345,0.00,2026-11-01,three decimals\n"
        ",HP-3,10.00,0.00,31/31/2026,no client and a bad date\n"
        "ABBOTT001,HP-1,5.00,0.00,2026-11-02,same number again\n",
    )
    with pytest.raises(FileBridgeError) as failure:
        sheetreading.read_invoices(sheet)
    located = [(p.line, p.column, p.code) for p in failure.value.problems]
    assert located == [
        (3, 3, "file.bad-value"),
        (4, 1, "file.missing-value"),
        (4, 5, "file.bad-value"),
        (5, 2, "file.duplicate"),
    ]
    assert failure.value.problems[0].file.endswith("invoices.csv")


def test_unknown_clients_and_parents_are_refused(tmp_path: Path) -> None:
    sheet = _write(
        tmp_path / "i.csv",
        "Client Code,Invoice Number,Amount,Taxes,Date\nNOBODY,HP-9,1.00,0.00,2026-11-01\n",
    )
    with pytest.raises(FileBridgeError) as unknown:
        sheetreading.read_invoices(sheet, {"ABBOTT001"})
    assert "no client with the code NOBODY" in unknown.value.hint
    codes = _write(
        tmp_path / "w.csv",
        "Work ID,Work Type,Parent,Type,Rate Level,Work Code,"
        "Name,Tax1,Tax2,Tax3\n"
        "1,WORK CODE,7,CHARGEABLE,1,X,Orphan,FALSE,FALSE,FALSE\n",
    )
    with pytest.raises(FileBridgeError) as failure:
        sheetreading.read_work_codes(codes)
    assert failure.value.problems[0].code == "file.unknown-reference"


def test_extra_or_missing_columns_are_refused(tmp_path: Path) -> None:
    sheet = _write(
        tmp_path / "i.csv", "Client Code,Invoice Number,Amount,Date,Notes\nA,1,1.00,2026-11-01,x\n"
    )
    with pytest.raises(FileBridgeError) as failure:
        sheetreading.read_invoices(sheet)
    assert {p.code for p in failure.value.problems} == {
        "file.missing-column",
        "file.unknown-column",
    }


def test_payments_cannot_apply_more_than_they_are(tmp_path: Path) -> None:
    sheet = _write(
        tmp_path / "p.csv",
        "Client Code,Date,Amount,Applied To\n"
        "A,2026-11-01,10.00,HP-1=8.00; HP-2=5.00\n"
        "A,2026-11-01,10.00,HP-1:8.00\n",
    )
    with pytest.raises(FileBridgeError) as failure:
        sheetreading.read_payments(sheet)
    assert [p.line for p in failure.value.problems] == [2, 3]


def test_a_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "invoices.csv"
    shutil.copy(EXAMPLES / "invoices.csv", target)
    before = target.read_text()
    rows = [
        {
            "client_id": "A",
            "doc_number": "X",
            "subtotal": "1.00",
            "tax_total": "0.00",
            "date": "2026-11-01",
        },
        {"bad": object()},
    ]

    class Exploding(list):  # the second row fails while the sheet is being written
        def __iter__(self):  # type: ignore[no-untyped-def]
            yield rows[0]
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        sheetwriting.write_sheet(target, sheetlayouts.SHEETS["invoices"], Exploding())
    assert target.read_text() == before
    assert list(tmp_path.iterdir()) == [target]
