"""Amounts written as text, read exactly or refused: the one reading the sheets, the rules'
`money` and `decimal` filters and the TPS client share.

A point separates the decimals; a comma only separates thousands, between groups of three
digits ("1,250.00"). Anything else is refused rather than guessed: dropping the comma of a
decimal-comma locale's "12,50" makes it 1250, a hundred times the amount, and Decimal()
alone would also take "NaN", "Infinity", "1e3", "1_000" and digits of other scripts. A
bookkeeper's "1_000" is a typo, and digits other than 0-9 (Arabic-Indic, full-width...) are
refused too, each with what to write instead.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")

# re.ASCII: \d is 0-9 only, where Python's \d (and Decimal) take the digits of every script.
_AMOUNT = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|[-+]?\.\d+", re.ASCII)
_DECIMAL_COMMA = re.compile(r"[-+]?[\d.,]*,\d{1,2}|[-+]?\d{1,3}(?:\.\d{3})+(?:,\d*)?", re.ASCII)
_NOT_FINITE = re.compile(r"[-+]?(?:s?nan\d*|inf|infinity)", re.IGNORECASE | re.ASCII)
_EXPONENT = re.compile(r"[-+]?[\d.,]*\d[eE][-+]?\d+", re.ASCII)
_DIGITS_AND_MARKS = re.compile(r"[-+]?[\d_.,]*\d[\d_.,]*", re.ASCII)  # "1_000.50" for one

EXAMPLE = "an amount like 1250.00 or 1,250.00"
# An amount a system sent that is not one, kept in its record as {UNREADABLE: why} (plain
# data: the mirror and plan files keep it): `money` and `decimal` refuse it with the why, so
# the records reading it fail alone, each with the reader's message.
UNREADABLE = "$unreadable"
NOT_FINITE = f"expected {EXAMPLE}, got NaN or Infinity, which is not a number"


class NotAnAmount(ValueError):
    """Text that is not an amount; the message says why and how it should be written."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def read_amount(text: str) -> Decimal:
    """The amount `text` spells (spaces around it allowed), or NotAnAmount."""
    if text.isascii() and "_" not in text:  # Decimal() takes 1_000 and other digits
        try:  # most: "1250.00"; past Decimal(), only NaN, Infinity and exponents to refuse
            amount = Decimal(text)
        except InvalidOperation:
            pass  # thousands commas, or not an amount
        else:
            if amount.is_finite() and "e" not in text and "E" not in text:
                return amount
    plain = text.strip()
    if _AMOUNT.fullmatch(plain):
        return Decimal(plain.replace(",", ""))
    raise NotAnAmount(why_not(plain))


def why_not(text: str) -> str:
    """What is wrong with text that is not an amount, said without repeating it (it is a
    record's data)."""
    if any(c.isdigit() and not c.isascii() for c in text):
        return (
            f"expected {EXAMPLE}, got digits other than 0-9 (another script's, or "
            "full-width): write the amount with the digits 0 to 9"
        )
    if "_" in text and _DIGITS_AND_MARKS.fullmatch(text):
        return (
            f"expected {EXAMPLE}, got a number with an underscore (1_000), a typo in an "
            "amount: write 1000 or 1,000"
        )
    if _DECIMAL_COMMA.fullmatch(text):
        return (
            f"expected {EXAMPLE}, got a decimal comma, which is not a number here: a comma "
            "only separates thousands (write 12.50, not 12,50; 1250.00, not 1.250,00)"
        )
    if _NOT_FINITE.fullmatch(text):
        return NOT_FINITE
    if _EXPONENT.fullmatch(text):
        return f"expected {EXAMPLE}, got a number with an exponent (1e3): write it in full"
    if "," in text:
        return (
            f"expected {EXAMPLE}, got text that is not a number: a comma only separates "
            "groups of three digits"
        )
    return f"expected {EXAMPLE}, got text that is not a number"


def unreadable(why: str) -> dict[str, str]:
    return {UNREADABLE: why}


def in_cents(amount: Decimal) -> bool:
    """Whether `amount` is finite with at most two decimal places as written: "1.250" is
    refused, not read as 1.25, since a decimal-comma locale writes 1250 so."""
    exponent = amount.as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -2


def finite_number(value: Any, *, texts: bool = False) -> Decimal | None:
    """`value` as a finite Decimal when it is a number (with `texts`, a text spelling one as
    Decimal reads it, too), never a bool; else None. For comparing values as numbers, not for
    reading what people typed (read_amount)."""
    kinds = (int, float, Decimal, str) if texts else (int, float, Decimal)
    if isinstance(value, bool) or not isinstance(value, kinds):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None
