"""The A/R reports: AgedReceivables, AgedReceivableDetail, CustomerBalance and
CustomerBalanceDetail, from each customer's open items as of the report date.

An open item is what is still owed on an invoice, left on a credit memo, unapplied on a
payment, or posted to A/R by a journal entry, counting only payments dated on or before
the report date. Their sum per customer is the customer's A/R: the balance sheet's A/R line
and the customers' Balance agree with it to the cent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tpsqbo_engine.emulators.qbo import reports as r
from tpsqbo_engine.emulators.qbo.company import Company
from tpsqbo_engine.emulators.qbo.money import ZERO, cents

Record = dict[str, Any]
BUCKETS = ("Current", "1 - 30", "31 - 60", "61 - 90", "91 and over")


@dataclass(frozen=True)
class OpenItem:
    date: str
    txn_type: str
    txn_id: str
    doc_number: str
    customer_id: str
    due: str
    amount: Decimal
    open: Decimal

    def bucket(self, as_of: dt.date) -> int:
        late = (as_of - dt.date.fromisoformat(self.due)).days
        if late <= 0:
            return 0
        return min(4, (late - 1) // 30 + 1)


def _applied_by_date(company: Company, as_of: str) -> tuple[dict[str, Decimal], list[Record]]:
    """What payments dated on or before `as_of` apply to each form; and those payments."""
    applied: dict[str, Decimal] = {}
    payments = []
    for payment in company.table("Payment").values():
        if payment.get("TxnStatus") == "Voided" or str(payment.get("TxnDate", "")) > as_of:
            continue
        payments.append(payment)
        for line in payment.get("Line") or []:
            for link in line.get("LinkedTxn") or []:
                txn = str(link.get("TxnId"))
                applied[txn] = applied.get(txn, ZERO) + Decimal(str(line.get("Amount", 0)))
    return applied, payments


def open_items(company: Company, as_of: dt.date) -> list[OpenItem]:
    day = as_of.isoformat()
    applied, payments = _applied_by_date(company, day)
    items: list[OpenItem] = []
    for entity, sign in (("Invoice", 1), ("CreditMemo", -1)):
        for form in company.table(entity).values():
            if str(form.get("TxnDate", "")) > day:
                continue
            total = Decimal(str(form.get("TotalAmt", 0)))
            deposit = Decimal(str(form.get("Deposit", 0) or 0))
            left = total - deposit - applied.get(form["Id"], ZERO)
            due = str(form.get("DueDate") or form.get("TxnDate"))
            items.append(_item(form, entity, due, sign * total, sign * left))
    for payment in payments:
        used = ZERO
        for line in payment.get("Line") or []:
            for link in line.get("LinkedTxn") or []:
                value = Decimal(str(line.get("Amount", 0)))
                used += value if link.get("TxnType") == "Invoice" else -value
        total = Decimal(str(payment.get("TotalAmt", 0)))
        items.append(_item(payment, "Payment", payment["TxnDate"], -total, used - total))
    items.extend(_journal_items(company, day))
    return sorted(
        (i for i in items if i.open != 0), key=lambda i: (i.date, int(i.txn_id), i.txn_type)
    )


def _item(record: Record, entity: str, due: str, value: Decimal, left: Decimal) -> OpenItem:
    return OpenItem(
        str(record.get("TxnDate", "")),
        entity,
        str(record["Id"]),
        str(record.get("DocNumber", record.get("PaymentRefNum", ""))),
        str(record["CustomerRef"]["value"]),
        due,
        cents(value),
        cents(left),
    )


def _journal_items(company: Company, day: str) -> list[OpenItem]:
    receivable = {
        i
        for i, a in company.table("Account").items()
        if a.get("AccountType") == "Accounts Receivable"
    }
    found = []
    for entry in company.table("JournalEntry").values():
        if str(entry.get("TxnDate", "")) > day:
            continue
        for line in entry.get("Line") or []:
            detail = line.get("JournalEntryLineDetail") or {}
            ref = ((detail.get("Entity") or {}).get("EntityRef")) or {}
            if str((detail.get("AccountRef") or {}).get("value")) not in receivable or not ref:
                continue
            sign = 1 if detail.get("PostingType") == "Debit" else -1
            value = cents(sign * Decimal(str(line.get("Amount", 0))))
            found.append(
                OpenItem(
                    entry["TxnDate"],
                    "JournalEntry",
                    entry["Id"],
                    str(entry.get("DocNumber", "")),
                    str(ref.get("value")),
                    entry["TxnDate"],
                    value,
                    value,
                )
            )
    return found


def _wanted(company: Company, params: r.Params) -> tuple[list[OpenItem], dict[str, str]]:
    items = [
        i
        for i in open_items(company, params.report_date)
        if not params.customers or i.customer_id in params.customers
    ]
    customers = company.table("Customer")
    names = {
        i.customer_id: str(customers.get(i.customer_id, {}).get("FullyQualifiedName", ""))
        for i in items
    }
    return items, names


def aged_receivables(company: Company, params: r.Params) -> Record:
    items, names = _wanted(company, params)
    per: dict[str, list[Decimal]] = {}
    for item in items:
        row = per.setdefault(item.customer_id, [ZERO] * len(BUCKETS))
        row[item.bucket(params.report_date)] += item.open
    rows = [
        r.data_row(names[c], *per[c], r.total(per[c]), ids={0: c})
        for c in sorted(per, key=lambda c: names[c].casefold())
    ]
    totals = [r.total([per[c][b] for c in per]) for b in range(len(BUCKETS))]
    rows.append(r.summary_only(["TOTAL", *totals, r.total(totals)], "GrandTotal"))
    return {
        "Header": r.header(company, "AgedReceivables", params, as_of=True, empty=not items),
        "Columns": r.columns(
            ("", "Customer"), *((b, "Money") for b in BUCKETS), ("Total", "Money")
        ),
        "Rows": {"Row": rows},
    }


_DETAIL_COLUMNS = (
    ("Date", "tx_date"),
    ("Transaction Type", "txn_type"),
    ("Num", "doc_num"),
    ("Customer", "cust_name"),
    ("Due Date", "due_date"),
    ("Amount", "subt_nat_amount"),
    ("Open Balance", "subt_open_bal"),
)


def _detail(item: OpenItem, names: dict[str, str]) -> Record:
    return r.data_row(
        item.date,
        item.txn_type,
        item.doc_number,
        names[item.customer_id],
        item.due,
        item.amount,
        item.open,
        ids={1: item.txn_id, 3: item.customer_id},
    )


def aged_receivable_detail(company: Company, params: r.Params) -> Record:
    items, names = _wanted(company, params)
    rows = []
    titles = ("Current", *(f"{b} days past due" for b in BUCKETS[1:]))
    for index, title in enumerate(titles):
        chosen = [i for i in items if i.bucket(params.report_date) == index]
        if chosen:
            amounts = [r.total([i.amount for i in chosen]), r.total([i.open for i in chosen])]
            rows.append(
                r.section(
                    title,
                    [_detail(i, names) for i in chosen],
                    [f"Total for {title}", "", "", "", "", *amounts],
                )
            )
    grand = [r.total([i.amount for i in items]), r.total([i.open for i in items])]
    rows.append(r.summary_only(["TOTAL", "", "", "", "", *grand], "GrandTotal"))
    return {
        "Header": r.header(company, "AgedReceivableDetail", params, as_of=True, empty=not items),
        "Columns": r.columns(
            *(
                (t, "Money" if "Amount" in t or "Balance" in t else "String")
                for t, _ in _DETAIL_COLUMNS
            )
        ),
        "Rows": {"Row": rows},
    }


def customer_balance(company: Company, params: r.Params) -> Record:
    items, names = _wanted(company, params)
    per: dict[str, Decimal] = {}
    for item in items:
        per[item.customer_id] = per.get(item.customer_id, ZERO) + item.open
    rows = [
        r.data_row(names[c], per[c], ids={0: c})
        for c in sorted(per, key=lambda c: names[c].casefold())
        if per[c] != 0
    ]
    rows.append(r.summary_only(["TOTAL", r.total(list(per.values()))], "GrandTotal"))
    return {
        "Header": r.header(company, "CustomerBalance", params, as_of=True, empty=not items),
        "Columns": r.columns(("", "Customer"), ("Total", "Money")),
        "Rows": {"Row": rows},
    }


def _customer_section(name: str, mine: list[OpenItem]) -> Record:
    """One customer's open items with the running balance, and their totals."""
    running, lines = ZERO, []
    for item in mine:
        running += item.open
        lines.append(
            r.data_row(
                item.date,
                item.txn_type,
                item.doc_number,
                item.due,
                item.amount,
                item.open,
                running,
                ids={1: item.txn_id},
            )
        )
    sums = [r.total([i.amount for i in mine]), r.total([i.open for i in mine])]
    return r.section(name, lines, [f"Total for {name}", "", "", "", *sums, ""], group="Customer")


def customer_balance_detail(company: Company, params: r.Params) -> Record:
    items, names = _wanted(company, params)
    per: dict[str, list[OpenItem]] = {}
    for item in items:
        per.setdefault(item.customer_id, []).append(item)
    rows = [
        _customer_section(names[c], per[c]) for c in sorted(per, key=lambda c: names[c].casefold())
    ]
    grand = [r.total([i.amount for i in items]), r.total([i.open for i in items])]
    rows.append(r.summary_only(["TOTAL", "", "", "", *grand, ""], "GrandTotal"))
    return {
        "Header": r.header(company, "CustomerBalanceDetail", params, as_of=True, empty=not items),
        "Columns": r.columns(
            ("Date", "Date"),
            ("Transaction Type", "String"),
            ("Num", "String"),
            ("Due Date", "Date"),
            ("Amount", "Money"),
            ("Open Balance", "Money"),
            ("Balance", "Money"),
        ),
        "Rows": {"Row": rows},
    }


REPORTS: dict[str, r.ReportFn] = {
    "AgedReceivables": aged_receivables,
    "AgedReceivableDetail": aged_receivable_detail,
    "CustomerBalance": customer_balance,
    "CustomerBalanceDetail": customer_balance_detail,
}
