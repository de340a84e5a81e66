"""Request bodies as both emulators read them: JSON that cannot crash the server.

A real service answers a malformed body with a 4xx and a JSON error, so the emulators do too:
a body that is not UTF-8, nested past `MAX_DEPTH` (which would exhaust Python's recursion
before `json` could say no), holding `NaN`/`Infinity` or a number too big to be finite, or
not JSON at all raises `BadBody`, whose message says which, and each emulator maps it onto its
own error shape.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

MAX_DEPTH = 64
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


class BadBody(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def json_default(value: Any) -> Any:
    """`json.dumps`'s fallback for the Decimals bodies are read as: a JSON number again. QBO
    sends amounts as doubles and two-decimal amounts survive the round trip; the TPS
    contract's money is text, so there only a client's own extra fields pass here."""
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(type(value).__name__)


def _no_constant(name: str) -> Any:
    raise BadBody(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise BadBody(f"the number {text[:20]} is too large")
    return number


def depth(text: str) -> int:
    """How deeply arrays and objects nest, strings skipped (a C-speed scan, no recursion)."""
    deepest = current = 0
    for match in _TOKENS.finditer(text):
        mark = match.group()
        if mark in "[{":
            current += 1
            deepest = max(deepest, current)
        elif mark in "]}":
            current -= 1
    return deepest


def parse_json(raw: bytes | str, parse_float: Callable[[str], Any] = _finite) -> Any:
    """The body's JSON value; `BadBody` for anything a service would refuse."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise BadBody(f"the body is not UTF-8 (byte {exc.start})") from None
    if depth(text) > MAX_DEPTH:
        raise BadBody(f"the body nests more than {MAX_DEPTH} levels deep")
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=parse_float)
    except json.JSONDecodeError as exc:
        raise BadBody(f"the body is not JSON (line {exc.lineno}, column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:  # int digit limits, RecursionError as a net
        if isinstance(exc, BadBody):
            raise
        raise BadBody("the body holds a value JSON cannot carry") from None


__all__ = ["MAX_DEPTH", "BadBody", "depth", "parse_json"]
