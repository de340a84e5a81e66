"""The company's double entry: what each transaction posts to which account, for the reports.

QBO keeps a general ledger behind every form; the emulator derives it from the records on
demand, so that reports always agree with the transactions. Debits are positive, credits
negative; every transaction's postings sum to zero. Accrual basis posts invoices and bills
when dated; cash basis posts their income and expense lines when, and as far as, a payment
applies to them (pro rata, the last line taking the cent left by rounding).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tpsqbo_engine.emulators.qbo.company import Company
from tpsqbo_engine.emulators.qbo.money import cents

Record = dict[str, Any]
# Accounts a posting may need that a company's chart may lack: (name, AccountType).
PSEUDO = {
    "tax": ("Sales Tax Payable", "Other Current Liability"),
    "discount": ("Discounts given", "Income"),
    "ar": ("Accounts Receivable (A/R)", "Accounts Receivable"),
    "ap": ("Accounts Payable (A/P)", "Accounts Payable"),
    "undeposited": ("Undeposited Funds", "Other Current Asset"),
    "unknown": ("Uncategorized", "Expense"),
}


@dataclass(frozen=True)
class Posting:
    date: str
    txn_type: str
    txn_id: str
    doc_number: str
    party_id: str
    party_name: str
    account: str
    amount: Decimal
    memo: str


class Ledger:
    def __init__(self, company: Company, cash: bool = False) -> None:
        self.company, self.cash = company, cash
        self.accounts = company.table("Account")
        self._special = {
            "ar": self._by_type("Accounts Receivable"),
            "ap": self._by_type("Accounts Payable"),
            "undeposited": self._by_subtype("UndepositedFunds"),
            "tax": self._by_subtype("GlobalTaxPayable") or self._by_subtype("SalesTaxPayable"),
            "discount": self._by_subtype("DiscountsRefundsGiven"),
        }

    def _by_type(self, kind: str) -> str:
        return next((i for i, a in self.accounts.items() if a.get("AccountType") == kind), "")

    def _by_subtype(self, kind: str) -> str:
        return next((i for i, a in self.accounts.items() if a.get("AccountSubType") == kind), "")

    def special(self, key: str) -> str:
        return self._special.get(key) or key

    def account_name(self, account: str) -> str:
        found = self.accounts.get(account)
        return str(found["Name"]) if found else PSEUDO.get(account, (account, ""))[0]

    def account_type(self, account: str) -> str:
        found = self.accounts.get(account)
        return str(found.get("AccountType", "")) if found else PSEUDO.get(account, ("", ""))[1]

    # All postings ----------------------------------------------------------------------
    def postings(self) -> list[Posting]:
        found: list[Posting] = []
        for entity, poster in _POSTERS.items():
            for record in self.company.table(entity).values():
                found.extend(p for p in poster(self, record) if p.amount != 0)
        found.sort(key=lambda p: (p.date, int(p.txn_id) if p.txn_id.isdigit() else 0))
        return found

    def _post(self, record: Record, entity: str, party: Record | None) -> _Poster:
        return _Poster(self, record, entity, party or {})

    # Sales forms ---------------------------------------------------------------------------
    def sale_lines(self, record: Record) -> list[tuple[str, Decimal]]:
        """(account, credit amount) of each income line, discounts and tax of a sales form."""
        out: list[tuple[str, Decimal]] = []
        for line in record.get("Line") or []:
            kind = line.get("DetailType")
            value = Decimal(str(line.get("Amount", 0)))
            if kind == "SalesItemLineDetail":
                item_ref = (line.get("SalesItemLineDetail") or {}).get("ItemRef") or {}
                item = self.company.table("Item").get(str(item_ref.get("value")), {})
                account = (item.get("IncomeAccountRef") or {}).get("value") or "unknown"
                out.append((str(account), value))
            elif kind == "DiscountLineDetail":
                out.append((self.special("discount"), -value))
        tax = Decimal(str((record.get("TxnTaxDetail") or {}).get("TotalTax", 0)))
        if tax and record.get("GlobalTaxCalculation") == "TaxInclusive":
            # the amounts hold the tax: income is what is left of them once it is taken out
            gross = sum((value for _, value in out), Decimal(0))
            out = list(_pro_rata(out, gross - tax, gross))
        if tax:
            out.append((self.special("tax"), tax))
        return out

    def cost_lines(self, record: Record) -> list[tuple[str, Decimal]]:
        """(account, debit amount) of the cost of inventory a sales form sells: its purchase
        cost times the quantity, from inventory asset to cost of goods sold."""
        out: list[tuple[str, Decimal]] = []
        for line in record.get("Line") or []:
            detail = line.get("SalesItemLineDetail") or {}
            item_ref = detail.get("ItemRef") or {}
            item = self.company.table("Item").get(str(item_ref.get("value")), {})
            if item.get("Type") != "Inventory" or not Decimal(str(line.get("Amount", 0))):
                continue  # a voided form's lines are 0 and sell nothing
            cost = cents(
                Decimal(str(item.get("PurchaseCost", 0))) * Decimal(str(detail.get("Qty") or 1))
            )
            out.append((str((item.get("ExpenseAccountRef") or {}).get("value") or "unknown"), cost))
            out.append((str((item.get("AssetAccountRef") or {}).get("value") or "unknown"), -cost))
        return out

    def expense_lines(self, record: Record) -> list[tuple[str, Decimal]]:
        """(account, debit amount) of each line of a bill, purchase or vendor credit."""
        out: list[tuple[str, Decimal]] = []
        for line in record.get("Line") or []:
            value = Decimal(str(line.get("Amount", 0)))
            if line.get("DetailType") == "AccountBasedExpenseLineDetail":
                ref = (line.get("AccountBasedExpenseLineDetail") or {}).get("AccountRef") or {}
                out.append((str(ref.get("value") or "unknown"), value))
            elif line.get("DetailType") == "ItemBasedExpenseLineDetail":
                ref = (line.get("ItemBasedExpenseLineDetail") or {}).get("ItemRef") or {}
                item = self.company.table("Item").get(str(ref.get("value")), {})
                account = (item.get("AssetAccountRef") or item.get("ExpenseAccountRef") or {}).get(
                    "value"
                )
                out.append((str(account or "unknown"), value))
        tax = Decimal(str((record.get("TxnTaxDetail") or {}).get("TotalTax", 0)))
        if tax:
            out.append((self.special("tax"), tax))
        return out


@dataclass
class _Poster:
    ledger: Ledger
    record: Record
    entity: str
    party: Record

    def __call__(self, account: str, value: Decimal, memo: str = "") -> Posting:
        return Posting(
            str(self.record.get("TxnDate", "")),
            self.entity,
            str(self.record["Id"]),
            str(self.record.get("DocNumber", "")),
            str(self.party.get("value", "")),
            str(self.party.get("name", "")),
            account,
            cents(value),
            memo or str(self.record.get("PrivateNote", "")),
        )


def _pro_rata(
    lines: list[tuple[str, Decimal]], share: Decimal, total: Decimal
) -> Iterator[tuple[str, Decimal]]:
    """`share` of `total` spread over lines in proportion; the last takes the rounding."""
    if total == 0:
        return
    left = cents(share)
    for index, (account, value) in enumerate(lines):
        part = left if index == len(lines) - 1 else cents(value * share / total)
        left -= part
        yield account, part


def _settled(
    ledger: Ledger,
    record: Record,
    post: _Poster,
    kinds: tuple[str, str],
    lines: Callable[[Record], list[tuple[str, Decimal]]],
    direction: int,
) -> Generator[Posting, None, Decimal]:
    """Cash basis: post what a payment settles to the settled forms' own lines, pro rata.

    `kinds` is the form a payment settles and its credit (which counts negative); `direction`
    is the side the form's `lines` go to (-1 credits income, 1 debits expense). Returns the
    net amount the payment settled, so the caller posts only the rest to A/R or A/P.
    """
    settled = Decimal(0)
    for line in record.get("Line") or []:
        for link in line.get("LinkedTxn") or []:
            kind, applied = link.get("TxnType"), Decimal(str(line.get("Amount", 0)))
            form = ledger.company.table(str(kind)).get(str(link.get("TxnId")))
            if form is None or kind not in kinds:
                continue
            sign = 1 if kind == kinds[0] else -1
            total = Decimal(str(form["TotalAmt"]))
            for account, part in _pro_rata(lines(form), applied, total):
                yield post(account, direction * sign * part)
            settled += sign * applied
    return settled


def _invoice(ledger: Ledger, record: Record, sign: int = 1) -> Iterator[Posting]:
    entity = "Invoice" if sign == 1 else "CreditMemo"
    post = ledger._post(record, entity, record.get("CustomerRef"))
    for account, value in ledger.cost_lines(record):  # goods leave when sold, on either basis
        yield post(account, sign * value)
    if ledger.cash:
        return
    yield post(ledger.special("ar"), sign * Decimal(str(record["TotalAmt"])))
    for account, value in ledger.sale_lines(record):
        yield post(account, -sign * value)
    deposit = Decimal(str(record.get("Deposit") or 0))
    if deposit:  # paid when invoiced: it never stays in A/R
        target = (record.get("DepositToAccountRef") or {}).get("value")
        yield post(str(target or ledger.special("undeposited")), deposit)
        yield post(ledger.special("ar"), -deposit)


def _credit_memo(ledger: Ledger, record: Record) -> Iterator[Posting]:
    yield from _invoice(ledger, record, -1)


def _receipt(ledger: Ledger, record: Record, sign: int = 1) -> Iterator[Posting]:
    entity = "SalesReceipt" if sign == 1 else "RefundReceipt"
    post = ledger._post(record, entity, record.get("CustomerRef"))
    deposit = (record.get("DepositToAccountRef") or {}).get("value") or ledger.special(
        "undeposited"
    )
    yield post(str(deposit), sign * Decimal(str(record["TotalAmt"])))
    for account, value in ledger.sale_lines(record):
        yield post(account, -sign * value)
    for account, value in ledger.cost_lines(record):
        yield post(account, sign * value)


def _refund(ledger: Ledger, record: Record) -> Iterator[Posting]:
    yield from _receipt(ledger, record, -1)


def _payment(ledger: Ledger, record: Record) -> Iterator[Posting]:
    post = ledger._post(record, "Payment", record.get("CustomerRef"))
    total = Decimal(str(record.get("TotalAmt", 0)))
    deposit = (record.get("DepositToAccountRef") or {}).get("value") or ledger.special(
        "undeposited"
    )
    yield post(str(deposit), total)
    if not ledger.cash:
        yield post(ledger.special("ar"), -total)
        return
    # Cash basis: what the payment settles is income now, in the settled forms' proportions.
    kinds = ("Invoice", "CreditMemo")
    settled = yield from _settled(ledger, record, post, kinds, ledger.sale_lines, -1)
    yield post(ledger.special("ar"), -(total - settled))


def _bill(ledger: Ledger, record: Record, sign: int = 1) -> Iterator[Posting]:
    entity = "Bill" if sign == 1 else "VendorCredit"
    post = ledger._post(record, entity, record.get("VendorRef"))
    if ledger.cash:
        return
    payable = (record.get("APAccountRef") or {}).get("value") or ledger.special("ap")
    yield post(str(payable), -sign * Decimal(str(record["TotalAmt"])))
    for account, value in ledger.expense_lines(record):
        yield post(account, sign * value)


def _vendor_credit(ledger: Ledger, record: Record) -> Iterator[Posting]:
    yield from _bill(ledger, record, -1)


def _bill_payment(ledger: Ledger, record: Record) -> Iterator[Posting]:
    post = ledger._post(record, "BillPayment", record.get("VendorRef"))
    total = Decimal(str(record.get("TotalAmt", 0)))
    detail = record.get("CheckPayment") or record.get("CreditCardPayment") or {}
    source = (detail.get("BankAccountRef") or detail.get("CCAccountRef") or {}).get("value")
    yield post(str(source or "unknown"), -total)
    payable = (record.get("APAccountRef") or {}).get("value") or ledger.special("ap")
    if not ledger.cash:
        yield post(str(payable), total)
        return
    kinds = ("Bill", "VendorCredit")
    settled = yield from _settled(ledger, record, post, kinds, ledger.expense_lines, 1)
    yield post(str(payable), total - settled)


def _purchase(ledger: Ledger, record: Record) -> Iterator[Posting]:
    post = ledger._post(record, "Purchase", record.get("EntityRef"))
    source = (record.get("AccountRef") or {}).get("value") or "unknown"
    yield post(str(source), -Decimal(str(record.get("TotalAmt", 0))))
    for account, value in ledger.expense_lines(record):
        yield post(account, value)


def _deposit(ledger: Ledger, record: Record) -> Iterator[Posting]:
    post = ledger._post(record, "Deposit", None)
    target = (record.get("DepositToAccountRef") or {}).get("value") or "unknown"
    yield post(str(target), Decimal(str(record.get("TotalAmt", 0))))
    for line in record.get("Line") or []:
        value = Decimal(str(line.get("Amount", 0)))
        ref = (line.get("DepositLineDetail") or {}).get("AccountRef") or {}
        account = ref.get("value") or ("" if line.get("LinkedTxn") else "unknown")
        yield post(str(account or ledger.special("undeposited")), -value)


def _journal(ledger: Ledger, record: Record) -> Iterator[Posting]:
    for line in record.get("Line") or []:
        detail = line.get("JournalEntryLineDetail") or {}
        entity = (detail.get("Entity") or {}).get("EntityRef") or {}
        post = ledger._post(record, "JournalEntry", entity)
        value = Decimal(str(line.get("Amount", 0)))
        sign = 1 if detail.get("PostingType") == "Debit" else -1
        account = (detail.get("AccountRef") or {}).get("value") or "unknown"
        yield post(str(account), sign * value, str(line.get("Description", "")))


def _transfer(ledger: Ledger, record: Record) -> Iterator[Posting]:
    post = ledger._post(record, "Transfer", None)
    value = Decimal(str(record.get("Amount", 0)))
    yield post(str(record["FromAccountRef"]["value"]), -value)
    yield post(str(record["ToAccountRef"]["value"]), value)


_POSTERS = {
    "Invoice": _invoice,
    "CreditMemo": _credit_memo,
    "SalesReceipt": _receipt,
    "RefundReceipt": _refund,
    "Payment": _payment,
    "Bill": _bill,
    "VendorCredit": _vendor_credit,
    "BillPayment": _bill_payment,
    "Purchase": _purchase,
    "Deposit": _deposit,
    "JournalEntry": _journal,
    "Transfer": _transfer,
}
