"""The books' reports: ProfitAndLoss, BalanceSheet, TrialBalance and GeneralLedger, from the
ledger's postings. Balance-sheet accounts carry their balance from the first transaction;
income and expense accounts start again each fiscal year, the years before closing into
Retained Earnings, so the balance sheet balances and the trial balance's columns agree.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from tpsqbo_engine.emulators.qbo import reports as r
from tpsqbo_engine.emulators.qbo.company import Company
from tpsqbo_engine.emulators.qbo.ledger import Ledger, Posting
from tpsqbo_engine.emulators.qbo.money import ZERO

Record = dict[str, Any]
ASSETS = ("Bank", "Accounts Receivable", "Other Current Asset", "Fixed Asset", "Other Asset")
LIABILITIES = ("Accounts Payable", "Credit Card", "Other Current Liability", "Long Term Liability")
PROFIT_AND_LOSS = ("Income", "Cost of Goods Sold", "Expense", "Other Income", "Other Expense")
_SECTION_TITLES = {
    "Bank": "Bank Accounts",
    "Accounts Receivable": "Accounts Receivable",
    "Other Current Asset": "Other Current Assets",
    "Fixed Asset": "Fixed Assets",
    "Other Asset": "Other Assets",
    "Accounts Payable": "Accounts Payable",
    "Credit Card": "Credit Cards",
    "Other Current Liability": "Other Current Liabilities",
    "Long Term Liability": "Long-Term Liabilities",
}


class Books:
    def __init__(self, company: Company, params: r.Params) -> None:
        self.company, self.params = company, params
        self.ledger = Ledger(company, cash=params.cash)
        self.postings = [
            p
            for p in self.ledger.postings()
            if not params.customers or p.party_id in params.customers
        ]
        self.fiscal_start = r.fiscal_start(params.end, params.fiscal_month).isoformat()

    def is_pl(self, account: str) -> bool:
        return self.ledger.account_type(account) in PROFIT_AND_LOSS

    def balances(self, start: str | None, end: str) -> dict[str, Decimal]:
        """Debit-positive balance per account over [start, end] (start None: from the first)."""
        found: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for posting in self.postings:
            if posting.date <= end and (start is None or posting.date >= start):
                found[posting.account] += posting.amount
        return found

    def closing(self, end: str) -> tuple[dict[str, Decimal], Decimal, Decimal]:
        """Balances at `end`: balance-sheet accounts whole, income and expense for the fiscal
        year; with the net income of the years before (retained) and of this one."""
        whole = self.balances(None, end)
        year = self.balances(self.fiscal_start, end)
        retained = -sum((v - year.get(a, ZERO) for a, v in whole.items() if self.is_pl(a)), ZERO)
        current = -sum((v for a, v in year.items() if self.is_pl(a)), ZERO)
        kept = {a: (year.get(a, ZERO) if self.is_pl(a) else v) for a, v in whole.items()}
        return kept, retained, current

    def name(self, account: str) -> str:
        return self.ledger.account_name(account)

    def of_type(self, values: dict[str, Decimal], kind: str) -> list[str]:
        chosen = [a for a, v in values.items() if self.ledger.account_type(a) == kind and v != 0]
        return sorted(chosen, key=lambda a: self.name(a).casefold())


def _account_rows(
    books: Books, values: dict[str, Decimal], accounts: list[str], sign: int
) -> list[Record]:
    return [r.data_row(books.name(a), sign * values[a], ids={0: a}) for a in accounts]


def profit_and_loss(company: Company, params: r.Params) -> Record:
    books = Books(company, params)
    values = books.balances(params.start.isoformat(), params.end.isoformat())
    rows: list[Record] = []
    totals: dict[str, Decimal] = {}
    for kind, title, group, sign in (
        ("Income", "Income", "Income", -1),
        ("Cost of Goods Sold", "Cost of Goods Sold", "COGS", 1),
        ("Expense", "Expenses", "Expenses", 1),
        ("Other Income", "Other Income", "OtherIncome", -1),
        ("Other Expense", "Other Expenses", "OtherExpenses", 1),
    ):
        accounts = books.of_type(values, kind)
        totals[group] = sign * r.total([values[a] for a in accounts])
        rows.append(
            r.section(
                title,
                _account_rows(books, values, accounts, sign),
                [f"Total {title}", totals[group]],
                group,
            )
        )
        if group == "COGS":
            rows.append(
                r.summary_only(["Gross Profit", totals["Income"] - totals["COGS"]], "GrossProfit")
            )
        if group == "Expenses":
            operating = totals["Income"] - totals["COGS"] - totals["Expenses"]
            rows.append(r.summary_only(["Net Operating Income", operating], "NetOperatingIncome"))
    other = totals["OtherIncome"] - totals["OtherExpenses"]
    rows.append(r.summary_only(["Net Other Income", other], "NetOtherIncome"))
    net = totals["Income"] - totals["COGS"] - totals["Expenses"] + other
    rows.append(r.summary_only(["Net Income", net], "NetIncome"))
    return {
        "Header": r.header(company, "ProfitAndLoss", params, as_of=False, empty=not values),
        "Columns": r.columns(("", "Account"), ("Total", "Money")),
        "Rows": {"Row": rows},
    }


def _grouped(
    books: Books, values: dict[str, Decimal], kinds: tuple[str, ...], sign: int
) -> tuple[list[Record], Decimal]:
    rows, grand = [], ZERO
    for kind in kinds:
        accounts = books.of_type(values, kind)
        if not accounts:
            continue
        subtotal = sign * r.total([values[a] for a in accounts])
        grand += subtotal
        title = _SECTION_TITLES[kind]
        rows.append(
            r.section(
                title, _account_rows(books, values, accounts, sign), [f"Total {title}", subtotal]
            )
        )
    return rows, grand


def balance_sheet(company: Company, params: r.Params) -> Record:
    books = Books(company, params)
    values, retained, current = books.closing(params.end.isoformat())
    asset_rows, assets = _grouped(books, values, ASSETS, 1)
    liability_rows, liabilities = _grouped(books, values, LIABILITIES, -1)
    equity_accounts = books.of_type(values, "Equity")
    equity_rows = _account_rows(books, values, equity_accounts, -1)
    equity_rows.append(r.data_row("Retained Earnings", retained))
    equity_rows.append(r.data_row("Net Income", current))
    equity = -r.total([values[a] for a in equity_accounts]) + retained + current
    rows = [
        r.section("ASSETS", asset_rows, ["TOTAL ASSETS", assets], "TotalAssets"),
        r.section(
            "LIABILITIES AND EQUITY",
            [
                r.section(
                    "Liabilities", liability_rows, ["Total Liabilities", liabilities], "Liabilities"
                ),
                r.section("Equity", equity_rows, ["Total Equity", equity], "Equity"),
            ],
            ["TOTAL LIABILITIES AND EQUITY", liabilities + equity],
            "TotalLiabilitiesAndEquity",
        ),
    ]
    return {
        "Header": r.header(company, "BalanceSheet", params, as_of=False, empty=not values),
        "Columns": r.columns(("", "Account"), ("Total", "Money")),
        "Rows": {"Row": rows},
    }


def trial_balance(company: Company, params: r.Params) -> Record:
    books = Books(company, params)
    values, retained, _ = books.closing(params.end.isoformat())
    rows, debits, credits = [], ZERO, ZERO
    lines = [(books.name(a), a, v) for a, v in values.items() if v != 0]
    if retained:
        lines.append(("Retained Earnings", "", -retained))
    for name, account, value in sorted(lines, key=lambda x: x[0].casefold()):
        debit, credit = (value, "") if value > 0 else ("", -value)
        debits += value if value > 0 else ZERO
        credits += -value if value < 0 else ZERO
        rows.append(r.data_row(name, debit, credit, ids={0: account} if account else None))
    rows.append(r.summary_only(["TOTAL", debits, credits], "GrandTotal"))
    return {
        "Header": r.header(company, "TrialBalance", params, as_of=False, empty=not lines),
        "Columns": r.columns(("", "Account"), ("Debit", "Money"), ("Credit", "Money")),
        "Rows": {"Row": rows},
    }


def _split(books: Books, posting: Posting, by_txn: dict[tuple[str, str], list[Posting]]) -> str:
    others = [p for p in by_txn[(posting.txn_type, posting.txn_id)] if p.account != posting.account]
    if len({p.account for p in others}) == 1:
        return books.name(others[0].account)
    return "-Split-"


def _ledger_section(
    books: Books,
    account: str,
    mine: list[Posting],
    period: tuple[str, str],
    by_txn: dict[tuple[str, str], list[Posting]],
) -> Record | None:
    """One account's section: its balance before the period, each posting, its total."""
    start, end = period
    since = books.fiscal_start if books.is_pl(account) else ""  # income restarts each year
    opening = sum((p.amount for p in mine if since <= p.date < start), ZERO)
    moves = [p for p in mine if start <= p.date <= end]
    if not moves and opening == 0:
        return None
    running = opening
    lines = [r.data_row(start, "Beginning Balance", "", "", "", "", "", opening)]
    for p in moves:
        running += p.amount
        ids = {1: p.txn_id, 3: p.party_id} if p.party_id else {1: p.txn_id}
        split = _split(books, p, by_txn)
        lines.append(
            r.data_row(
                p.date,
                p.txn_type,
                p.doc_number,
                p.party_name,
                p.memo,
                split,
                p.amount,
                running,
                ids=ids,
            )
        )
    moved = r.total([p.amount for p in moves])
    name = books.name(account)
    return r.section(name, lines, [f"Total for {name}", "", "", "", "", "", moved, running])


