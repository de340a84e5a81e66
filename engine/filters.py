"""The engine's own filters for rule values (`money`, `qbo_display_name`, `merge_by`...), the
allow-lists of Jinja's filters, tests and names, and the error a rule expression raises when
it fails for one record.

Each filter takes what rules give it (text, numbers, lists of lines) and either answers or
raises ExpressionError, which the evaluation reports located at the rule's file and line.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from tpsqbo_engine.amounts import CENT as CENT  # expr.py exports it
from tpsqbo_engine.amounts import NOT_FINITE, UNREADABLE, NotAnAmount, read_amount
from tpsqbo_engine.errors import EngineError


class ExpressionError(EngineError):
    """A rule expression failed for one record; the message names the rule, not the data."""


def to_decimal(value: Any) -> Decimal:
    """An amount exactly as written: a comma only between groups of three digits, never NaN,
    Infinity or an exponent (engine/amounts.py); refused with ExpressionError otherwise."""
    if isinstance(value, str):  # most: "1250.00" as TPS sends it; Markup too
        try:
            return read_amount(str(value))
        except NotAnAmount as refused:
            raise ExpressionError(refused.why) from None
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        amount = Decimal(str(value))
    elif isinstance(value, dict) and UNREADABLE in value:
        raise ExpressionError(str(value[UNREADABLE]))  # what the reader said of it
    else:
        raise ExpressionError(f"expected an amount, got {type(value).__name__}")
    if not amount.is_finite():
        raise ExpressionError(NOT_FINITE)
    return amount


def money(value: Any) -> Decimal:
    """Rounds to cents, half up, the way QBO stores amounts."""
    # Most are Decimals already (TPS's amounts, as the client reads them): taken as they are.
    amount = value if type(value) is Decimal and value.is_finite() else to_decimal(value)
    try:
        return amount.quantize(CENT, ROUND_HALF_UP)  # (a keyword costs half as much again)
    except InvalidOperation:  # more digits than Decimal's 28 hold once in cents
        raise ExpressionError("expected an amount of at most 26 digits before the point") from None


_NAME_FORBIDDEN = re.compile(r"[:\t\n\r]")


def qbo_name(value: Any, limit: int = 100) -> str:
    """A QBO list name: no colon, tab or newline, at most `limit` characters."""
    text = _NAME_FORBIDDEN.sub(" ", str(value))
    return " ".join(text.split())[:limit].rstrip()


def qbo_display_name(value: Any) -> str:
    return qbo_name(value, limit=500)


# A company suffix and the legal form it marks: spellings of one form are the same.
LEGAL_FORMS = {
    "inc": "Inc",
    "incorporated": "Inc",
    "ltd": "Ltd",
    "limited": "Ltd",
    "llc": "LLC",
    "llp": "LLP",
    "corp": "Corp",
    "corporation": "Corp",
    "co": "Co",
    "company": "Co",
    "plc": "PLC",
    "pc": "PC",
}
_COMPANY_SUFFIXES = re.compile(r"\b(" + "|".join(LEGAL_FORMS) + r")\b\.?", re.I)


def _folded(value: Any) -> str:
    text = unicodedata.normalize("NFKD", str(value))
    return "".join(c for c in text if not unicodedata.combining(c)).casefold()


def normalize_name(value: Any) -> str:
    """Folds case, accents, punctuation and company suffixes: 'ABC, Inc.' == 'abc inc' == 'ABC'."""
    text = _folded(value).replace("&", " and ")
    text = _COMPANY_SUFFIXES.sub(" ", text)
    text = re.sub(r"[^\w]+", " ", text)
    return " ".join(text.split())


def legal_forms(value: Any) -> frozenset[str]:
    """The legal forms a company name's suffixes mark ('Maple Leaf Limited' -> {'Ltd'}):
    what normalize_name folds away, kept to tell two companies of one name apart."""
    return frozenset(LEGAL_FORMS[found] for found in _COMPANY_SUFFIXES.findall(_folded(value)))


def other_legal_forms(a: Any, b: Any) -> bool:
    """True when two names mark different legal entities: each carries a legal form the
    other lacks ('Harbour Lights Inc.', 'Harbour Lights Ltd.'). A name without one, or with
    fewer ('Smith & Co' of 'Smith & Co Ltd'), is the same company written short."""
    ours, theirs = legal_forms(a), legal_forms(b)
    return bool(ours - theirs) and bool(theirs - ours)


def normalize_email(value: Any) -> str:
    return str(value).strip().casefold()


_MERGED_AMOUNTS = ("amount", "hours", "markup")


def merge_by(items: Iterable[Mapping[str, Any]], key: str) -> list[dict[str, Any]]:
    """Merges items sharing `key`: amounts summed, descriptions joined, first-seen order.

    A description is left out when it is the whole text joined so far (two lines of the
    same text make one). The texts of a group are kept as parts and joined once at the end:
    joining the growing text at every line made thousands of lines quadratic."""
    merged: dict[Any, dict[str, Any]] = {}
    texts: dict[Any, _Joined] = {}  # the groups merged, with their descriptions so far
    for item in items:
        # not `.get`'s AttributeError: a TypeError is said as a filter given the wrong kind
        if type(item) is not dict and not isinstance(item, Mapping):
            raise TypeError("an item that is not a mapping")
        name = item.get(key)
        group = merged.get(name)
        if group is None:
            merged[name] = dict(item)
            continue
        for amount in _MERGED_AMOUNTS:
            if item.get(amount) is not None:
                group[amount] = str(to_decimal(group.get(amount) or 0) + to_decimal(item[amount]))
        joined = texts.get(name)
        if joined is None:
            joined = texts[name] = _Joined(group.get("description"))
            group["description"] = None  # where the key goes, as when it is written each time
        joined.add(item.get("description"))
    for name, joined in texts.items():
        merged[name]["description"] = "; ".join(joined.parts) or None
    return list(merged.values())


class _Joined:
    """The texts "; ".join would make of a group's descriptions, kept as parts; its `size`
    is that text's length, so the text itself is made only to compare a description of the
    same length with it."""

    __slots__ = ("parts", "size")

    def __init__(self, first: Any) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.add(first)

    def add(self, text: Any) -> None:
        if not text:
            return
        if not isinstance(text, str):
            raise TypeError("a description that is not text")  # as the join would
        if len(text) == self.size and text == "; ".join(self.parts):
            return
        self.size += len(text) + (2 if self.parts else 0)
        self.parts.append(text)


def linked_types(lines: Iterable[Mapping[str, Any]] | None) -> list[str]:
    """The TxnTypes a QBO transaction's lines link to (e.g. a Payment using a CreditMemo)."""
    found = {link.get("TxnType") for line in lines or () for link in line.get("LinkedTxn") or ()}
    return sorted(t for t in found if t)


