"""An XLSX number is an IEEE double: a sum Excel computed is saved as 98913.45000000001 or
0.30000000000000004, and shown (at most 15 significant digits) as 98913.45 and 0.3. The
sheets read a number cell as Excel shows it, so such amounts are cents, while a cell really
holding 0.123 is still refused as more than cents."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from tpsqbo_engine.connectors.tps import sheetio, sheetreading
from tpsqbo_engine.connectors.tps.sheetreading import FileBridgeError

HEADER = ["Client Code", "Date", "Amount", "Method", "Reference", "Applied To"]
SUM = 63688.87 + 35224.58  # 98913.45000000001 as a double; openpyxl saves it so


def _payments(path: Path, *amounts: Any) -> Path:
    book = Workbook()
    sheet = book.worksheets[0]
    sheet.append(HEADER)
    for n, amount in enumerate(amounts):
        sheet.append(["A1", "2026-10-05", amount, "cheque", f"CHQ{n}"])
    book.save(path)
    return path


def test_the_double_a_sum_leaves_is_saved_as_it_is() -> None:
    assert (
        repr(SUM) == "98913.45000000001" and f"{SUM:.16g}" == "98913.45000000001"
    )  # openpyxl: %.16g
    assert repr(0.1 + 0.2) == "0.30000000000000004"


def test_a_computed_amount_reads_as_excel_shows_it(tmp_path: Path) -> None:
    sheet = _payments(tmp_path / "payments.xlsx", SUM, 120.5, 7, 0.0)
    assert [p["amount"] for p in sheetreading.read_payments(sheet)] == [
        "98913.45",
        "120.50",
        "7.00",
        "0.00",
    ]


@pytest.mark.parametrize("amount", [0.123, 1e-05, 2.675 + 1e-9])
def test_a_number_holding_more_than_cents_is_still_refused_where_it_is(
    tmp_path: Path, amount: float
) -> None:
    sheet = _payments(tmp_path / "payments.xlsx", 10.0, amount)
    with pytest.raises(FileBridgeError) as failure:
        sheetreading.read_payments(sheet)
    [problem] = failure.value.problems
    assert (problem.line, problem.column) == (3, 3)
    assert problem.message.startswith("Amount: expected at most two decimals")


def _with_cached_value(path: Path, formula: str, cached: str) -> None:
    """The workbook as Excel saves a formula: the formula and the value it last computed
    (openpyxl writes the formula with no value, as a workbook never opened in Excel)."""
    part = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(path) as book:
        parts = {name: book.read(name) for name in book.namelist()}
    written = f"<f>{formula}</f><v />".encode()
    assert written in parts[part]
    parts[part] = parts[part].replace(written, f"<f>{formula}</f><v>{cached}</v>".encode())
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        for name, data in parts.items():
            book.writestr(name, data)


def test_a_formula_cells_cached_value_reads_as_excel_shows_it(tmp_path: Path) -> None:
    sheet = _payments(tmp_path / "payments.xlsx", "=0.1+0.2", "=0.1+0.123")
    _with_cached_value(sheet, "0.1+0.2", "0.30000000000000004")
    _with_cached_value(sheet, "0.1+0.123", "0.223")
    rows = list(sheetio.rows(sheet))
    assert rows[1][2] == "0.3" and rows[2][2] == "0.223"
    with pytest.raises(FileBridgeError) as failure:
        sheetreading.read_payments(sheet)
    assert [(p.line, p.column) for p in failure.value.problems] == [(3, 3)]
    book = Workbook()
    book.worksheets[0].append(HEADER)
    book.worksheets[0].append(["A1", "2026-10-05", "=0.1+0.2", "cheque", "CHQ1"])
    book.save(tmp_path / "one.xlsx")
    _with_cached_value(tmp_path / "one.xlsx", "0.1+0.2", "0.30000000000000004")
    [payment] = sheetreading.read_payments(tmp_path / "one.xlsx")
    assert payment["amount"] == "0.30"


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        (0.1 + 0.2, "0.3"),
        (120.5, "120.5"),
        (1e15, "1000000000000000"),  # in full: no exponent nobody typed
        (1e-05, "0.00001"),
        (-0.0, "0"),
        (1 / 3, "0.333333333333333"),  # 15 significant digits
        (12, 12),  # ints are exact already
        (True, True),
        ("12.5", "12.5"),
        (None, None),
    ],
)
def test_as_shown(cell: Any, shown: Any) -> None:
    assert sheetio.as_shown(cell) == shown


def test_not_a_number_stays_what_it_is() -> None:
    nan = float("nan")
    assert sheetio.as_shown(nan) is nan
