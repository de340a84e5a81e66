"""A TPS payment's id in the file bridge. TPS's payment export has no payment number, so the
id is made from what the payment is (client, date, amount, reference), the same however the
rows of an export are sorted.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

_UNSAFE = re.compile(r"[^A-Za-z0-9.\-]+")


def _id_part(value: Any, limit: int = 24) -> str:
    return _UNSAFE.sub("", str(value or "").strip())[:limit]


def payment_ids(payments: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each payment row's id, by what it is rather than where it sits: TPS's export has no
    payment number, and a row number changes whenever an export sorts differently.

    The id is `pay-CLIENT-DATE-AMOUNT[-REFERENCE]`, e.g. `pay-A1-2026-10-05-100.00-CHQ881`.
    Payments sharing all four are told apart by a short digest of the rest of the row
    (method, applications, description, bank account), `~1a2b3c`, then by order (`~2`) only
    when the rows are the same in every column, where which is which makes no difference.
    `payments` are rows as read (or as exported): client code, ISO date, amount,
    applications by invoice number.
    """
    keyed = []
    for position, payment in enumerate(payments):
        amount = Decimal(str(payment.get("amount") or 0)).quantize(Decimal("0.01"))
        parts = [payment.get("client_id"), payment.get("date"), amount, payment.get("reference")]
        base = "-".join(p for p in (_id_part(v) for v in parts) if p)
        rest = (
            str(payment.get("method") or "").strip(),
            "; ".join(
                f"{a['invoice_id']}={Decimal(str(a['amount'])):.2f}"
                for a in payment.get("applications") or []
            ),
            str(payment.get("description") or "").strip(),
            str(payment.get("bank_account") or "").strip(),
        )
        keyed.append((base, rest, position))
    # A suffix by the rest's own digest, not by its place among the others: a payment that
    # appears later (sorting before or after) leaves every other id as it was.
    bases = Counter(base for base, _, _ in keyed)
    ids = [""] * len(keyed)
    seen: dict[str, int] = {}
    for base, rest, position in sorted(keyed):
        ident = f"pay-{base}"
        if bases[base] > 1:
            ident += "~" + hashlib.sha256("\x1f".join(rest).encode()).hexdigest()[:6]
        seen[ident] = seen.get(ident, 0) + 1
        ids[position] = ident + (f"~{seen[ident]}" if seen[ident] > 1 else "")
    return ids
