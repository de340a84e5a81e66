"""One emulated QBO company: its records and the rules QBO applies when they are written.

String Ids and SyncTokens, MetaData times in the company's offset, name-list entities that
deactivate instead of being deleted, DisplayName unique across customers, vendors and
employees, server-computed totals and balances, payments lowering what they are applied to,
hard-deleted transactions remembered as `Deleted` stubs for CDC.
"""

from __future__ import annotations

import copy
import secrets
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
    sales,
    stock,
)
from tpsqbo_engine.emulators.qbo.indexes import Indexes
from tpsqbo_engine.emulators.qbo.money import ZERO, cents

NAME_LISTS = catalog.names_of("name-list")
TRANSACTIONS = catalog.names_of("transaction")
SINGLETONS = catalog.names_of("singleton")
ENTITIES = NAME_LISTS | TRANSACTIONS | SINGLETONS
PEOPLE = ("Customer", "Vendor", "Employee")
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
            self._after_write(entity, record)
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
                self._apply_payment(current["Id"], {})
            if entity in SHARED:
                self._release_share(current["Id"])
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
                self._apply_payment(current["Id"], {})
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
        self._after_write(entity, record)
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
    def _after_write(self, entity: str, record: Record) -> None:
        if entity in PAYMENTS:
            voided = record.get("TxnStatus") == "Voided"
            applied = sales.payment_applications(record, PAYMENTS[entity])
            self._apply_payment(
                record["Id"], {} if voided else {txn: value for txn, (_, value) in applied.items()}
            )
        if entity in stock.SIGNS:
            stock.move(self, entity, record["Id"], record)
        if entity == "Invoice":
            forms.close_estimates(self, record)
        if entity in SHARED:
            self._refresh_share(entity, record)

    def _apply_payment(self, payment_id: str, applied: dict[str, Decimal]) -> None:
        for txn in self.index.apply(payment_id, applied):
            self._refresh_sale(txn)

    def _refresh_sale(self, txn_id: str) -> None:
        for entity in OWED:
            record = self.table(entity).get(txn_id)
            if record is None:
                continue
            before = (record.get("Balance"), record.get("LinkedTxn"))
            if entity in SALES:
                forms.set_balance(self, entity, record, txn_id)
            else:
                record["Balance"] = cents(record["TotalAmt"] - self.index.applied_to(txn_id))
            paid_by = "Payment" if entity in SALES else "BillPayment"
            kept = [
                link
                for link in record.get("LinkedTxn") or []
                if link.get("TxnType") not in ("Payment", "BillPayment")
            ]
            record["LinkedTxn"] = kept + [
                {"TxnId": p, "TxnType": paid_by} for p in self.index.payments_of(txn_id)
            ]
            if (record.get("Balance"), record.get("LinkedTxn")) != before:
                # QBO versions the paid record too: a client holding the old SyncToken gets 5010.
                record["SyncToken"] = str(int(record["SyncToken"]) + 1)
                record["MetaData"] = {**record["MetaData"], "LastUpdatedTime": self.timestamp()}
                # and tells webhook subscribers, as QBO sends Invoice/Update beside Payment/Create
                self.notify(entity, txn_id, "Update")
            self._refresh_share(entity, record)

    def _refresh_share(self, entity: str, record: Record) -> None:
        if entity in UNAPPLIED:
            party, balance = UNAPPLIED[entity], -record.get("UnappliedAmt", ZERO)
        else:
            party, sign = OWED.get(entity, ("CustomerRef", 0))
            balance = sign * record.get("Balance", ZERO)
        if party not in record:
            return
        self._show_balances(self.index.set_share(record["Id"], record[party]["value"], balance))

    def _release_share(self, txn_id: str) -> None:
        self._show_balances(self.index.set_share(txn_id, None, ZERO))

    def _show_balances(self, party_ids: set[str]) -> None:
        for party_id in party_ids:
            vendor = self.table("Vendor").get(party_id)
            if vendor is not None:
                vendor["Balance"] = self.index.balance(party_id)
            customer = self.table("Customer").get(party_id)
            if customer is not None:
                customer["Balance"] = self.index.balance(party_id)
                for ident in [party_id, *people.ancestors(self, party_id)]:
                    self._balance_with_jobs(ident)

    def _balance_with_jobs(self, ident: str) -> None:
        customer = self.table("Customer").get(ident)
        if customer is None:
            return
        jobs = [self.table("Customer").get(j) for j in self.jobs.get(ident, ())]
        customer["BalanceWithJobs"] = cents(
            customer.get("Balance", ZERO)
            + sum((j.get("BalanceWithJobs", ZERO) for j in jobs if j is not None), ZERO)
        )

    def rebuild_indexes(self) -> None:
        """After loading saved state: indexes are derived, never stored."""
        self.index = Indexes()
        for entity, table in self.records.items():
            for record in table.values():
                self.index.replace(entity, None, record)
        stock.remember(self)
        self.jobs = {}
        for customer in self.table("Customer").values():
            if customer.get("ParentRef"):
                parent = str(customer["ParentRef"]["value"])
                self.jobs.setdefault(parent, set()).add(customer["Id"])
        for entity, kinds in PAYMENTS.items():
            for payment in self.table(entity).values():
                if payment.get("TxnStatus") != "Voided":
                    applied = sales.payment_applications(payment, kinds)
                    self.index.apply(payment["Id"], {t: v for t, (_, v) in applied.items()})
        for entity in SALES | OWED.keys():
            for record in self.table(entity).values():
                self._refresh_share(entity, record)

    # Online payments --------------------------------------------------------------------
    def invoice_link(self, invoice: Record) -> str | None:
        """The view-and-pay URL, only when QBO would generate one."""
        prefs = self.singleton("Preferences").get("SalesFormsPrefs", {})
        online = invoice.get("AllowOnlineCreditCardPayment") or invoice.get("AllowOnlineACHPayment")
        email = (invoice.get("BillEmail") or {}).get("Address")
        if not (online and email and prefs.get("ETransactionPaymentEnabled")):
            return None
        token = next((t for t, i in self.payment_links.items() if i == invoice["Id"]), None)
        if token is None:
            token = f"scs-v1-{secrets.token_hex(16)}"
            self.payment_links[token] = invoice["Id"]
        return f"{self.pay_base}/connect/pay/{token}"

    def pay_online(self, token: str) -> Record:
        """What QBO does when a customer pays through the link: a Payment in Undeposited
        Funds applied to the invoice, marked as a QuickBooks Payments transaction."""
        with self.lock:
            invoice = self.get("Invoice", self.payment_links.get(token, ""))
            balance = invoice.get("Balance", ZERO)
            if balance <= 0:
                raise faults.business("This invoice is already paid.")
            return self.create(
                "Payment",
                {
                    "CustomerRef": invoice["CustomerRef"],
                    "TotalAmt": balance,
                    "TxnSource": "QBPayments",
                    "PaymentRefNum": f"QBP-{invoice['DocNumber']}",
                    "Line": [
                        {
                            "Amount": balance,
                            "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}],
                        }
                    ],
                },
            )


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