def general_ledger(company: Company, params: r.Params) -> Record:
    books = Books(company, params)
    start, end = params.start.isoformat(), params.end.isoformat()
    by_txn: dict[tuple[str, str], list[Posting]] = defaultdict(list)
    by_account: dict[str, list[Posting]] = defaultdict(list)
    for posting in books.postings:
        by_txn[(posting.txn_type, posting.txn_id)].append(posting)
        by_account[posting.account].append(posting)
    accounts = sorted(
        {p.account for p in books.postings if p.date <= end}, key=lambda a: books.name(a).casefold()
    )
    sections = (_ledger_section(books, a, by_account[a], (start, end), by_txn) for a in accounts)
    rows = [section for section in sections if section is not None]
    titles = ("Date", "Transaction Type", "Num", "Name", "Memo/Description", "Split")
    return {
        "Header": r.header(company, "GeneralLedger", params, as_of=False, empty=not rows),
        "Columns": r.columns(
            *((t, "Date" if t == "Date" else "String") for t in titles),
            ("Amount", "Money"),
            ("Balance", "Money"),
        ),
        "Rows": {"Row": rows},
    }


REPORTS: dict[str, r.ReportFn] = {
    "ProfitAndLoss": profit_and_loss,
    "BalanceSheet": balance_sheet,
    "TrialBalance": trial_balance,
    "GeneralLedger": general_ledger,
}
