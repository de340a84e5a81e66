"""Amounts written as text, read exactly or refused: the one reading the sheets, the rules'
`money` and `decimal` filters and the TPS client share.

A point separates the decimals; a comma only separates thousands, between groups of three
digits ("1,250.00"). Anything else is refused rather than guessed: dropping the comma of a
decimal-comma locale's "12,50" makes it 1250, a hundred times the amount, and Decimal()
alone would also take "NaN", "Infinity", "1e3", "1_000" and digits of other scripts.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

CENT = Decimal("0.01")

# Digits of any script and Python's 1_000 are exact too: Decimal reads them as written.
_DIGITS = r"\d+(?:_\d+)*"
_AMOUNT = re.compile(
    rf"[-+]?(?:\d{{1,3}}(?:,\d{{3}})+|{_DIGITS})(?:\.(?:{_DIGITS})?)?|[-+]?\.{_DIGITS}"
)
_DECIMAL_COMMA = re.compile(r"[-+]?[\d.,]*,\d{1,2}|[-+]?\d{1,3}(?:\.\d{3})+(?:,\d*)?")
_NOT_FINITE = re.compile(r"[-+]?(?:s?nan\d*|inf|infinity)", re.IGNORECASE)
_EXPONENT = re.compile(r"[-+]?[\d.,]*\d[eE][-+]?\d+")

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
    if "_" not in text:  # Decimal() takes "_1" and "1_": those go the strict way
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
