"""Writing the file bridge's sheets: a whole sheet at once, to a temporary file then put in
place, as CSV or XLSX by the file's suffix; and records shaped as TPS's import layouts want
their rows (work codes numbered parents first, a payment's applications in one cell).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from tpsqbo_engine.connectors.tps.sheetcells import written_cell
from tpsqbo_engine.connectors.tps.sheetlayouts import Sheet
from tpsqbo_engine.dotted import get_path
from tpsqbo_engine.private import temporary_beside

Record = dict[str, Any]


def _cells(sheet: Sheet, record: Mapping[str, Any]) -> list[str]:
    return [written_cell(c.kind, get_path(record, c.field)) for c in sheet.columns]


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    with temporary_beside(path, suffix=f".tmp{path.suffix}") as temporary:
        write(temporary)
        temporary.replace(path)


def write_sheet(path: Path, sheet: Sheet, rows: Iterable[Mapping[str, Any]]) -> None:
    """Writes a whole sheet to a temporary file, then puts it in place."""
    table = [[c.header for c in sheet.columns], *(_cells(sheet, r) for r in rows)]

    def write(target: Path) -> None:
        if path.suffix.lower() == ".xlsx":
            from openpyxl import Workbook
            from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

            book = Workbook()
            for row in table:  # control characters XLSX cannot hold become U+FFFD
                book.worksheets[0].append([ILLEGAL_CHARACTERS_RE.sub("\ufffd", c) for c in row])
            book.save(target)
            return
        buffer = io.StringIO()
        plain = csv.writer(buffer, lineterminator="\n")
        # A bare CR ends a row to CSV readers unless quoted, and QUOTE_MINIMAL does not.
        quoted = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
        for row in table:
            (quoted if any("\r" in cell for cell in row) else plain).writerow(row)
        target.write_text(buffer.getvalue(), encoding="utf-8")

    _atomic(path, write)


def invoice_import_rows(invoices: Iterable[Mapping[str, Any]]) -> Iterator[Record]:
    for invoice in invoices:
        yield {
            **invoice,
            "doc_number": invoice["doc_number"],
            "subtotal": invoice.get("subtotal") or invoice["total"],
            "tax_total": invoice.get("tax_total") or "0.00",
        }


def work_code_import_rows(codes: Sequence[Mapping[str, Any]]) -> Iterator[Record]:
    """Work IDs are numbered in order, parents before children, as the import requires."""
    numbers = {code["id"]: index for index, code in enumerate(codes, start=1)}
    for code in codes:
        parent = code.get("parent_id")
        yield {
            **code,
            "work_id": numbers[code["id"]],
            "parent": numbers.get(parent) if parent else None,
        }


def payment_rows(payments: Iterable[Mapping[str, Any]]) -> Iterator[Record]:
    for payment in payments:
        if "applications" not in payment:  # a row read back from a sheet carries its own
            yield dict(payment)
            continue
        applied = "; ".join(
            f"{a['invoice_id']}={a['amount']}" for a in payment.get("applications") or []
        )
        yield {**payment, "applied_to": applied}
