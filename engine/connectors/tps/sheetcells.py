"""One cell of a TPS sheet, read and written by its kind (text, money, int, bool, date, work
code node and class): the rules that hold for every sheet, apart from which columns it has.

Money is read to the cent as text, never float, whatever currency formatting a person left on
it. Every text cell is written so no spreadsheet takes it for a formula, and read back as it
was (`neutralise`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tpsqbo_engine.amounts import CENT, NotAnAmount, in_cents, read_amount

_NODE_TYPES = {"TYPE": "type", "SUBTYPE": "subtype", "WORK CODE": "work_code"}
_CLASSES = {"CHARGEABLE": "chargeable", "NONCHARGEABLE": "nonchargeable", "EXPENSE": "expense"}


class BadCell(ValueError):
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
def cell_text(value: Any) -> str | None:
    text = "" if value is None else _restored(str(value).strip())
    return text or None


MAX_DIGITS = 20  # beyond any practice's amounts; Decimal's 28 digits hold these in cents
_DOLLAR = re.compile(r"^([-+]?)\$\s*|\s*\$$")


def cell_money(value: Any) -> str | None:
    text = cell_text(value)
    if text is None:
        return None
    try:  # a dollar sign before or after the digits, as currency-formatted cells show it
        amount = read_amount(_DOLLAR.sub(r"\1", text, count=1))
    except NotAnAmount as refused:
        raise BadCell(refused.why) from None
    if not in_cents(amount):
        raise BadCell("expected at most two decimals (1.250 is refused: for 1250 write 1,250.00)")
    if amount.adjusted() >= MAX_DIGITS:
        raise BadCell(f"expected an amount of at most {MAX_DIGITS} digits before the point")
    return str(amount.quantize(CENT))


def _integer(value: Any) -> int | None:
    text = cell_text(value)
    if text is None:
        return None
    if not re.fullmatch(r"-?[0-9]+(\.0+)?", text):  # 0-9: int() takes every script's
        raise BadCell("expected a whole number")
    return int(Decimal(text))


def _boolean(value: Any) -> bool | None:
    text = cell_text(value)
    if text is None:
        return None
    folded = text.upper()
    if folded in ("TRUE", "YES", "Y", "1"):
        return True
    if folded in ("FALSE", "NO", "N", "0"):
        return False
    raise BadCell("expected TRUE or FALSE")


def _date(value: Any) -> str | None:
    if isinstance(value, datetime | date):
        return (value.date() if isinstance(value, datetime) else value).isoformat()
    text = cell_text(value)
    if text is None:
        return None
    for pattern in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(text, pattern).date().isoformat()
        except ValueError:
            continue
    raise BadCell("expected a date like 2026-11-30 or 11/30/2026")


def _choice(options: Mapping[str, str]) -> Callable[[Any], str | None]:
    def read(value: Any) -> str | None:
        text = cell_text(value)
        if text is None:
            return None
        if text.upper() not in options:
            raise BadCell(f"expected one of {', '.join(options)}")
        return options[text.upper()]

    return read


READERS: dict[str, Callable[[Any], Any]] = {
    "text": cell_text,
    "money": cell_money,
    "int": _integer,
    "bool": _boolean,
    "date": _date,
    "node": _choice(_NODE_TYPES),
    "class": _choice(_CLASSES),
}


def written_cell(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if kind == "bool":
        return "TRUE" if value else "FALSE"
    if kind == "node":
        return {v: k for k, v in _NODE_TYPES.items()}[value]
    if kind == "class":
        return {v: k for k, v in _CLASSES.items()}[value]
    return neutralise(str(value))
