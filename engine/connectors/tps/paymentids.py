"""A TPS payment's id in the file bridge. TPS's payment export has no payment number, so the
id is made from what the payment is (client, date, amount, reference), the same however the
rows of an export are sorted.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal
from typing import Any

_UNSAFE = re.compile(r"[^A-Za-z0-9.\-]+")


def _id_part(value: Any, limit: int = 24) -> str:
    return _UNSAFE.sub("", str(value or "").strip())[:limit]


def payment_ids(
    payments: Sequence[Mapping[str, Any]], known: Collection[str] = frozenset()
) -> list[str]:
    """Each payment row's id, by what it is rather than where it sits: TPS's export has no
    payment number, and a row number changes whenever an export sorts differently.

    The id is `pay-CLIENT-DATE-AMOUNT[-REFERENCE]`, e.g. `pay-A1-2026-10-05-100.00-CHQ881`.
    Payments sharing all four are told apart by a short digest of the rest of the row
    (method, description, bank account), `~1a2b3c`, then by order (`~2`: by applications,
    then by row) only when the rows are the same in those: payments alike in all but what
    they pay, where which is which makes no difference to either book. The applications
    are not in the digest: attaching an unapplied payment to an invoice later is routine in
    TPS and leaves the payment the one it was.
    `known` are the ids an earlier read gave (the payments the sync has linked): a twin whose
    id is new while a known id of the same four is gone from this export is that payment,
    edited in TPS (its description, say), and keeps the known id.
    `payments` are rows as read (or as exported): client code, ISO date, amount,
    applications by invoice number.
    """
    keyed = [(*_what_it_is(payment), position) for position, payment in enumerate(payments)]
    # A suffix by the rest's own digest, not by its place among the others: a payment that
    # appears later (sorting before or after) leaves every other id as it was.
    counts = Counter(base for base, *_ in keyed)
    ids, twins = [""] * len(keyed), [""] * len(keyed)
    seen: dict[str, int] = {}
    for base, rest, _, position in sorted(keyed):
        twins[position] = (
            f"pay-{base}~" + hashlib.sha256("\x1f".join(rest).encode()).hexdigest()[:6]
        )
        ident = twins[position] if counts[base] > 1 else f"pay-{base}"
        seen[ident] = seen.get(ident, 0) + 1
        ids[position] = ident + (f"~{seen[ident]}" if seen[ident] > 1 else "")
    if not known:
        return ids
    # A payment entered from the outbox is known by the id it went out with instead.
    from tpsqbo_engine.connectors.tps.outboxrows import entered_as  # (it reads sheets too)

    for position, payment in enumerate(payments):
        twins[position] = "" if entered_as(dict(payment)) else twins[position]
    return _carried(ids, twins, known)


def _what_it_is(payment: Mapping[str, Any]) -> tuple[str, tuple[str, ...], str]:
    """(the four, the rest the digest is of, the applications)."""
    amount = Decimal(str(payment.get("amount") or 0)).quantize(Decimal("0.01"))
    parts = [payment.get("client_id"), payment.get("date"), amount, payment.get("reference")]
    base = "-".join(p for p in (_id_part(v) for v in parts) if p)
    rest = (
        str(payment.get("method") or "").strip(),
        "",  # once the applications: kept empty so that ids given before stay as they were
        str(payment.get("description") or "").strip(),
        str(payment.get("bank_account") or "").strip(),
    )
    # Only to order rows alike in all else, so that the export's order does not decide.
    applied = "; ".join(
        f"{a['invoice_id']}={Decimal(str(a['amount'])):.2f}"
        for a in payment.get("applications") or []
    )
    return base, rest, applied


def _carried(ids: list[str], twins: list[str], known: Collection[str]) -> list[str]:
    """`ids` with each new one taking a known id this export no longer has of a payment alike
    in the four (`twins`: each row's id as a twin, '' for none): one payment edited, not one
    gone and another come, which would send a second copy of it to QBO. The known id made
    from the same row, if any, first (a payment whose twin is gone)."""
    present = set(ids)
    gone: dict[str, list[str]] = {}
    for ident in sorted(known):
        if ident not in present:
            gone.setdefault(ident.split("~", 1)[0], []).append(ident)
    carried = list(ids)
    for position in sorted(range(len(ids)), key=lambda p: ids[p]):
        waiting = gone.get(twins[position].split("~", 1)[0]) if twins[position] else None
        if ids[position] in known or not waiting:
            continue
        same = [i for i in waiting if i == twins[position] or i.startswith(twins[position] + "~")]
        carried[position] = (same or waiting)[0]
        waiting.remove(carried[position])
    return carried
