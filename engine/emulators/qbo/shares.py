"""Balances in an emulated QBO company: payments lowering what they are applied to, each
sale's, bill's and unapplied payment's share of its party's balance, and customers' balances
with their jobs'. Derived, never stored: rebuilt from the records after loading."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tpsqbo_engine.emulators.qbo import forms, people, sales, stock
from tpsqbo_engine.emulators.qbo.indexes import Indexes
from tpsqbo_engine.emulators.qbo.money import ZERO, cents

if TYPE_CHECKING:
    from tpsqbo_engine.emulators.qbo.company import Company

Record = dict[str, Any]
SALES = frozenset({"Invoice", "CreditMemo", "SalesReceipt", "Estimate", "RefundReceipt"})
# What is owed and by whom: (the party's reference, the sign of its balance in the party's).
OWED = {
    "Invoice": ("CustomerRef", 1),
    "CreditMemo": ("CustomerRef", -1),
    "Bill": ("VendorRef", 1),
    "VendorCredit": ("VendorRef", -1),
}
PAYMENTS = {"Payment": ("Invoice", "CreditMemo"), "BillPayment": ("Bill", "VendorCredit")}
# What a payment leaves unapplied is a credit in its customer's balance, as in QBO's A/R.
UNAPPLIED = {"Payment": "CustomerRef"}
# The entities whose records make up a party's balance.
SHARED = SALES | OWED.keys() | UNAPPLIED.keys()


def after_write(company: Company, entity: str, record: Record) -> None:
    if entity in PAYMENTS:
        voided = record.get("TxnStatus") == "Voided"
        applied = sales.payment_applications(record, PAYMENTS[entity])
        apply_payment(
            company,
            record["Id"],
            {} if voided else {txn: value for txn, (_, value) in applied.items()},
        )
    if entity in stock.SIGNS:
        stock.move(company, entity, record["Id"], record)
    if entity == "Invoice":
        forms.close_estimates(company, record)
    if entity in SHARED:
        _refresh_share(company, entity, record)


def apply_payment(company: Company, payment_id: str, applied: dict[str, Decimal]) -> None:
    for txn in company.index.apply(payment_id, applied):
        _refresh_sale(company, txn)


def _refresh_sale(company: Company, txn_id: str) -> None:
    for entity in OWED:
        record = company.table(entity).get(txn_id)
        if record is None:
            continue
        before = (record.get("Balance"), record.get("LinkedTxn"))
        if entity in SALES:
            forms.set_balance(company, entity, record, txn_id)
        else:
            record["Balance"] = cents(record["TotalAmt"] - company.index.applied_to(txn_id))
        paid_by = "Payment" if entity in SALES else "BillPayment"
        kept = [
            link
            for link in record.get("LinkedTxn") or []
            if link.get("TxnType") not in ("Payment", "BillPayment")
        ]
        record["LinkedTxn"] = kept + [
            {"TxnId": p, "TxnType": paid_by} for p in company.index.payments_of(txn_id)
        ]
        if (record.get("Balance"), record.get("LinkedTxn")) != before:
            # QBO versions the paid record too: a client holding the old SyncToken gets 5010.
            record["SyncToken"] = str(int(record["SyncToken"]) + 1)
            record["MetaData"] = {**record["MetaData"], "LastUpdatedTime": company.timestamp()}
            # and tells webhook subscribers, as QBO sends Invoice/Update beside Payment/Create
            company.notify(entity, txn_id, "Update")
        _refresh_share(company, entity, record)


def _refresh_share(company: Company, entity: str, record: Record) -> None:
    if entity in UNAPPLIED:
        party, balance = UNAPPLIED[entity], -record.get("UnappliedAmt", ZERO)
    else:
        party, sign = OWED.get(entity, ("CustomerRef", 0))
        balance = sign * record.get("Balance", ZERO)
    if party not in record:
        return
    _show_balances(company, company.index.set_share(record["Id"], record[party]["value"], balance))


def release_share(company: Company, txn_id: str) -> None:
    _show_balances(company, company.index.set_share(txn_id, None, ZERO))


def _show_balances(company: Company, party_ids: set[str]) -> None:
    for party_id in party_ids:
        vendor = company.table("Vendor").get(party_id)
        if vendor is not None:
            vendor["Balance"] = company.index.balance(party_id)
        customer = company.table("Customer").get(party_id)
        if customer is not None:
            customer["Balance"] = company.index.balance(party_id)
            for ident in [party_id, *people.ancestors(company, party_id)]:
                _balance_with_jobs(company, ident)


def _balance_with_jobs(company: Company, ident: str) -> None:
    customer = company.table("Customer").get(ident)
    if customer is None:
        return
    jobs = [company.table("Customer").get(j) for j in company.jobs.get(ident, ())]
    customer["BalanceWithJobs"] = cents(
        customer.get("Balance", ZERO)
        + sum((j.get("BalanceWithJobs", ZERO) for j in jobs if j is not None), ZERO)
    )


def rebuild_indexes(company: Company) -> None:
    """After loading saved state: indexes are derived, never stored."""
    company.index = Indexes()
    for entity, table in company.records.items():
        for record in table.values():
            company.index.replace(entity, None, record)
    stock.remember(company)
    company.jobs = {}
    for customer in company.table("Customer").values():
        if customer.get("ParentRef"):
            parent = str(customer["ParentRef"]["value"])
            company.jobs.setdefault(parent, set()).add(customer["Id"])
    for entity, kinds in PAYMENTS.items():
        for payment in company.table(entity).values():
            if payment.get("TxnStatus") != "Voided":
                applied = sales.payment_applications(payment, kinds)
                company.index.apply(payment["Id"], {t: v for t, (_, v) in applied.items()})
    # Every entity `after_write` counts in a party's balance, payments' unapplied credit too.
    for entity in SHARED:
        for record in company.table(entity).values():
            _refresh_share(company, entity, record)
