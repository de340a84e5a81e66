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

Record = dict[str, Any]


def open_part(payment: Record, left_out: Container[str]) -> tuple[Record, str] | None:
    """(the payment as it goes across, what was taken off), or None when nothing was, or
    when nothing open is left (the whole payment stays out with its invoices)."""
    kept, dropped, amount = _split(payment, left_out)
    if not dropped or amount <= 0:
        return None
    names = ", ".join(str(a.get("invoice_id")) for a in dropped)
    carried = {**payment, "applications": kept, "amount": str(amount.quantize(Decimal("0.01")))}
    taken = Decimal(str(payment.get("amount") or 0)) - amount
    return carried, (
        f"carried with its open part, {carried['amount']} of {payment.get('amount')}: "
        f"{taken:.2f} paid {names}, fully paid and left out of the initial sync"
    )


def paid_out(payment: Record, left_out: Container[str]) -> str | None:
    """The first invoice a payment paid, when it paid only invoices that stay out and left
    nothing unapplied: the whole payment stays out with them (None otherwise)."""
    kept, dropped, amount = _split(payment, left_out)
    if kept or not dropped or amount > 0:
        return None
    return _invoice(dropped[0])


def _split(payment: Record, left_out: Container[str]) -> tuple[list[Record], list[Record], Decimal]:
    """The applications to invoices that go across, those to invoices left out, and the
    amount left once the second are taken off."""
    applications = payment.get("applications") or []
    kept = [a for a in applications if _invoice(a) not in left_out]
    dropped = [a for a in applications if _invoice(a) in left_out]
    taken = sum((Decimal(str(a.get("amount") or 0)) for a in dropped), Decimal(0))
    return kept, dropped, Decimal(str(payment.get("amount") or 0)) - taken


def _invoice(application: Record) -> str:
    return f"tps.Invoice:{application.get('invoice_id')}"
