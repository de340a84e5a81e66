"""People's files: outbox sheets are safe to open in a spreadsheet, and come back as written."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tpsqbo_engine.connectors.tps import files

DANGEROUS = [
    '=HYPERLINK("http://evil.example","x")',
    "+1 555 0100",
    "-2+3",
    "@SUM(A1:A9)",
    "\tleading tab",
    "\r=cr",
    "'=already quoted",
    "''@twice",
    "'Tis the season",
    "plain",
]


def _payments() -> list[dict[str, object]]:
    return [
        {
            "client_id": f"C{n}",
            "date": "2026-11-30",
            "amount": "40.00",
            "reference": value,
            "description": value,
        }
        for n, value in enumerate(DANGEROUS)
    ]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_outbox_cells_that_would_be_formulas_are_neutralised(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"payments{suffix}"
    files.write_sheet(path, files.SHEETS["payments"], files.payment_rows(_payments()))
    raw = list(_raw_cells(path))
    references = [row[4] for row in raw[1:]]
    for cell, original in zip(references, _as_stored(DANGEROUS, suffix), strict=True):
        starts_formula = original.lstrip("'")[:1] in ("=", "+", "-", "@", "\t", "\r", "\n")
        assert cell == ("'" + original if starts_formula else original)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_negative_amounts_stay_numbers(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"invoices{suffix}"
    credit = {"client_id": "C1", "doc_number": "-7", "subtotal": "-12.50", "tax_total": "-0.63"}
    files.write_sheet(path, files.SHEETS["invoices"], [{**credit, "date": "2026-11-30"}])
    assert _raw_cells(path)[1][1:4] == ["-7", "-12.50", "-0.63"]
    read = files.read_invoices(path)
    assert (read[0]["doc_number"], str(read[0]["subtotal"])) == ("-7", "-12.50")


def test_xlsx_holds_no_formula(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    path = tmp_path / "payments.xlsx"
    files.write_sheet(path, files.SHEETS["payments"], files.payment_rows(_payments()))
    sheet = load_workbook(path).worksheets[0]
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_the_reader_takes_off_exactly_what_the_writer_put_on(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"payments{suffix}"
    files.write_sheet(path, files.SHEETS["payments"], files.payment_rows(_payments()))
    read = files.read_payments(path)
    assert [r.get("reference") for r in read] == _as_stored(DANGEROUS, suffix)
    assert [r.get("description") for r in read] == _as_stored(DANGEROUS, suffix)


def _as_stored(values: list[str], suffix: str) -> list[str]:
    """XLSX is XML, where a CR is read back as a LF."""
    return [v.replace("\r", "\n") for v in values] if suffix == ".xlsx" else values


def _raw_cells(path: Path) -> list[list[str]]:
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.reader(handle))
    from openpyxl import load_workbook

    sheet = load_workbook(path).worksheets[0]
    return [[c if c is not None else "" for c in row] for row in sheet.iter_rows(values_only=True)]