def as_date(value: Any, fmt: str = "") -> Any:
    parsed = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return parsed.strftime(fmt) if fmt else parsed


ENGINE_FILTERS: dict[str, Callable[..., Any]] = {
    "money": money,
    "decimal": to_decimal,
    "qbo_name": qbo_name,
    "qbo_display_name": qbo_display_name,
    "normalize_name": normalize_name,
    "normalize_email": normalize_email,
    "merge_by": merge_by,
    "linked_types": linked_types,
    "date": as_date,
}
# The filters and tests of Jinja's own that rules may use; every other one is removed.
JINJA_FILTERS = frozenset(
    {
        "abs",
        "default",
        "first",
        "join",
        "last",
        "length",
        "lower",
        "max",
        "min",
        "replace",
        "round",
        "string",
        "sum",
        "title",
        "trim",
        "truncate",
        "upper",
        "int",
        "capitalize",
        "escape",
        "e",
        "center",
        "wordwrap",
        "batch",
        "map",
        "selectattr",
        "rejectattr",
        "unique",
        "sort",
        "list",
        "format",
    }
)
ALLOWED_TESTS = frozenset(
    {
        "none",
        "string",
        "number",
        "true",
        "false",
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "in",
        "defined",
        "undefined",
        "odd",
        "even",
        "sameas",
        "mapping",
        "sequence",
    }
)
# Names that were globals in plain Jinja, or reach interpreter internals: never available.
FORBIDDEN_NAMES = frozenset(
    {
        "range",
        "dict",
        "lipsum",
        "cycler",
        "joiner",
        "namespace",
        "self",
        "config",
        "request",
        "loop_controls",
        "__builtins__",
        "globals",
        "locals",
        "vars",
        "getattr",
        "eval",
        "exec",
    }
)
