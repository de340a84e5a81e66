"""One emulated TPS firm: its records and the arithmetic TPS does on them.

Every record carries `version` (optimistic concurrency: a write must name the version it
read, else 409) and `updated_at`, strictly increasing across the firm so that "changed
after this moment" never misses or repeats a record. Invoice balances follow the payments
and decrease adjustments applied to them; a payment's unapplied part is what is left. A
void invoice takes no more payment and no more decrease (TPS refuses it; `invoice_void`).
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from tpsqbo_engine.connectors.tps.contract import RESOURCES
from tpsqbo_engine.ruleset.shapes import entity_validator

CENT = Decimal("0.01")
PREFIXES = {
    "clients": "c",
    "work-codes": "wc",
    "wip": "wip",
    "invoices": "inv",
    "payments": "pay",
    "adjustments": "adj",
    "finance-charges": "fc",
}
Record = dict[str, Any]


class TpsFault(Exception):
    """An error answer of the contract: HTTP status, a stable code, and where."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        resource: str = "",
        ident: str = "",
        field: str = "",
        current_version: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.resource, self.ident, self.field = resource, ident, field
        self.current_version = current_version

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        for key, value in (
            ("resource", self.resource),
            ("id", self.ident),
            ("field", self.field),
            ("current_version", self.current_version),
        ):
            if value not in ("", None):
                error[key] = value
        return {"error": error}


def money(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)


def text(value: Decimal) -> str:
    return str(value.quantize(CENT))


