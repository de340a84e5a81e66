"""Open A/R per client in TPS and in QBO, side by side, every difference listed."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tpsqbo_engine.sync.snapshot import Snapshot

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Balance:
    client: str
    name: str
    tps: Decimal
    qbo: Decimal

    @property
    def difference(self) -> Decimal:
        return self.tps - self.qbo


def tps_receivable(snapshot: Snapshot) -> dict[str, Decimal]:
    """Open invoices and finance charges, plus increases, less decreases not on an invoice."""
    owed: dict[str, Decimal] = {}

    def add(client: str, amount: Decimal) -> None:
        owed[client] = owed.get(client, ZERO) + amount

    for invoice in snapshot.records("tps.Invoice").values():
        if invoice.get("status") != "void":
            add(invoice["client_id"], Decimal(invoice.get("balance") or 0))
    for charge in snapshot.records("tps.FinanceCharge").values():
        add(charge["client_id"], Decimal(charge.get("balance") or 0))
    for adjustment in snapshot.records("tps.Adjustment").values():
        if adjustment["direction"] == "increase":
            add(adjustment["client_id"], Decimal(adjustment["amount"]))
        elif not adjustment.get("invoice_id"):
            add(adjustment["client_id"], -Decimal(adjustment["amount"]))
    return owed


def reconcile(snapshot: Snapshot, client_links: dict[str, str]) -> list[Balance]:
    """One row per client that has A/R on either side; `client_links` is TPS id -> QBO id."""
    owed = tps_receivable(snapshot)
    customers = snapshot.records("qbo.Customer")
    rows = []
    for client in snapshot.records("tps.Client").values():
        customer = customers.get(client_links.get(client["id"], ""))
        qbo = Decimal(str(customer.get("Balance", 0))) if customer else ZERO
        tps = owed.get(client["id"], ZERO)
        if tps or qbo:
            rows.append(
                Balance(client["code"], client["name"], tps.quantize(ZERO), qbo.quantize(ZERO))
            )
    linked = set(client_links.values())
    for customer in customers.values():
        balance = Decimal(str(customer.get("Balance", 0)))
        if customer["Id"] not in linked and balance:
            rows.append(
                Balance("(not in TPS)", customer["DisplayName"], ZERO, balance.quantize(ZERO))
            )
    return sorted(rows, key=lambda r: r.name.casefold())
