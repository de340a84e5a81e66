"""A customer's Balance moves when its invoices and payments do, and nothing says QBO's
change feed lists the customer then: the mirror would keep the balance it last read. The
customers of the transactions a run reads as changed are read again, so a rule that looks
at `Balance` (a walk-in customer with something owing) sees it as it is now. An unchanged
firm reads none; a changed one reads a hundred customers to a call."""

from __future__ import annotations

from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.sync.mirror import BALANCE_MOVERS, Mirror, moved_customer
from tpsqbo_engine.sync.snapshot import Snapshot


def customers_of_changes(snapshot: Snapshot, mirror: Mirror) -> list[str]:
    """Mirrored customers whose transactions were read as changed (looked up in the mirror
    by id: the snapshot holds only the customers the run read or names)."""
    moved: set[str] = set()
    for entity in BALANCE_MOVERS:
        for record in snapshot.qbo.get(entity, {}).values():
            customer = moved_customer(entity, record)
            if customer is not None:
                moved.add(customer)
    return sorted(mirror.find("qbo.Customer", moved)) if moved else []


def refresh_balances(snapshot: Snapshot, qbo: QboClient, mirror: Mirror) -> None:
    wanted = customers_of_changes(snapshot, mirror)
    if not wanted:
        return
    fresh = list(qbo.read_many("Customer", wanted))
    mirror.apply("qbo.Customer", fresh)
    snapshot.qbo.setdefault("Customer", {}).update({record["Id"]: record for record in fresh})