@dataclass
class Firm:
    firm: Record
    records: dict[str, dict[str, Record]] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _last_stamp: datetime = field(default=datetime(2000, 1, 1, tzinfo=UTC), repr=False)
    _order: dict[str, list[Record]] = field(default_factory=dict, repr=False)
    # invoice id -> {"payments:pay-1": amount, "adjustments:adj-3": amount}
    _applied_index: dict[str, dict[str, Decimal]] = field(default_factory=dict, repr=False)
    _applied_to: dict[str, set[str]] = field(default_factory=dict, repr=False)

    def table(self, resource: str) -> dict[str, Record]:
        return self.records.setdefault(resource, {})

    def _stamp(self) -> str:
        now = max(datetime.now(UTC), self._last_stamp + timedelta(microseconds=1))
        self._last_stamp = now
        return now.isoformat(timespec="microseconds").replace("+00:00", "Z")

    def get(self, resource: str, ident: str) -> Record:
        record = self.table(resource).get(ident)
        if record is None:
            raise TpsFault(
                404, "not_found", f"no {resource} record {ident}", resource=resource, ident=ident
            )
        return record

    # Listing ------------------------------------------------------------------------------
    def changed(self, resource: str, after: str = "") -> list[Record]:
        """Records in (updated_at, id) order, only those changed strictly after `after`."""
        with self.lock:
            ordered = self._order.get(resource)
            if ordered is None:
                ordered = sorted(
                    self.table(resource).values(), key=lambda r: (r["updated_at"], r["id"])
                )
                self._order[resource] = ordered
            return [r for r in ordered if r["updated_at"] > after] if after else list(ordered)

    # Writes -------------------------------------------------------------------------------
    def create(self, resource: str, body: Record) -> Record:
        with self.lock:
            record = {k: v for k, v in body.items() if k not in ("version", "updated_at")}
            if not record.get("id"):
                number = self.counters.get(resource, 1000) + 1
                self.counters[resource] = number
                record["id"] = f"{PREFIXES[resource]}-{number}"
            elif record["id"] in self.table(resource):
                raise TpsFault(
                    409,
                    "duplicate_id",
                    f"{resource} {record['id']} already exists",
                    resource=resource,
                    ident=record["id"],
                )
            record["version"] = 1
            return self._store(resource, record, None)

    def update(self, resource: str, ident: str, body: Record, *, partial: bool) -> Record:
        with self.lock:
            current = self.get(resource, ident)
            if body.get("version") != current["version"]:
                raise TpsFault(
                    409,
                    "conflict",
                    f"{resource} {ident} changed since it was read (version "
                    f"{body.get('version')} is not the current {current['version']})",
                    resource=resource,
                    ident=ident,
                    current_version=current["version"],
                )
            changes = {k: v for k, v in body.items() if k not in ("id", "version", "updated_at")}
            base = (
                copy.deepcopy(current)
                if partial
                else {k: current[k] for k in ("id",) if k in current}
            )
            record = {**base, **changes, "version": current["version"] + 1}
            return self._store(resource, record, current)

    def _store(self, resource: str, record: Record, previous: Record | None) -> Record:
        """Checks everything first, then writes: a refused write changes nothing."""
        try:
            self._derive(resource, record)
        except (ArithmeticError, TypeError, ValueError, KeyError, AttributeError):
            # Junk the schema refuses (an amount of NaN, lines that are not objects) breaks
            # the arithmetic first: report it as the schema would, a 422 naming the field.
            self._validate(resource, record)
            raise TpsFault(422, "invalid", "the record cannot be read", resource=resource) from None
        record["updated_at"] = self._stamp()
        self._validate(resource, record)
        self._check_references(resource, record)
        applied = _applications(resource, record)
        balances = self._new_balances(resource, record, previous, applied)
        self.table(resource)[record["id"]] = record
        self._order.pop(resource, None)
        self._index_applications(resource, record["id"], applied)
        for invoice_id, balance in balances.items():
            self._set_balance(invoice_id, balance)
        return record

    def _validate(self, resource: str, record: Record) -> None:
        errors = sorted(
            entity_validator(f"tps.{RESOURCES[resource]}").iter_errors(record),
            key=lambda e: list(e.absolute_path),
        )
        if errors:
            first = errors[0]
            where = ".".join(str(p) for p in first.absolute_path) or "(record)"
            raise TpsFault(
                422,
                "invalid",
                f"{where}: {first.message}",
                resource=resource,
                ident=record.get("id", ""),
                field=where,
            )

    def _check_references(self, resource: str, record: Record) -> None:
        client = record.get("client_id")
        if client is not None and client not in self.table("clients"):
            raise TpsFault(
                422,
                "unknown_reference",
                f"client {client} does not exist",
                resource=resource,
                ident=record["id"],
                field="client_id",
            )
        if resource == "clients":
            clash = next(
                (
                    r
                    for r in self.table("clients").values()
                    if r["code"] == record["code"] and r["id"] != record["id"]
                ),
                None,
            )
            if clash is not None:
                raise TpsFault(
                    422,
                    "duplicate_code",
                    f"client code {record['code']} is taken",
                    resource=resource,
                    ident=record["id"],
                    field="code",
                )

    # Arithmetic ---------------------------------------------------------------------------
    def _derive(self, resource: str, record: Record) -> None:
        if resource == "invoices":
            self._derive_invoice(record)
        elif resource == "payments":
            applied = sum(
                (money(a["amount"]) for a in record.get("applications") or []), Decimal(0)
            )
            unapplied = money(record.get("amount", 0)) - applied
            if unapplied < 0:
                raise TpsFault(
                    422,
                    "over_applied",
                    "a payment cannot apply more than its amount",
                    resource=resource,
                    ident=record.get("id", ""),
                    field="applications",
                )
            record["unapplied_amount"] = text(unapplied)
            record.setdefault("source", "tps")
            record.setdefault("status", "active")
        elif resource == "finance-charges":
            record.setdefault("balance", record.get("amount"))

    def _derive_invoice(self, record: Record) -> None:
        code = str(record.get("invoice_code") or self.firm.get("invoice_code") or "0")
        record["invoice_code"] = code
        key = f"invoice-number:{code}"
        if "number" not in record:
            record["number"] = self.counters.get(key, 1000) + 1
        self.counters[key] = max(self.counters.get(key, 1000), int(record["number"]))
        record.setdefault("doc_number", f"{code}-{record['number']}")
        lines = record.get("lines") or []
        subtotal = (
            sum((money(line["amount"]) for line in lines), Decimal(0))
            if lines
            else money(record.get("subtotal", record.get("total", 0)))
        )
        tax = sum((money(t["amount"]) for t in record.get("taxes") or []), Decimal(0))
        record.update(subtotal=text(subtotal), tax_total=text(tax), total=text(subtotal + tax))
        record.setdefault("type", "quick")
        record.setdefault("status", "outstanding")
        record["balance"] = text(subtotal + tax - self._applied(record.get("id", "")))
        self._set_status(record)

    def _applied(self, invoice_id: str) -> Decimal:
        return sum(self._applied_index.get(invoice_id, {}).values(), Decimal(0))

    def _index_applications(self, resource: str, ident: str, applied: dict[str, Decimal]) -> None:
        source = f"{resource}:{ident}"
        for invoice_id in self._applied_to.pop(source, set()):
            self._applied_index.get(invoice_id, {}).pop(source, None)
        for invoice_id, value in applied.items():
            self._applied_index.setdefault(invoice_id, {})[source] = value
        if applied:
            self._applied_to[source] = set(applied)

    def _new_balances(
        self, resource: str, record: Record, previous: Record | None, applied: dict[str, Decimal]
    ) -> dict[str, Decimal]:
        """The balance each touched invoice will have after this write, or a refusal."""
        source = f"{resource}:{record['id']}"
        before = _applications(resource, previous) if previous else {}
        balances = {}
        for invoice_id in set(before) | set(applied):
            invoice = self.table("invoices").get(invoice_id)
            if invoice is None:
                raise TpsFault(
                    422,
                    "unknown_reference",
                    f"invoice {invoice_id} does not exist",
                    resource=resource,
                    ident=record["id"],
                    field="invoice_id",
                )
            if invoice["client_id"] != record.get("client_id"):
                raise TpsFault(
                    422,
                    "wrong_client",
                    f"invoice {invoice['doc_number']} belongs to another client",
                    resource=resource,
                    ident=record["id"],
                    field="invoice_id",
                )
            if invoice.get("status") == "void":
                _no_more_on_void(invoice, resource, record, before, applied)
            others = self._applied(invoice_id) - self._applied_index.get(invoice_id, {}).get(
                source, Decimal(0)
            )
            balance = money(invoice["total"]) - others - applied.get(invoice_id, Decimal(0))
            if balance < 0 and invoice.get("status") != "void":
                raise TpsFault(
                    422,
                    "over_applied",
                    f"invoice {invoice['doc_number']} would be paid more than its total",
                    resource=resource,
                    ident=record["id"],
                    field="applications",
                )
            balances[invoice_id] = balance
        return balances

    def _set_balance(self, invoice_id: str, balance: Decimal) -> None:
        invoice = self.table("invoices")[invoice_id]
        if text(balance) == invoice["balance"] or invoice.get("status") == "void":
            return
        invoice["balance"] = text(balance)
        self._set_status(invoice)
        invoice["version"] += 1
        invoice["updated_at"] = self._stamp()
        self._order.pop("invoices", None)

    def rebuild_index(self) -> None:
        """After loading saved state: the index is derived, never stored."""
        self._applied_index, self._applied_to = {}, {}
        for resource in ("payments", "adjustments"):
            for record in self.table(resource).values():
                self._index_applications(resource, record["id"], _applications(resource, record))
        stamps = [r["updated_at"] for t in self.records.values() for r in t.values()]
        if stamps:
            self._last_stamp = datetime.fromisoformat(max(stamps).replace("Z", "+00:00"))

    @staticmethod
    def _set_status(invoice: Record) -> None:
        if invoice.get("status") == "void":
            invoice["balance"] = "0.00"
        else:
            invoice["status"] = "paid" if money(invoice["balance"]) == 0 else "outstanding"


