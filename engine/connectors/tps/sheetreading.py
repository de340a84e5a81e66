"""Reading the file bridge: TPS exports in, for firms with no TPS endpoint.

Sheets are CSV or XLSX (openpyxl), chosen by the file's suffix; their columns are in
sheetlayouts, their cells read by sheetcells, and sheetwriting writes TPS import sheets. A
file is read whole or not at all: every bad row is reported, with its file, row and column,
and nothing is returned until all rows are good (`FileBridgeError`). Beyond each cell, a
sheet is checked as a whole here: duplicates, references to rows that are not there, more
applied than paid. In file-bridge records a client's id is its Client Code and an invoice's
id is its number.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from tpsqbo_engine.connectors.tps import sheetio
from tpsqbo_engine.connectors.tps.paymentids import payment_ids
from tpsqbo_engine.connectors.tps.sheetcells import READERS, BadCell, cell_money, cell_text
from tpsqbo_engine.connectors.tps.sheetlayouts import SHEETS, Sheet
from tpsqbo_engine.dotted import put_path
from tpsqbo_engine.errors import EngineError
from tpsqbo_engine.problems import Problem
from tpsqbo_engine.ruleset.source import display_path

Record = dict[str, Any]
MAX_ROWS = 200_000


class FileBridgeError(EngineError):
    def __init__(self, problems: Sequence[Problem]) -> None:
        first = problems[0]
        super().__init__(
            f"{first.file}: {len(problems)} problem(s); nothing was imported",
            hint=f"first: row {first.line}, column {first.column}: {first.message}",
        )
        self.problems = tuple(problems)


def _rows(path: Path) -> Iterator[list[Any]]:
    return sheetio.rows(path)  # encodings, size limits, damaged files: see sheetio


def read_sheet(
    path: Path, sheet: Sheet, *, extra_columns: bool = False
) -> tuple[list[Record], list[Problem]]:
    """The sheet's records, or its problems. `extra_columns`: columns not in the layout are
    passed over (a column a person added to an outbox sheet), not a problem."""
    try:
        return _read_sheet(path, sheet, extra_columns)
    except sheetio.SheetUnreadable as unreadable:
        return [], [unreadable.problem]


def _read_sheet(
    path: Path, sheet: Sheet, extra_columns: bool = False
) -> tuple[list[Record], list[Problem]]:
    shown = display_path(path)
    rows = _rows(path)
    header = [str(h or "").strip() for h in next(rows, [])]
    problems = [
        Problem(
            shown,
            1,
            len(header) + 1,
            "file.missing-column",
            f"the column '{c.header}' is missing",
            hint=f"{sheet.name} sheets have: {', '.join(x.header for x in sheet.columns)}",
        )
        for c in sheet.columns
        if c.required and c.header not in header
    ]
    problems += [
        Problem(
            shown,
            1,
            i + 1,
            "file.unknown-column",
            f"unknown column '{h}'",
            hint="remove it: TPS import layouts are fixed",
        )
        for i, h in enumerate(header)
        if h and h not in {c.header for c in sheet.columns} and not extra_columns
    ]
    if problems:
        return [], problems
    where = {c.header: header.index(c.header) for c in sheet.columns if c.header in header}
    records = []
    for number, row in enumerate(rows, start=2):
        if number > MAX_ROWS:
            problems.append(
                Problem(shown, number, 1, "file.too-large", f"more than {MAX_ROWS:,} rows")
            )
            break
        if not any(cell_text(v) for v in row):
            continue
        record: Record = {"_row": number}
        for column in sheet.columns:
            index = where.get(column.header)
            raw = row[index] if index is not None and index < len(row) else None
            try:
                value = READERS[column.kind](raw)
            except BadCell as bad:
                problems.append(
                    Problem(
                        shown, number, (index or 0) + 1, "file.bad-value", f"{column.header}: {bad}"
                    )
                )
                continue
            if value is None and column.required:
                problems.append(
                    Problem(
                        shown,
                        number,
                        (index or 0) + 1,
                        "file.missing-value",
                        f"{column.header} is required",
                    )
                )
            elif value is not None:
                put_path(record, column.field, value)
        records.append(record)
    return records, problems


def _require(problems: list[Problem]) -> None:
    if problems:
        raise FileBridgeError(sorted(problems))


def _column(sheet: str, header: str) -> int:
    return [c.header for c in SHEETS[sheet].columns].index(header) + 1


def _duplicates(
    path: Path, sheet: str, records: Iterable[Record], key: str, header: str
) -> list[Problem]:
    seen: dict[Any, int] = {}
    problems = []
    for record in records:
        value = record.get(key)
        if value in seen:
            problems.append(
                Problem(
                    display_path(path),
                    record["_row"],
                    _column(sheet, header),
                    "file.duplicate",
                    f"{header} {value} appears twice",
                    hint=f"first on row {seen[value]}",
                )
            )
        seen.setdefault(value, record["_row"])
    return problems


def read_clients(path: Path) -> list[Record]:
    records, problems = read_sheet(path, SHEETS["clients"])
    problems += _duplicates(path, "clients", records, "code", "Client Code")
    _require(problems)
    for record in records:
        record["id"] = record["code"]
        record.setdefault("active", True)
    return _clean(records)


def read_work_codes(path: Path) -> list[Record]:
    records, problems = read_sheet(path, SHEETS["work-codes"])
    problems += _duplicates(path, "work-codes", records, "work_id", "Work ID")
    problems += _duplicates(path, "work-codes", records, "code", "Work Code")
    by_id = {r["work_id"]: r for r in records if "work_id" in r}
    for record in records:
        parent = record.get("parent")
        if parent is not None and parent not in by_id:
            problems.append(
                Problem(
                    display_path(path),
                    record["_row"],
                    _column("work-codes", "Parent"),
                    "file.unknown-reference",
                    f"Parent {parent} is not a Work ID in this sheet",
                )
            )
        elif parent is None and record.get("node_type") != "type":
            problems.append(
                Problem(
                    display_path(path),
                    record["_row"],
                    _column("work-codes", "Parent"),
                    "file.missing-value",
                    "only a TYPE row may have no Parent",
                )
            )
    _require(problems)
    for record in records:
        record["id"] = f"wc-{record['work_id']}"
        record["parent_id"] = f"wc-{record['parent']}" if record.get("parent") else None
        record["work_type"] = _top_type(record, by_id)
        record["active"] = True
    return _clean(records)


def _top_type(record: Record, by_id: Mapping[int, Record]) -> str:
    seen = set()
    while record.get("parent") is not None and record["work_id"] not in seen:
        seen.add(record["work_id"])
        record = by_id[record["parent"]]
    return str(record["name"])


def read_invoices(path: Path, client_codes: Iterable[str] | None = None) -> list[Record]:
    records, problems = read_sheet(path, SHEETS["invoices"])
    problems += _duplicates(path, "invoices", records, "doc_number", "Invoice Number")
    known = set(client_codes) if client_codes is not None else None
    for record in records:
        if known is not None and record.get("client_id") not in known:
            problems.append(
                Problem(
                    display_path(path),
                    record["_row"],
                    _column("invoices", "Client Code"),
                    "file.unknown-reference",
                    f"no client with the code {record.get('client_id')}",
                )
            )
    _require(problems)
    for record in records:
        as_invoice(record)
    return _clean(records)


def as_invoice(record: Record) -> Record:
    """A row of the Import Invoices layout as the invoice TPS holds: its total is its
    Amount plus its Taxes, all of it still owed."""
    total = Decimal(record["subtotal"]) + Decimal(record["tax_total"])
    digits = re.sub(r"\D", "", record["doc_number"])
    record.update(
        id=record["doc_number"],
        total=str(total),
        balance=str(total),
        type="quick",
        status="outstanding",
        lines=[],
        number=int(digits) if digits else 0,
        invoice_code=record["doc_number"].rsplit("-", 1)[0] if "-" in record["doc_number"] else "0",
    )
    return record


def applied_to(text: str) -> list[Record]:
    """A payment's Applied To cell (`HP-1001=100.00; HP-1002=50.00`) as its applications."""
    applications = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        number, _, amount = part.rpartition("=")
        value = cell_money(amount)
        if not number or value is None or "=" in number:  # "=" left: a comma between two
            raise BadCell("expected INVOICE=AMOUNT; INVOICE=AMOUNT, separated by semicolons")
        applications.append({"invoice_id": number.strip(), "amount": value})
    return applications


