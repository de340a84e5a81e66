"""The file bridge: TPS exports in, TPS import sheets out, for firms with no TPS endpoint.

Sheets are CSV or XLSX (openpyxl), chosen by the file's suffix. The invoice and work-code
sheets use TPS's documented import columns exactly (Tools → Import); clients and payments use
the export layouts in docs/tps-contract.md. A file is read whole or not at all: every bad row
is reported, with its file, row and column, and nothing is returned until all rows are good.
In file-bridge records a client's id is its Client Code and an invoice's id is its number.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tpsqbo_engine.amounts import CENT, NotAnAmount, in_cents, read_amount
from tpsqbo_engine.connectors.tps import sheetio
from tpsqbo_engine.errors import EngineError
from tpsqbo_engine.private import temporary_beside
from tpsqbo_engine.problems import Problem
from tpsqbo_engine.ruleset.source import display_path

Record = dict[str, Any]
MAX_ROWS = 200_000
_NODE_TYPES = {"TYPE": "type", "SUBTYPE": "subtype", "WORK CODE": "work_code"}
_CLASSES = {"CHARGEABLE": "chargeable", "NONCHARGEABLE": "nonchargeable", "EXPENSE": "expense"}


class FileBridgeError(EngineError):
    def __init__(self, problems: Sequence[Problem]) -> None:
        first = problems[0]
        super().__init__(
            f"{first.file}: {len(problems)} problem(s); nothing was imported",
            hint=f"first: row {first.line}, column {first.column}: {first.message}",
        )
        self.problems = tuple(problems)


class _Bad(ValueError):
    """A cell that cannot be read; the message says what was expected."""


# Formula injection (OWASP, CSV injection): a cell starting with = + - @ tab or CR is a
# formula to Excel and LibreOffice. Such cells are written with a leading ', and any run of
# quotes before one of those characters gains one more, so reading takes exactly one off and
# every value comes back as it was. Plain numbers (a negative amount) are left alone.
_FORMULA = re.compile(r"^'*[=+\-@\t\r\n]")  # LF too: XLSX turns a CR into one
_NEUTRALISED = re.compile(r"^'+[=+\-@\t\r\n]")
_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


def neutralise(text: str) -> str:
    return "'" + text if _FORMULA.match(text) and not _NUMBER.match(text) else text


def _restored(text: str) -> str:
    return text[1:] if _NEUTRALISED.match(text) and not _NUMBER.match(text[1:]) else text


# Cell types ------------------------------------------------------------------------------------
def _text(value: Any) -> str | None:
    text = "" if value is None else _restored(str(value).strip())
    return text or None


MAX_DIGITS = 20  # beyond any practice's amounts; Decimal's 28 digits hold these in cents
_DOLLAR = re.compile(r"^([-+]?)\$\s*|\s*\$$")


def _money(value: Any) -> str | None:
    text = _text(value)
    if text is None:
        return None
    try:  # a dollar sign before or after the digits, as currency-formatted cells show it
        amount = read_amount(_DOLLAR.sub(r"\1", text, count=1))
    except NotAnAmount as refused:
        raise _Bad(refused.why) from None
    if not in_cents(amount):
        raise _Bad("expected at most two decimals (1.250 is refused: for 1250 write 1,250.00)")
    if amount.adjusted() >= MAX_DIGITS:
        raise _Bad(f"expected an amount of at most {MAX_DIGITS} digits before the point")
    return str(amount.quantize(CENT))


def _integer(value: Any) -> int | None:
    text = _text(value)
    if text is None:
        return None
    if not re.fullmatch(r"-?[0-9]+(\.0+)?", text):  # 0-9: int() takes every script's
        raise _Bad("expected a whole number")
    return int(Decimal(text))


def _boolean(value: Any) -> bool | None:
    text = _text(value)
    if text is None:
        return None
    folded = text.upper()
    if folded in ("TRUE", "YES", "Y", "1"):
        return True
    if folded in ("FALSE", "NO", "N", "0"):
        return False
    raise _Bad("expected TRUE or FALSE")


def _date(value: Any) -> str | None:
    if isinstance(value, datetime | date):
        return (value.date() if isinstance(value, datetime) else value).isoformat()
    text = _text(value)
    if text is None:
        return None
    for pattern in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(text, pattern).date().isoformat()
        except ValueError:
            continue
    raise _Bad("expected a date like 2026-11-30 or 11/30/2026")


def _choice(options: Mapping[str, str]) -> Callable[[Any], str | None]:
    def read(value: Any) -> str | None:
        text = _text(value)
        if text is None:
            return None
        if text.upper() not in options:
            raise _Bad(f"expected one of {', '.join(options)}")
        return options[text.upper()]

    return read


READERS: dict[str, Callable[[Any], Any]] = {
    "text": _text,
    "money": _money,
    "int": _integer,
    "bool": _boolean,
    "date": _date,
    "node": _choice(_NODE_TYPES),
    "class": _choice(_CLASSES),
}


def _cell(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if kind == "bool":
        return "TRUE" if value else "FALSE"
    if kind == "node":
        return {v: k for k, v in _NODE_TYPES.items()}[value]
    if kind == "class":
        return {v: k for k, v in _CLASSES.items()}[value]
    return neutralise(str(value))


# Layouts ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    header: str
    field: str
    kind: str = "text"
    required: bool = True


@dataclass(frozen=True)
class Sheet:
    name: str
    columns: tuple[Column, ...]


SHEETS: dict[str, Sheet] = {
    s.name: s
    for s in (
        Sheet(
            "clients",
            (
                Column("Client Code", "code"),
                Column("Client Name", "name"),
                Column("Contact", "contact_name", required=False),
                Column("Email", "email", required=False),
                Column("Phone", "phone", required=False),
                Column("Address 1", "address.line1", required=False),
                Column("Address 2", "address.line2", required=False),
                Column("City", "address.city", required=False),
                Column("Province/State", "address.region", required=False),
                Column("Postal Code", "address.postal_code", required=False),
                Column("Country", "address.country", required=False),
                Column("Office", "office", required=False),
                Column("Active", "active", "bool", required=False),
                Column("Terms", "terms_days", "int", required=False),
            ),
        ),
        # TPS's Work Code import, column for column.
        Sheet(
            "work-codes",
            (
                Column("Work ID", "work_id", "int"),
                Column("Work Type", "node_type", "node"),
                Column("Parent", "parent", "int", required=False),
                Column("Type", "class", "class"),
                Column("Rate Level", "rate_level", "int", required=False),
                Column("Work Code", "code"),
                Column("Name", "name"),
                Column("Tax1", "tax1", "bool"),
                Column("Tax2", "tax2", "bool"),
                Column("Tax3", "tax3", "bool"),
            ),
        ),
        # TPS's Import Invoices, column for column; no other columns are allowed there.
        Sheet(
            "invoices",
            (
                Column("Client Code", "client_id"),
                Column("Invoice Number", "doc_number"),
                Column("Amount", "subtotal", "money"),
                Column("Taxes", "tax_total", "money"),
                Column("Date", "date", "date"),
                Column("Description", "description", required=False),
            ),
        ),
        # The lines of the invoices sheet, so invoices can be pushed line by line.
        Sheet(
            "invoice-lines",
            (
                Column("Invoice Number", "invoice_id"),
                Column("Work Code", "work_code"),
                Column("Description", "description", required=False),
                Column("Hours", "hours", required=False),
                Column("Amount", "amount", "money"),
            ),
        ),
        Sheet(
            "payments",
            (
                Column("Client Code", "client_id"),
                Column("Date", "date", "date"),
                Column("Amount", "amount", "money"),
                Column("Method", "method", required=False),
                Column("Reference", "reference", required=False),
                Column("Applied To", "applied_to", required=False),
                Column("Description", "description", required=False),
                Column("Bank Account", "bank_account", required=False),
            ),
        ),
    )
}


# Reading ---------------------------------------------------------------------------------------
def _rows(path: Path) -> Iterator[list[Any]]:
    return sheetio.rows(path)  # encodings, size limits, damaged files: see sheetio


def _set(record: Record, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        record = record.setdefault(part, {})
    record[last] = value


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
        if not any(_text(v) for v in row):
            continue
        record: Record = {"_row": number}
        for column in sheet.columns:
            index = where.get(column.header)
            raw = row[index] if index is not None and index < len(row) else None
            try:
                value = READERS[column.kind](raw)
            except _Bad as bad:
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
                _set(record, column.field, value)
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
        value = _money(amount)
        if not number or value is None or "=" in number:  # "=" left: a comma between two
            raise _Bad("expected INVOICE=AMOUNT; INVOICE=AMOUNT, separated by semicolons")
        applications.append({"invoice_id": number.strip(), "amount": value})
    return applications


def read_payments(path: Path) -> list[Record]:
    records, problems = read_sheet(path, SHEETS["payments"])
    for record in records:
        try:
            record["applications"] = applied_to(record.pop("applied_to", "") or "")
        except _Bad as bad:
            problems.append(
                Problem(
                    display_path(path),
                    record["_row"],
                    _column("payments", "Applied To"),
                    "file.bad-value",
                    f"Applied To: {bad}",
                )
            )
            continue
        applied = sum((Decimal(a["amount"]) for a in record["applications"]), Decimal(0))
        if "amount" in record and applied > Decimal(record["amount"]):
            problems.append(
                Problem(
                    display_path(path),
                    record["_row"],
                    _column("payments", "Applied To"),
                    "file.bad-value",
                    "more is applied than the payment's amount",
                )
            )
        else:
            record["unapplied_amount"] = str(Decimal(record.get("amount", "0")) - applied)
    _require(problems)
    for record, ident in zip(records, payment_ids(records), strict=True):
        record["id"] = ident
        record.update(source="tps", status="active")
    return _clean(records)


_UNSAFE = re.compile(r"[^A-Za-z0-9.\-]+")


def _id_part(value: Any, limit: int = 24) -> str:
    return _UNSAFE.sub("", str(value or "").strip())[:limit]


def payment_ids(payments: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each payment row's id, by what it is rather than where it sits: TPS's export has no
    payment number, and a row number changes whenever an export sorts differently.

    The id is `pay-CLIENT-DATE-AMOUNT[-REFERENCE]`, e.g. `pay-A1-2026-10-05-100.00-CHQ881`.
    Payments sharing all four are told apart by a short digest of the rest of the row
    (method, applications, description, bank account), `~1a2b3c`, then by order (`~2`) only
    when the rows are the same in every column, where which is which makes no difference.
    `payments` are rows as read (or as exported): client code, ISO date, amount,
    applications by invoice number.
    """
    keyed = []
    for position, payment in enumerate(payments):
        amount = Decimal(str(payment.get("amount") or 0)).quantize(Decimal("0.01"))
        parts = [payment.get("client_id"), payment.get("date"), amount, payment.get("reference")]
        base = "-".join(p for p in (_id_part(v) for v in parts) if p)
        rest = (
            str(payment.get("method") or "").strip(),
            "; ".join(
                f"{a['invoice_id']}={Decimal(str(a['amount'])):.2f}"
                for a in payment.get("applications") or []
            ),
            str(payment.get("description") or "").strip(),
            str(payment.get("bank_account") or "").strip(),
        )
        keyed.append((base, rest, position))
    # A suffix by the rest's own digest, not by its place among the others: a payment that
    # appears later (sorting before or after) leaves every other id as it was.
    bases = Counter(base for base, _, _ in keyed)
    ids = [""] * len(keyed)
    seen: dict[str, int] = {}
    for base, rest, position in sorted(keyed):
        ident = f"pay-{base}"
        if bases[base] > 1:
            ident += "~" + hashlib.sha256("\x1f".join(rest).encode()).hexdigest()[:6]
        seen[ident] = seen.get(ident, 0) + 1
        ids[position] = ident + (f"~{seen[ident]}" if seen[ident] > 1 else "")
    return ids


def _clean(records: list[Record]) -> list[Record]:
    for record in records:
        record.pop("_row", None)
        record.pop("parent", None)
        record.pop("work_id", None)
    return records


# Writing ---------------------------------------------------------------------------------------
def _get(record: Mapping[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _cells(sheet: Sheet, record: Mapping[str, Any]) -> list[str]:
    return [_cell(c.kind, _get(record, c.field)) for c in sheet.columns]


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
