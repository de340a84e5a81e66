"""QBO's rules for sales forms and what pays them: invoices, credit memos, sales and refund
receipts, estimates (closed by the invoice made from them), payments, deposits, journal
entries and expenses. Each function checks a record as QBO does and fills in what QBO
computes; a `Company` calls them through `PREPARE` and for every sales form.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tpsqbo_engine.emulators.qbo import faults, sales
from tpsqbo_engine.emulators.qbo.money import ZERO, amount, cents

if TYPE_CHECKING:
    from collections.abc import Callable

    from tpsqbo_engine.emulators.qbo.company import Company

Record = dict[str, Any]
_LINKABLE = frozenset({"Invoice", "SalesReceipt", "CreditMemo", "Estimate", "RefundReceipt"})


def prepare_sale(
    company: Company, entity: str, record: Record, ident: str, allow_dup: bool
) -> None:
    customer: Record = {}
    if record.get("CustomerRef"):
        customer = company.check_ref("Customer", record["CustomerRef"], "CustomerRef")
        record["CustomerRef"] = {"value": customer["Id"], "name": customer["DisplayName"]}
    elif entity not in ("SalesReceipt", "RefundReceipt"):  # a cash sale may name no customer
        raise faults.required("CustomerRef")
    else:
        record.pop("CustomerRef", None)
    sales.compute_sales(record, company.check_ref, company.tax_rate, company.us)
    doc_number(company, entity, record, ident, allow_dup)
    record.setdefault("TxnDate", company.timestamp()[:10])
    if entity in ("SalesReceipt", "RefundReceipt"):
        deposit_account(company, entity, record)
        check_links(company, record, customer.get("Id"))
    if entity == "Estimate":
        record.setdefault("TxnStatus", "Pending")
        record.setdefault("LinkedTxn", [])
    if entity == "Invoice":
        check_estimates(company, record, customer["Id"])
        record.setdefault("DueDate", record["TxnDate"])
        record.setdefault("Deposit", ZERO)
        record.setdefault("EmailStatus", "NotSet")
        record.setdefault("LinkedTxn", [])
        record.setdefault("PrintStatus", "NotSet")
    set_balance(company, entity, record, ident)


def deposit_account(company: Company, entity: str, record: Record) -> None:
    if "DepositToAccountRef" in record:
        target = company.check_ref("Account", record["DepositToAccountRef"], "DepositToAccountRef")
        if target.get("AccountType") not in ("Bank", "Other Current Asset"):
            # Intuit: the account money goes to or comes from is a bank or other current asset.
            raise faults.business(
                f"{entity} money must go to or come from a Bank or Other Current Asset "
                f"account, not {target.get('AccountType')} account {target['Name']}."
            )
    elif entity == "RefundReceipt":
        raise faults.required("DepositToAccountRef")
    else:
        undeposited = company.find_by("Account", "AccountSubType", "UndepositedFunds")
        if undeposited is not None:
            record["DepositToAccountRef"] = {"value": undeposited["Id"]}
    record["Balance"] = ZERO


def check_links(company: Company, record: Record, customer_id: str | None) -> None:
    """A receipt's or refund's `LinkedTxn` names the customer's own sales forms."""
    for index, link in enumerate(record.get("LinkedTxn") or []):
        kind, txn_id = str(link.get("TxnType")), str(link.get("TxnId"))
        target = company.visible(kind, txn_id) if kind in _LINKABLE else None
        if target is None or target.get("CustomerRef", {}).get("value") != customer_id:
            raise faults.invalid_reference(f"LinkedTxn[{index}] {kind} {txn_id}")


def check_estimates(company: Company, record: Record, customer_id: str) -> None:
    for link in record.get("LinkedTxn") or []:
        if link.get("TxnType") != "Estimate":
            continue
        estimate = company.visible("Estimate", str(link.get("TxnId")))
        if estimate is None:
            raise faults.invalid_reference(f"LinkedTxn Estimate {link.get('TxnId')}")
        if estimate["CustomerRef"]["value"] != customer_id:
            raise faults.business(f"The Estimate {estimate['Id']} belongs to another customer.")


def close_estimates(company: Company, invoice: Record, *, deleted: bool = False) -> None:
    """An invoice made from an estimate closes it and is linked from it, as QBO does; when
    the invoice is deleted the estimate loses the link and is open (Pending) again."""
    for link in invoice.get("LinkedTxn") or []:
        estimate = company.table("Estimate").get(str(link.get("TxnId")))
        if link.get("TxnType") != "Estimate" or estimate is None:
            continue
        links = [x for x in estimate.get("LinkedTxn") or [] if x.get("TxnId") != invoice["Id"]]
        if not deleted:
            links.append({"TxnId": invoice["Id"], "TxnType": "Invoice"})
        invoiced = any(x.get("TxnType") == "Invoice" for x in links)
        status = "Closed" if invoiced else "Pending"
        if links == estimate.get("LinkedTxn") and status == estimate.get("TxnStatus"):
            continue  # nothing changed: the estimate keeps its SyncToken
        estimate["LinkedTxn"], estimate["TxnStatus"] = links, status
        estimate["SyncToken"] = str(int(estimate["SyncToken"]) + 1)
        estimate["MetaData"] = {**estimate["MetaData"], "LastUpdatedTime": company.timestamp()}
        company.notify("Estimate", estimate["Id"], "Update")


def doc_number(company: Company, entity: str, record: Record, ident: str, allow_dup: bool) -> None:
    number = record.get("DocNumber")
    if not number:
        record["DocNumber"] = company.index.next_number(entity)
        return
    if len(str(number)) > 21:
        raise faults.business("DocNumber is longer than 21 characters.")
    clash = company.index.with_number(entity, str(number)) - {ident}
    if clash and not allow_dup:
        raise faults.Fault(
            "6140",
            "Duplicate Document Number Error",
            f"Duplicate Document Number Error : You must specify a different "
            f"number. This number has already been used. DocNumber={number}",
        )


