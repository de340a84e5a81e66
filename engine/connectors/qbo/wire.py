"""JSON as QBO speaks it: money read as Decimal, Decimal written as a JSON number."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        as_float = float(value)
        if Decimal(repr(as_float)) != value.normalize() and Decimal(repr(as_float)) != value:
            raise ValueError(f"{value} cannot be sent to QBO without losing precision")
        return as_float
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(body: Any) -> str:
    return json.dumps(body, default=_number, ensure_ascii=False)


def loads(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def quote(value: str) -> str:
    """A string literal for the query language: single quotes, with \\' inside."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
