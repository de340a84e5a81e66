"""Decimal money for the emulator: parse what clients send, round the way QBO does."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from tpsqbo_engine.emulators.qbo.faults import Fault

CENT = Decimal("0.01")
ZERO = Decimal("0")


def amount(value: Any, element: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise Fault(
            "2010",
            "Request has invalid or unsupported property",
            f"{element} must be a number",
            element=element,
        )
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise Fault(
            "2010",
            "Request has invalid or unsupported property",
            f"{element} must be a number",
            element=element,
        ) from None


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)
