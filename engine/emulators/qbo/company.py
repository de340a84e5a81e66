"""One emulated QBO company: its records and the rules QBO applies when they are written.

String Ids and SyncTokens, MetaData times in the company's offset, name-list entities that
deactivate instead of being deleted, DisplayName unique across customers, vendors and
employees, server-computed totals, hard-deleted transactions remembered as `Deleted` stubs for
CDC. Balances (payments lowering what they are applied to) are shares.py's; online payments
paylinks.py's.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from tpsqbo_engine.emulators.qbo import (
    catalog,
    faults,
    forms,
    locks,
    people,
    purchases,
    shares,
    stock,
)
from tpsqbo_engine.emulators.qbo.indexes import Indexes
from tpsqbo_engine.emulators.qbo.money import ZERO
from tpsqbo_engine.emulators.qbo.shares import OWED, PAYMENTS, SALES, SHARED

NAME_LISTS = catalog.names_of("name-list")
TRANSACTIONS = catalog.names_of("transaction")
SINGLETONS = catalog.names_of("singleton")
ENTITIES = NAME_LISTS | TRANSACTIONS | SINGLETONS
PEOPLE = ("Customer", "Vendor", "Employee")
COMPUTED = frozenset(
    {
        "Id",
        "SyncToken",
        "MetaData",
        "domain",
        "sparse",
        "FullyQualifiedName",
        "Balance",
        "BalanceWithJobs",
        "UnappliedAmt",
        "InvoiceLink",
        "HomeBalance",
        "CurrentBalance",
        "CurrentBalanceWithSubAccounts",
        "RemainingCredit",
        "TxnStatus",
        "Classification",
    }
)
_PREPARE = {**people.PREPARE, **forms.PREPARE, **purchases.PREPARE}
_DATES = ("TxnDate", "DueDate", "ShipDate", "ExpirationDate", "AcceptedDate", "InvStartDate")
OFFSETS = {"US": timezone(timedelta(hours=-8)), "CA": timezone(timedelta(hours=-5))}

Record = dict[str, Any]
ChangeListener = Callable[[str, str, str], None]


def entity_for_path(segment: str) -> str | None:
    """The entity a URL path segment names (`invoice` → Invoice); lower case only."""
    return next((name for name in ENTITIES if name.lower() == segment), None)


@dataclass
class Company:
    realm_id: str
    country: str = "US"
    records: dict[str, dict[str, Record]] = field(default_factory=dict)
    deleted: dict[str, dict[str, Record]] = field(default_factory=dict)
    next_id: int = 1
    payment_links: dict[str, str] = field(default_factory=dict)
    pay_base: str = ""
    listeners: list[ChangeListener] = field(default_factory=list, repr=False)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    index: Indexes = field(default_factory=Indexes, repr=False)
    _hidden: set[str] | None = field(default=None, repr=False)
    jobs: dict[str, set[str]] = field(default_factory=dict, repr=False)
    stock_moves: dict[str, dict[str, Decimal]] = field(default_factory=dict, repr=False)

    # Basics ---------------------------------------------------------------------------
    @property
    def us(self) -> bool:
        return self.country == "US"

    @property
    def offset(self) -> timezone:
        return OFFSETS.get(self.country, UTC)

    def timestamp(self) -> str:
        return datetime.now(UTC).astimezone(self.offset).isoformat(timespec="seconds")

    def table(self, entity: str) -> dict[str, Record]:
        return self.records.setdefault(entity, {})

    def get(self, entity: str, ident: str) -> Record:
        record = self.table(entity).get(str(ident))
        if record is None:
            raise faults.not_found(entity, str(ident))
        return record

    def singleton(self, entity: str) -> Record:
        return next(iter(self.table(entity).values()))

    def find_by(self, entity: str, name_field: str, value: str) -> Record | None:
        folded = value.casefold()
        return next(
            (
                r
                for r in self.table(entity).values()
                if str(r.get(name_field, "")).casefold() == folded
            ),
            None,
        )

    def visible(self, entity: str, ident: str) -> Record | None:
        """A record this write may see (inside a batch, not one a sibling item made)."""
        if self._hidden is not None and ident in self._hidden:
            return None
        return self.table(entity).get(ident)

    def _new_id(self) -> str:
        ident = str(self.next_id)
        self.next_id += 1
        if self._hidden is not None:
            self._hidden.add(ident)
        return ident

    @contextmanager
    def independent_items(self) -> Iterator[None]:
        """Inside a batch, what one item creates is invisible to the others."""
        with self.lock:
            self._hidden = set()
            try:
                yield
            finally:
                self._hidden = None

    def notify(self, entity: str, ident: str, operation: str) -> None:
        for listener in self.listeners:
            listener(entity, ident, operation)

    # References -----------------------------------------------------------------------
    def check_ref(self, entity: str, ref: Any, element: str) -> Record:
        ident = str(ref.get("value")) if isinstance(ref, dict) else None
        record = self.table(entity).get(ident or "")
        hidden = self._hidden is not None and ident in self._hidden
        if record is None or hidden or record.get("Active") is False:
            raise faults.invalid_reference(element)
        return record

    def tax_rate(self, code: Any) -> Decimal | None:
        tax_code = self.table("TaxCode").get(str(code))
        if tax_code is None:
            return None
        details = (tax_code.get("SalesTaxRateList") or {}).get("TaxRateDetail") or []
        rates = [self.table("TaxRate").get(str(d["TaxRateRef"]["value"]), {}) for d in details]
        return sum((Decimal(str(r.get("RateValue", 0))) for r in rates), ZERO)

    # Writes ---------------------------------------------------------------------------
    def create(
        self, entity: str, body: Record, *, allow_duplicate_docnumber: bool = False
    ) -> Record:
        with self.lock:
            self._writable(entity, "create")
            record = {k: v for k, v in body.items() if k not in COMPUTED and v is not None}
            if entity in NAME_LISTS:
                record.setdefault("Active", True)
            ident = self._new_id()
            self._prepare(entity, record, ident, allow_duplicate_docnumber)
            self.place(entity, record, ident)
            self.notify(entity, ident, "Create")
            return record

    def place(self, entity: str, record: Record, ident: str | None = None) -> Record:
        """Store `record` as a new one the way QBO holds it (Id, SyncToken 0, MetaData), index
        it and apply what it does to balances and stock. It checks nothing: `create` checks
        first, and the sandbox places read-only lists and settings no client may write."""
        with self.lock:
            ident = self._new_id() if ident is None else ident
            now = self.timestamp()
            record.update(
                {
                    "Id": ident,
                    "SyncToken": "0",
                    "domain": "QBO",
                    "sparse": False,
                    "MetaData": {"CreateTime": now, "LastUpdatedTime": now},
                }
            )
            self.table(entity)[ident] = record
            self.index.replace(entity, None, record)
            shares.after_write(self, entity, record)
            return record

    def update(
        self, entity: str, body: Record, *, sparse: bool, allow_duplicate_docnumber: bool = False
    ) -> Record:
        with self.lock:
            self._writable(entity, "update")
            current = self._current(entity, body)
            changes = {k: v for k, v in body.items() if k not in COMPUTED and v is not None}
            if entity in SINGLETONS:
                # Settings merge section by section, whatever `sparse` says: QBO ignores
                # what a client leaves out of Preferences rather than resetting it.
                record = _merged(copy.deepcopy(current), changes)
            elif sparse:
                record = {**copy.deepcopy(current), **changes}
            else:
                kept = {k: v for k, v in current.items() if k in COMPUTED}
                record = {**kept, **changes}  # a full update nulls every field left out
            if entity in NAME_LISTS and record.get("Active") is False:
                people.check_can_deactivate(self, entity, current)
            self._prepare(entity, record, current["Id"], allow_duplicate_docnumber)
            locks.refuse_deposited_change(self, entity, current, record)
            return self._commit(entity, current, record, "Update")

    def delete(self, entity: str, body: Record) -> Record:
        with self.lock:
            if not catalog.info(entity).allows("delete"):
                raise faults.unsupported(
                    f"Operation Delete is not supported for {entity}"
                    + (
                        "; make it inactive instead (Active = false)."
                        if entity in NAME_LISTS
                        else ""
                    )
                )
            current = self._current(entity, body)
            locks.refuse_if_paid(self, current["Id"], "deleting")
            locks.refuse_if_deposited(self, entity, current["Id"], "deleting it")
            del self.table(entity)[current["Id"]]
            self.index.replace(entity, current, None)
            if entity in PAYMENTS:
                shares.apply_payment(self, current["Id"], {})
            if entity in SHARED:
                shares.release_share(self, current["Id"])
            if entity in stock.SIGNS:
                stock.move(self, entity, current["Id"], None)
            if entity == "Invoice":
                forms.close_estimates(self, current, deleted=True)
            stamp = {
                "Id": current["Id"],
                "status": "Deleted",
                "domain": "QBO",
                "MetaData": {"LastUpdatedTime": self.timestamp()},
            }
            self.deleted.setdefault(entity, {})[current["Id"]] = stamp
            self.notify(entity, current["Id"], "Delete")
            return {"status": "Deleted", "domain": "QBO", "Id": current["Id"]}

    def void(self, entity: str, body: Record) -> Record:
        with self.lock:
            if not catalog.info(entity).allows("void"):
                raise faults.unsupported(f"Operation Void is not supported for {entity}")
            current = self._current(entity, body)
            if entity in OWED:  # QBO voids no invoice or credit memo a payment uses
                locks.refuse_if_paid(self, current["Id"], "voiding")
            locks.refuse_if_deposited(self, entity, current["Id"], "voiding it")
            record = copy.deepcopy(current)
            for line in record.get("Line") or []:
                line["Amount"] = ZERO
            record["TotalAmt"] = ZERO
            record["PrivateNote"] = (
                f"Voided{' - ' + current['PrivateNote'] if current.get('PrivateNote') else ''}"
            )
            if entity in PAYMENTS:
                record["TxnStatus"] = "Voided"
                record["UnappliedAmt"] = ZERO
                shares.apply_payment(self, current["Id"], {})
            else:
                record["Balance"] = ZERO
                if entity == "CreditMemo":
                    record["RemainingCredit"] = ZERO
                record.setdefault("TxnTaxDetail", {})["TotalTax"] = ZERO
            return self._commit(entity, current, record, "Void")

    def _current(self, entity: str, body: Record) -> Record:
        if "Id" not in body:
            raise faults.required("Id")
        current = self.get(entity, str(body["Id"]))
        if str(body.get("SyncToken")) != current["SyncToken"]:
            raise faults.stale_object(entity)
        return current

    def _commit(self, entity: str, current: Record, record: Record, operation: str) -> Record:
        record["SyncToken"] = str(int(current["SyncToken"]) + 1)
        record["MetaData"] = {**current["MetaData"], "LastUpdatedTime": self.timestamp()}
        self.table(entity)[current["Id"]] = record
        self.index.replace(entity, current, record)
        shares.after_write(self, entity, record)
        self.notify(entity, current["Id"], operation)
        return record

    def _writable(self, entity: str, operation: str) -> None:
        if not catalog.info(entity).allows(operation):
            raise faults.unsupported(
                f"Operation {operation.capitalize()} is not supported for {entity}"
            )

    # Entity rules ---------------------------------------------------------------------
    def _prepare(self, entity: str, record: Record, ident: str, allow_dup: bool) -> None:
        for name in _DATES:  # clients send "" for a date they leave to QBO (python-quickbooks)
            if record.get(name) == "":
                del record[name]
        for name in _DATES:
            if name in record:
                _check_date(name, record[name])
        if entity in PEOPLE:
            people.prepare_person(self, entity, record, ident)
        elif entity in _PREPARE:
            _PREPARE[entity](self, record, ident)
        if entity in SALES:
            forms.prepare_sale(self, entity, record, ident, allow_dup)

    # Derived state --------------------------------------------------------------------


def _merged(current: Record, changes: Record) -> Record:
    """`changes` laid over `current`, section by section (a settings object's sparse update)."""
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(current.get(key), dict):
            current[key] = _merged(current[key], value)
        else:
            current[key] = value
    return current


def _check_date(name: str, value: Any) -> None:
    try:
        date.fromisoformat(str(value)[:10])
    except ValueError:
        raise faults.Fault(
            "2010",
            "Request has invalid or unsupported property",
            f"{name} must be a date as YYYY-MM-DD, not {value!r}",
            element=name,
        ) from None
