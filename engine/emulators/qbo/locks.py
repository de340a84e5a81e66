"""What QBO will not change once another transaction depends on it.

- A sales form or bill that a payment applies to is neither voided nor deleted while the
  payment is linked (6000): the money received would be left applied to nothing.
- A payment or receipt that a deposit took out of Undeposited Funds keeps its amount, its
  customer, where its money went and what it pays, and is neither voided nor deleted, while
  the deposit holds it (6540 "Deposited Transaction cannot be changed"). Its memo, reference
  number, date and payment method still change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tpsqbo_engine.emulators.qbo import faults, sales

if TYPE_CHECKING:
    from tpsqbo_engine.emulators.qbo.company import Company

Record = dict[str, Any]
# What a deposit line may take out of Undeposited Funds (REF Deposit `LinkedTxn`).
DEPOSITABLE = frozenset({"Payment", "SalesReceipt", "RefundReceipt"})


def refuse_if_paid(company: Company, ident: str, doing: str) -> None:
    """`doing` ("voiding", "deleting") a transaction a payment is applied to."""
    if company.index.payments_of(ident):
        raise faults.business(
            "This transaction is linked to other transactions "
            f"(payments). Unlink them before {doing} it."
        )


def deposit_of(company: Company, entity: str, ident: str) -> str | None:
    """The Id of the deposit whose lines take this payment or receipt, if one does."""
    if entity not in DEPOSITABLE:
        return None
    for deposit in company.table("Deposit").values():
        for line in deposit.get("Line") or []:
            for link in line.get("LinkedTxn") or []:
                if str(link.get("TxnId")) == ident and link.get("TxnType") == entity:
                    return str(deposit["Id"])
    return None


def refuse_if_deposited(company: Company, entity: str, ident: str, doing: str) -> None:
    deposit = deposit_of(company, entity, ident)
    if deposit is not None:
        raise deposited(entity, ident, deposit, doing)


def refuse_deposited_change(company: Company, entity: str, current: Record, record: Record) -> None:
    """An update of a deposited payment or receipt may leave what the deposit took alone."""
    deposit = deposit_of(company, entity, current["Id"])
    if deposit is None:
        return
    before, after = _deposited_part(entity, current), _deposited_part(entity, record)
    changed = sorted(name for name in before if before[name] != after[name])
    if changed:
        raise deposited(entity, current["Id"], deposit, f"changing its {', '.join(changed)}")


def deposited(entity: str, ident: str, deposit: str, doing: str) -> faults.Fault:
    return faults.Fault(
        "6540",
        "Deposited Transaction cannot be changed",
        f"Deposited Transaction cannot be changed: {entity} {ident} is in Deposit {deposit}. "
        f"Remove it from the deposit before {doing}.",
    )


def _deposited_part(entity: str, record: Record) -> dict[str, Any]:
    """What a deposit depends on: the amount, whose money, the account it waits in and,
    for a payment, what it pays (money applied elsewhere would change what was received)."""
    part: dict[str, Any] = {
        "TotalAmt": record.get("TotalAmt"),
        "CustomerRef": _ref(record.get("CustomerRef")),
        "DepositToAccountRef": _ref(record.get("DepositToAccountRef")),
    }
    if entity == "Payment":
        applied = sales.payment_applications(record)
        part["Line"] = {txn: value for txn, (_, value) in applied.items()}
    return part


def _ref(value: Any) -> str | None:
    return str(value.get("value")) if isinstance(value, dict) else None