def _bad_applied(path: Path, record: Record, message: str) -> Problem:
    """A payment's Applied To that cannot be taken, located at its cell."""
    at = _column("payments", "Applied To")
    return Problem(display_path(path), record["_row"], at, "file.bad-value", message)


def read_payments(path: Path, known: Collection[str] = frozenset()) -> list[Record]:
    """The payments sheet's rows; `known` are payment ids earlier reads gave
    (`paymentids.payment_ids`)."""
    records, problems = read_sheet(path, SHEETS["payments"])
    for record in records:
        try:
            record["applications"] = applied_to(record.pop("applied_to", "") or "")
        except BadCell as bad:
            problems.append(_bad_applied(path, record, f"Applied To: {bad}"))
            continue
        applied = sum((Decimal(a["amount"]) for a in record["applications"]), Decimal(0))
        if "amount" in record and applied > Decimal(record["amount"]):
            problems.append(_bad_applied(path, record, "more is applied than the payment's amount"))
        else:
            record["unapplied_amount"] = str(Decimal(record.get("amount", "0")) - applied)
    _require(problems)
    for record, ident in zip(records, payment_ids(records, known), strict=True):
        record["id"] = ident
        record.update(source="tps", status="active")
    return _clean(records)


def _clean(records: list[Record]) -> list[Record]:
    for record in records:
        record.pop("_row", None)
        record.pop("parent", None)
        record.pop("work_id", None)
    return records


def read_invoice_lines(path: Path, invoice_numbers: Iterable[str]) -> dict[str, list[Record]]:
    """Invoice Number -> its lines, in sheet order."""
    records, problems = read_sheet(path, SHEETS["invoice-lines"])
    known = set(invoice_numbers)
    lines: dict[str, list[Record]] = {}
    for record in records:
        if record.get("invoice_id") not in known:
            problems.append(
                Problem(
                    display_path(path),
                    record["_row"],
                    1,
                    "file.unknown-reference",
                    f"no invoice numbered {record.get('invoice_id')}",
                )
            )
            continue
        number = record.pop("invoice_id")
        record.pop("_row")
        record["line_no"] = len(lines.get(number, [])) + 1
        record.setdefault("markup", "0.00")
        lines.setdefault(number, []).append(record)
    _require(problems)
    return lines
