"""Open A/R per client in TPS and in QBO, net of unapplied credits, every difference listed.

A client's position is what it owes (open invoices, finance charges, increases) less the
credits it holds (unapplied payments and retainers, decreases on no invoice in TPS;
unapplied payments and unapplied credit memos in QBO). The credits are shown in their own
columns so that a credit on one side only is plain to see; the difference is of the nets.
QBO's side comes from QBO's own A/R report per customer when the company answers it, so a
difference that report would show is never hidden by our own arithmetic.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tpsqbo_engine.filters import to_decimal
from tpsqbo_engine.sync.snapshot import Snapshot

ZERO = Decimal("0.00")
Record = dict[str, Any]


@dataclass(frozen=True)
class Balance:
    client: str
    name: str
    tps: Decimal  # net: owed less credits
    qbo: Decimal
    tps_credits: Decimal = ZERO
    qbo_credits: Decimal = ZERO
    out_of_scope: str = ""  # why the sync leaves this client out: listed, not compared

    @property
    def difference(self) -> Decimal:
        return ZERO if self.out_of_scope else self.tps - self.qbo


@dataclass
class Ledger:
    """Per client (or customer): what is owed, and the credits held."""

    owed: dict[str, Decimal]
    credits: dict[str, Decimal]

    def add(self, who: str, amount: Decimal, *, credit: bool = False) -> None:
        book = self.credits if credit else self.owed
        book[who] = book.get(who, ZERO) + amount

    def net(self, who: str) -> Decimal:
        return self.owed.get(who, ZERO) - self.credits.get(who, ZERO)


def _money(value: Any) -> Decimal:
    # to_decimal: an amount TPS sent that is not one is refused with its record and field
    return to_decimal(value or 0)


def tps_ledger(snapshot: Snapshot) -> Ledger:
    """What TPS says each client owes. A voided transaction owes nothing, whatever balance or
    amount it keeps (the sync voids its QBO copy too)."""
    ledger = Ledger({}, {})
    for invoice in _live(snapshot, "tps.Invoice"):
        ledger.add(invoice["client_id"], _money(invoice.get("balance")))
    for charge in _live(snapshot, "tps.FinanceCharge"):
        ledger.add(charge["client_id"], _money(charge.get("balance")))
    for adjustment in _live(snapshot, "tps.Adjustment"):
        if adjustment["direction"] == "increase":
            ledger.add(adjustment["client_id"], _money(adjustment["amount"]))
        elif not adjustment.get("invoice_id"):
            ledger.add(adjustment["client_id"], _money(adjustment["amount"]), credit=True)
    for payment in _live(snapshot, "tps.Payment"):
        ledger.add(payment["client_id"], _money(payment.get("unapplied_amount")), credit=True)
    return ledger


# The transactions each ledger counts, and the field holding each one's date.
DATED = {
    "tps.Invoice": "date",
    "tps.FinanceCharge": "date",
    "tps.Adjustment": "date",
    "tps.Payment": "date",
    "qbo.Invoice": "TxnDate",
    "qbo.CreditMemo": "TxnDate",
    "qbo.Payment": "TxnDate",
}


def as_of(snapshot: Snapshot, today: dt.date) -> dt.date:
    """The date QBO's report must be asked for so that it covers what the ledgers count:
    the latest transaction date on either side, and at least `today`. Both ledgers count
    every open transaction whatever its date, so a report as of today alone would leave
    out a postdated cheque or a year-end invoice that the other side counts."""
    latest = today
    for qualified, field in DATED.items():
        for record in snapshot.records(qualified).values():
            value = record.get(field)
            try:
                day = dt.date.fromisoformat(str(value)[:10]) if value else None
            except ValueError:
                continue  # an unreadable date is refused where the record is read
            if day and day > latest:
                latest = day
    return latest


def _live(snapshot: Snapshot, qualified: str) -> Iterator[Record]:
    return (r for r in snapshot.records(qualified).values() if r.get("status") != "void")


def qbo_ledger(snapshot: Snapshot, report: Mapping[str, Decimal] | None = None) -> Ledger:
    """From QBO's transactions; `report` (customer id -> open balance, from QBO's own
    report) replaces the arithmetic for what is owed when the company answers it."""
    ledger = Ledger({}, {})
    for invoice in snapshot.records("qbo.Invoice").values():
        ledger.add(invoice["CustomerRef"]["value"], _money(invoice.get("Balance")))
    for memo in snapshot.records("qbo.CreditMemo").values():
        remaining = memo.get("RemainingCredit", memo.get("Balance"))
        ledger.add(memo["CustomerRef"]["value"], _money(remaining), credit=True)
    for payment in snapshot.records("qbo.Payment").values():
        ledger.add(
            payment["CustomerRef"]["value"], _money(payment.get("UnappliedAmt")), credit=True
        )
    if report is not None:
        # The report's open balance is already net of the credits it knows. QBO's report has
        # no row for a customer whose net is 0 (open invoices equal to its credits): such a
        # customer nets to 0, so what it owes is its credits, never 0 less its credits.
        ledger.owed = {
            who: report.get(who, ZERO) + ledger.credits.get(who, ZERO)
            for who in set(ledger.owed) | set(ledger.credits) | set(report)
        }
    return ledger


def reconcile(
    snapshot: Snapshot,
    client_links: dict[str, str],
    report: Mapping[str, Decimal] | None = None,
    scope: Mapping[str, str] | None = None,
) -> list[Balance]:
    """One row per client with A/R or credits on either side; `client_links` is TPS id ->
    QBO id; `scope` is TPS id -> why the client is out of the sync's scope."""
    tps, qbo = tps_ledger(snapshot), qbo_ledger(snapshot, report)
    customers = snapshot.records("qbo.Customer")
    rows = []
    for client in snapshot.records("tps.Client").values():
        ident, customer_id = client["id"], client_links.get(client["id"], "")
        row = Balance(
            client["code"],
            client["name"],
            tps.net(ident).quantize(ZERO),
            qbo.net(customer_id).quantize(ZERO) if customer_id else ZERO,
            tps.credits.get(ident, ZERO).quantize(ZERO),
            qbo.credits.get(customer_id, ZERO).quantize(ZERO) if customer_id else ZERO,
            (scope or {}).get(ident, ""),
        )
        if row.tps or row.qbo or row.tps_credits or row.qbo_credits:
            rows.append(row)
    linked = set(client_links.values())
    for customer_id in sorted(set(qbo.owed) | set(qbo.credits)):
        if customer_id in linked or not (qbo.net(customer_id) or qbo.credits.get(customer_id)):
            continue
        name = str(customers.get(customer_id, {}).get("DisplayName", customer_id))
        credits = qbo.credits.get(customer_id, ZERO).quantize(ZERO)
        rows.append(
            Balance("(not in TPS)", name, ZERO, qbo.net(customer_id).quantize(ZERO), ZERO, credits)
        )
    return sorted(rows, key=lambda r: r.name.strip().casefold())
