"""What of a TPS payment goes across when part of it paid invoices that stay out.

The initial sync leaves fully paid invoices out. A cheque that paid one of those and an
open invoice, or that paid more than was owed, still carries A/R the other system must see:
the open invoice's part, and the unapplied rest (a credit). Those go across as one payment
of that amount; the part that paid left-out invoices stays out with them.
"""

from __future__ import annotations

from collections.abc import Container
from decimal import Decimal
from typing import Any

from tpsqbo_engine.filters import ExpressionError, to_decimal

Record = dict[str, Any]


def left_out_part(
    payment: Record, left_out: Container[str]
) -> tuple[tuple[Record, str] | None, str | None]:
    """What of `payment` stays out with invoices left out, as (the payment as it goes
    across and what was taken off, or None when nothing was or nothing open is left; the
    first invoice it paid, when it paid only invoices that stay out and left nothing
    unapplied, so that the whole payment stays out with them, or None)."""
    applications = payment.get("applications") or []
    dropped = [a for a in applications if _invoice(a) in left_out]
    if not dropped:  # most payments: nothing of theirs stays out
        return None, None
    kept = [a for a in applications if _invoice(a) not in left_out]
    taken = sum((_amount(a.get("amount"), "an application's") for a in dropped), Decimal(0))
    amount = _amount(payment.get("amount"), "the payment's") - taken
    if amount <= 0:
        return None, None if kept else _invoice(dropped[0])
    names = ", ".join(str(a.get("invoice_id")) for a in dropped)
    carried = {**payment, "applications": kept, "amount": str(amount.quantize(Decimal("0.01")))}
    return (
        carried,
        f"carried with its open part, {carried['amount']} of {payment.get('amount')}: "
        f"{taken:.2f} paid {names}, fully paid and left out of the initial sync",
    ), None


def _amount(value: Any, whose: str) -> Decimal:
    try:
        return to_decimal(value or 0)
    except ExpressionError as exc:
        raise ExpressionError(f"{whose} amount: {exc.message}") from None


def _invoice(application: Record) -> str:
    return f"tps.Invoice:{application.get('invoice_id')}"
