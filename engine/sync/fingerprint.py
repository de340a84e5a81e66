"""What a QBO record holds apart from what QBO itself keeps up to date.

QBO moves an invoice's (or credit memo's, or bill's) SyncToken and LastUpdatedTime on when a
payment applied to it is created, changed, voided or deleted: its Balance and LinkedTxn change
though nobody edited it. `undo` asks "did anyone change what run N left?"; comparing versions
alone would answer yes for every invoice paid since. The fingerprint leaves out those fields,
so a record whose fingerprint is the one run N left was changed only by QBO's own bookkeeping.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

# Fields QBO computes or stamps; a client never writes them.
SERVER_FIELDS = frozenset(
    {
        "SyncToken",
        "MetaData",
        "Balance",
        "BalanceWithJobs",
        "RemainingCredit",
        "UnappliedAmt",
        "domain",
        "sparse",
        "status",
    }
)
# LinkedTxn entries QBO adds to what a payment pays; other links (an estimate) are written.
PAYMENT_LINKS = frozenset({"Payment", "BillPayment", "ReceivePayment"})


def fingerprint(record: dict[str, Any]) -> str:
    kept = {k: v for k, v in record.items() if k not in SERVER_FIELDS}
    links = [
        link
        for link in kept.pop("LinkedTxn", None) or []
        if not (isinstance(link, dict) and link.get("TxnType") in PAYMENT_LINKS)
    ]
    if links:  # none, null and [] are all "no links"
        kept["LinkedTxn"] = links
    text = json.dumps(kept, sort_keys=True, default=_number, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _number(value: Any) -> str:
    # 100.0 and 100.00 are the same amount, whichever way a response spelled it.
    if isinstance(value, Decimal):
        return str(value.normalize()) if value else "0"
    if isinstance(value, float):
        return _number(Decimal(str(value)))
    raise TypeError(f"not JSON: {type(value).__name__}")