def _no_more_on_void(
    invoice: Record,
    resource: str,
    record: Record,
    before: dict[str, Decimal],
    applied: dict[str, Decimal],
) -> None:
    """TPS applies no payment and no decrease adjustment to a void invoice. What one applied
    to it before the void stays (it can still be edited, or taken off it); more is refused."""
    ident = invoice["id"]
    if applied.get(ident, Decimal(0)) > before.get(ident, Decimal(0)):
        what, field = _ON_INVOICES[resource]
        raise TpsFault(
            422,
            "invoice_void",
            f"invoice {invoice['doc_number']} is void: {what} cannot be applied to it",
            resource=resource,
            ident=record["id"],
            field=field,
        )


# What takes money off an invoice, by resource: how TPS names it, the field naming the invoice.
_ON_INVOICES = {
    "payments": ("a payment", "applications"),
    "adjustments": ("a decrease adjustment", "invoice_id"),
}


def _applications(resource: str, record: Record | None) -> dict[str, Decimal]:
    """What a payment or adjustment takes off which invoice."""
    if record is None:
        return {}
    if resource == "payments" and record.get("status") != "void":
        applied: dict[str, Decimal] = {}
        for application in record.get("applications") or []:
            invoice_id = application["invoice_id"]
            applied[invoice_id] = applied.get(invoice_id, Decimal(0)) + money(application["amount"])
        return applied
    if (
        resource == "adjustments"
        and record.get("direction") == "decrease"
        and record.get("invoice_id")
    ):
        return {record["invoice_id"]: money(record["amount"])}
    return {}
