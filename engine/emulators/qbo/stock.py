"""Quantity on hand of inventory items, moved by the transactions that sell and buy them.

QBO lowers an inventory item's `QtyOnHand` when an invoice or sales receipt sells it, raises
it when a bill or expense buys it, and undoes that when the transaction changes, is voided
(its lines become 0) or is deleted. Each transaction's moves are remembered so that any of
those applies only the difference.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tpsqbo_engine.emulators.qbo.company import Company

Record = dict[str, Any]
SIGNS = {
    "Invoice": -1,
    "SalesReceipt": -1,
    "CreditMemo": 1,
    "RefundReceipt": 1,
    "Bill": 1,
    "Purchase": 1,
    "VendorCredit": -1,
}


def moves(company: Company, entity: str, record: Record | None) -> dict[str, Decimal]:
    """item id -> quantity the record adds to (or takes from) the stock."""
    sign = SIGNS.get(entity)
    if sign is None or record is None:
        return {}
    selling = entity in ("Invoice", "SalesReceipt", "CreditMemo", "RefundReceipt")
    key = "SalesItemLineDetail" if selling else "ItemBasedExpenseLineDetail"
    found: dict[str, Decimal] = {}
    for line in record.get("Line") or []:
        detail = line.get(key) or {}
        item_id = str((detail.get("ItemRef") or {}).get("value"))
        item = company.table("Item").get(item_id)
        if (
            item is None
            or item.get("Type") != "Inventory"
            or not Decimal(str(line.get("Amount") or 0))
        ):
            continue  # a voided transaction's lines are 0 and move nothing
        found[item_id] = found.get(item_id, Decimal(0)) + sign * Decimal(
            str(detail.get("Qty") or 1)
        )
    return found


def move(company: Company, entity: str, txn_id: str, record: Record | None) -> None:
    """Applies what changed in one transaction's moves (record None: it was deleted)."""
    new = moves(company, entity, record)
    old = company.stock_moves.pop(txn_id, {})
    if new:
        company.stock_moves[txn_id] = new
    for item_id in set(new) | set(old):
        change = new.get(item_id, Decimal(0)) - old.get(item_id, Decimal(0))
        item = company.table("Item").get(item_id)
        if item is not None and change:
            item["QtyOnHand"] = Decimal(str(item.get("QtyOnHand") or 0)) + change


def remember(company: Company) -> None:
    """After loading saved state: the quantities are stored, the moves derived again."""
    company.stock_moves = {}
    for entity in SIGNS:
        for record in company.table(entity).values():
            found = moves(company, entity, record)
            if found:
                company.stock_moves[record["Id"]] = found
