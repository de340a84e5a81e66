"""Lookups a company keeps up to date on every write, so that no write has to scan the
company: name uniqueness, doc numbers, which payments apply to what, open balance per customer,
and the fields clients look records up by in queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tpsqbo_engine.emulators.qbo.lookups import FieldIndexes
from tpsqbo_engine.emulators.qbo.money import ZERO, cents

PEOPLE = ("Customer", "Vendor", "Employee")
NAMED = {
    "Item": "Name",
    "Account": "Name",
    "Term": "Name",
    "PaymentMethod": "Name",
    "Class": "Name",
    "Department": "Name",
    "TaxCode": "Name",
    "TaxRate": "Name",
    **dict.fromkeys(PEOPLE, "DisplayName"),
}
Record = dict[str, Any]


def name_key(name: object) -> str:
    """QBO compares names for Duplicate Name (6240) without case or surrounding spaces."""
    return str(name).strip().casefold()


def name_group(entity: str) -> str:
    # DisplayName is one namespace across customers, vendors and employees.
    return "people" if entity in PEOPLE else entity


@dataclass
class Indexes:
    names: dict[str, dict[str, str]] = field(default_factory=dict)
    doc_numbers: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    highest_number: dict[str, int] = field(default_factory=dict)
    applications: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    applied_by: dict[str, set[str]] = field(default_factory=dict)
    shares: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    share_owner: dict[str, str] = field(default_factory=dict)
    totals: dict[str, Decimal] = field(default_factory=dict)
    fields: FieldIndexes = field(default_factory=FieldIndexes)

    # Names and numbers ----------------------------------------------------------------------
    def named(self, entity: str, name: str) -> str | None:
        return self.names.get(name_group(entity), {}).get(name_key(name))

    def next_number(self, entity: str) -> str:
        return str(max(self.highest_number.get(entity, 1000), 1000) + 1)

    def with_number(self, entity: str, number: str) -> set[str]:
        return self.doc_numbers.get(entity, {}).get(number, set())

    def replace(self, entity: str, old: Record | None, new: Record | None) -> None:
        """Moves a record's name, doc number and looked-up fields from its old version to
        its new one."""
        self.fields.replace(entity, old, new)
        field_name = NAMED.get(entity)
        group = self.names.setdefault(name_group(entity), {})
        numbers = self.doc_numbers.setdefault(entity, {})
        if old is not None:
            if field_name and old.get(field_name):
                group.pop(name_key(old[field_name]), None)
            if old.get("DocNumber"):
                numbers.get(str(old["DocNumber"]), set()).discard(old["Id"])
        if new is not None:
            if field_name and new.get(field_name):
                group[name_key(new[field_name])] = new["Id"]
            number = str(new.get("DocNumber") or "")
            if number:
                numbers.setdefault(number, set()).add(new["Id"])
                if number.isdigit():
                    self.highest_number[entity] = max(
                        self.highest_number.get(entity, 0), int(number)
                    )

    # Payments -------------------------------------------------------------------------------
    def applied_to(self, txn_id: str) -> Decimal:
        return sum(self.applications.get(txn_id, {}).values(), ZERO)

    def payments_of(self, txn_id: str) -> list[str]:
        return sorted(self.applications.get(txn_id, {}), key=int)

    def apply(self, payment_id: str, applied: dict[str, Decimal]) -> set[str]:
        """Records what a payment now applies; returns every transaction whose balance moved."""
        touched = self.applied_by.pop(payment_id, set())
        for txn in touched:
            self.applications.get(txn, {}).pop(payment_id, None)
        for txn, value in applied.items():
            self.applications.setdefault(txn, {})[payment_id] = value
        if applied:
            self.applied_by[payment_id] = set(applied)
        return touched | set(applied)

    # Customer balances ----------------------------------------------------------------------
    def set_share(self, txn_id: str, customer_id: str | None, amount: Decimal) -> set[str]:
        """A transaction's part of its customer's balance; returns the customers affected."""
        affected = set()
        owner = self.share_owner.pop(txn_id, None)
        if owner is not None:
            old = self.shares.get(owner, {}).pop(txn_id, ZERO)
            self.totals[owner] = self.totals.get(owner, ZERO) - old
            affected.add(owner)
        if customer_id is not None:
            self.shares.setdefault(customer_id, {})[txn_id] = amount
            self.share_owner[txn_id] = customer_id
            self.totals[customer_id] = self.totals.get(customer_id, ZERO) + amount
            affected.add(customer_id)
        return affected

    def balance(self, customer_id: str) -> Decimal:
        return cents(self.totals.get(customer_id, ZERO))
