"""Outbox rows: what the engine wrote for TPS to take in, still waiting to be entered.

Writing adds a row to what is there, so a sheet that does not read back as the engine wrote
it is refused (`pending_rows`), never rewritten from what could be read. Reading takes what
waits as made (`waiting_rows`): TPS holds it once entered, and until then an export has the
old values. A payment or credit made in QBO goes out with its id (`QBO-` and ten hex digits)
as the first word of its Description, which brings the entered record back as the same one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from tpsqbo_engine.connectors.tps import sheetio, sheetlayouts, sheetreading, sheetwriting
from tpsqbo_engine.connectors.tps.client import TpsRejected
from tpsqbo_engine.problems import Problem
from tpsqbo_engine.ruleset.source import display_path

Record = dict[str, Any]


def pending_rows(path: Path, sheet: sheetlayouts.Sheet) -> list[Record]:
    """The rows of an outbox sheet still waiting to be entered in TPS, to be written again
    with one more. A sheet that does not read back whole (a column added to tick rows off,
    a cell retyped) is refused rather than rewritten from what could be read of it: that
    would drop or change rows nobody has entered yet."""
    if not path.is_file():
        return []
    with sheetio.detected():  # written as UTF-8 by the engine, whatever the exports are in
        records, problems = sheetreading.read_sheet(path, sheet)
    if [p for p in problems if p.code != "file.empty"]:  # an emptied sheet holds nothing
        first = sorted(problems)[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise TpsRejected(
            f"{first.file} was changed by hand and is not rewritten, so that none of its rows"
            f" is lost: row {first.line}, column {first.column}: {first.message}{more}",
            code="outbox-changed",
            hint=f"once its rows are entered in TPS, move it out of {path.parent.name}/"
            " (or undo the change to it); the writes for it are Failed until then",
        )
    for record in records:
        record.pop("_row", None)
    return records


def waiting_rows(
    path: Path, sheet: sheetlayouts.Sheet, check: Callable[[Record], str | None] | None = None
) -> list[Record]:
    """The rows of an outbox sheet still to be entered in TPS, as read with the exports:
    a column added by hand is passed over here (writing to that sheet is refused, see
    `pending_rows`); a row that cannot be read (or that `check` finds wrong) stops the
    read, as in any sheet."""
    if not path.is_file():
        return []
    with sheetio.detected():  # written as UTF-8 by the engine, whatever the exports are in
        records, problems = sheetreading.read_sheet(path, sheet, extra_columns=True)
    return checked(path, records, [p for p in problems if p.code != "file.empty"], check)


def checked(
    path: Path,
    records: list[Record],
    problems: list[Problem],
    check: Callable[[Record], str | None] | None = None,
) -> list[Record]:
    """The records read from `path`, once neither the read nor `check` found anything wrong
    with any of them (else every problem together), without their row numbers."""
    for record in records:
        message = check(record) if check is not None else None
        if message:
            problems.append(
                Problem(display_path(path), record["_row"], 1, "file.bad-value", message)
            )
    if problems:
        raise sheetreading.FileBridgeError(sorted(problems))
    for record in records:
        record.pop("_row", None)
    return records


def client_as_changed(row: Record) -> Record:
    """A client as its row in client-changes.csv will leave it: the whole row, as the
    export will have it once entered (`sheetreading.read_clients`)."""
    return {"active": True, **row, "id": row["code"]}


def as_record(row: Record) -> Record:
    """An outbox row read back as the record it was written from: an invoice's total is
    its Amount (before taxes) plus its Taxes."""
    if "subtotal" in row:
        subtotal, tax = Decimal(row["subtotal"]), Decimal(row.get("tax_total") or 0)
        return {**row, "total": str(subtotal + tax)}
    return row


def payment_problem(record: Record) -> str | None:
    """A row of payments-to-enter.csv as the payment TPS holds once it is entered."""
    try:
        record["applications"] = sheetreading.applied_to(record.pop("applied_to", "") or "")
    except ValueError as bad:
        return f"Applied To: {bad}"
    applied = sum((Decimal(a["amount"]) for a in record["applications"]), Decimal(0))
    unapplied = Decimal(record.get("amount") or 0) - applied
    record.update(unapplied_amount=str(unapplied), source="tps", status="active")
    return None


def waiting_entered(
    path: Path, sheet: sheetlayouts.Sheet, known: set[str], check: Callable[[Record], str | None]
) -> list[Record]:
    """The rows the engine wrote to an outbox sheet for TPS to enter (their id the
    Description's first word) that the export does not have yet."""
    rows = waiting_rows(path, sheet, check)
    entered = [(as_entered(row), row) for row in rows]
    return [{**row, "id": ident} for ident, row in entered if ident and ident not in known]


ENTERED_FROM_QBO = re.compile(r"QBO-[0-9a-f]{10}")


def outgoing_id(key: str) -> str:
    return f"QBO-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def entered_as(record: Record) -> str:
    """The id a payment or adjustment entered from the outbox went out with (its
    Description's first word), or ''."""
    words = str(record.get("description") or "").split()
    return words[0] if words and ENTERED_FROM_QBO.fullmatch(words[0]) else ""


def as_entered(record: Record) -> str:
    """The id `record` went out with from the outbox, or ''; its Description is then what
    it was before the id was put in front of it."""
    entered = entered_as(record)
    if entered:
        rest = str(record["description"]).split(maxsplit=1)[1:]
        record["description"] = rest[0] if rest else None
    return entered


def outbox_identity(sheet: sheetlayouts.Sheet, row: Record) -> tuple[str, ...]:
    """What names a row of an outbox sheet, by the sheet's layout: an invoice by its
    number, a client by its code, a void by what it voids, an adjustment by its Reference;
    a payment, which has no number, by every column (two rows the same in every column are
    one payment to TPS's import all the same)."""
    if sheet.name == "invoices":
        return ("doc", str(row.get("doc_number") or ""))
    if sheet.name == "clients":
        return ("id", str(row.get("code") or row.get("id") or ""))
    if sheet.name == "voids":
        return (str(row.get("kind") or "").lower(), str(row.get("number") or ""))
    if sheet.name == "adjustments":
        return (str(row.get("id") or ""),)
    return row_cells(sheet, row)


def row_cells(sheet: sheetlayouts.Sheet, row: Record) -> tuple[str, ...]:
    """Every cell of `row` as its sheet holds it, whether read back or about to be written:
    amounts to the cent, text trimmed."""
    if "applications" in row:
        [row] = sheetwriting.payment_rows([row])
    return tuple(
        str(Decimal(str(row.get(c.field) or 0)).quantize(Decimal("0.01")))
        if c.kind == "money"
        else str(row.get(c.field) or "").strip()
        for c in sheet.columns
    )