def set_balance(company: Company, entity: str, record: Record, ident: str) -> None:
    applied = company.index.applied_to(ident)
    if entity == "Invoice":
        record["Balance"] = cents(
            record["TotalAmt"] - applied - amount(record.get("Deposit", 0), "Deposit")
        )
    elif entity == "CreditMemo":
        record["RemainingCredit"] = record["Balance"] = cents(record["TotalAmt"] - applied)
    if entity == "Invoice" and record["Balance"] < 0:
        raise faults.business("The invoice total is less than the payments applied to it.")


def prepare_payment(company: Company, record: Record, ident: str) -> None:
    for name in ("CustomerRef", "TotalAmt"):
        if name not in record:
            raise faults.required(name)
    customer = company.check_ref("Customer", record["CustomerRef"], "CustomerRef")
    record["CustomerRef"] = {"value": customer["Id"], "name": customer["DisplayName"]}
    total = amount(record["TotalAmt"], "TotalAmt")
    applied = sales.payment_applications(record)
    for txn_id, (kind, value) in applied.items():
        check_application(company, kind, txn_id, value, ident, customer["Id"], "CustomerRef")
    record["TotalAmt"] = cents(total)
    record["UnappliedAmt"] = sales.unapplied(total, applied)
    record.setdefault("TxnDate", company.timestamp()[:10])
    if "DepositToAccountRef" not in record:
        undeposited = company.find_by("Account", "AccountSubType", "UndepositedFunds")
        if undeposited is not None:
            record["DepositToAccountRef"] = {
                "value": undeposited["Id"],
                "name": undeposited["Name"],
            }
    else:
        company.check_ref("Account", record["DepositToAccountRef"], "DepositToAccountRef")


def check_application(
    company: Company,
    kind: str,
    txn_id: str,
    value: Decimal,
    payment_id: str,
    party_id: str,
    party_ref: str,
) -> None:
    """Refuse applying `value` of a payment to a form of another party (`party_ref` is
    CustomerRef for sales payments, VendorRef for bill payments) or beyond its open balance;
    what this payment already applied to the form counts as still open."""
    target = company.visible(kind, txn_id)
    if target is None:
        raise faults.invalid_reference(f"LinkedTxn {kind} {txn_id}")
    if target[party_ref]["value"] != party_id:
        party = party_ref.removesuffix("Ref").lower()
        raise faults.business(f"The {kind} {txn_id} belongs to another {party}.")
    already = company.index.applications.get(txn_id, {}).get(payment_id, ZERO)
    open_amount = target.get("Balance", ZERO) + already
    if value > open_amount:
        raise faults.business(
            f"The amount applied to {kind} {txn_id} ({value}) is more "
            f"than its open balance ({open_amount})."
        )


def prepare_journalentry(company: Company, record: Record, ident: str) -> None:
    record["TotalAmt"] = sales.journal_total(record)


def prepare_deposit(company: Company, record: Record, ident: str) -> None:
    if "DepositToAccountRef" not in record:
        raise faults.required("DepositToAccountRef")
    company.check_ref("Account", record["DepositToAccountRef"], "DepositToAccountRef")
    record["TotalAmt"] = sales.sum_lines(record)
    for index, line in enumerate(record.get("Line") or []):
        for link in line.get("LinkedTxn") or []:
            _check_deposited(company, link, amount(line.get("Amount"), "Line.Amount"), ident, index)


def _check_deposited(
    company: Company, link: Record, value: Decimal, deposit_id: str, index: int
) -> None:
    """A deposit line taking a payment or receipt out of Undeposited Funds: it must exist,
    wait there, for no more than it received, and be in no other deposit."""
    kind, txn_id = str(link.get("TxnType")), str(link.get("TxnId"))
    if kind not in ("Payment", "SalesReceipt", "RefundReceipt"):
        raise faults.Fault(
            "2170", "Invalid Enumeration", f"Invalid TxnType: {kind}", element=f"Line[{index}]"
        )
    target = company.visible(kind, txn_id)
    if target is None:
        raise faults.invalid_reference(f"Line[{index}].LinkedTxn {kind} {txn_id}")
    if value > Decimal(str(target.get("TotalAmt", 0))):
        raise faults.business(f"The deposit takes more than {kind} {txn_id} received.")
    waiting = company.find_by("Account", "AccountSubType", "UndepositedFunds")
    held = str((target.get("DepositToAccountRef") or {}).get("value"))
    if waiting is not None and held != waiting["Id"]:
        # Only what waits in Undeposited Funds is deposited; money already in a bank is not.
        raise faults.business(f"{kind} {txn_id} is not in Undeposited Funds.")
    for other in company.table("Deposit").values():
        lines = [] if other["Id"] == deposit_id else other.get("Line") or []
        if any(x.get("TxnId") == txn_id for line in lines for x in line.get("LinkedTxn") or []):
            raise faults.business(f"{kind} {txn_id} is already in deposit {other['Id']}.")


def prepare_purchase(company: Company, record: Record, ident: str) -> None:
    for name in ("PaymentType", "AccountRef"):
        if name not in record:
            raise faults.required(name)
    record["TotalAmt"] = sales.sum_lines(record)


PREPARE: dict[str, Callable[[Company, Record, str], None]] = {
    "Payment": prepare_payment,
    "JournalEntry": prepare_journalentry,
    "Deposit": prepare_deposit,
    "Purchase": prepare_purchase,
}
