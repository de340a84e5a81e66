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

from tpsqbo_engine.emulators.qbo import catalog, faults, purchases, sales
from tpsqbo_engine.emulators.qbo.indexes import Indexes
from tpsqbo_engine.emulators.qbo.money import ZERO, amount, cents

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
_NAME_FIELDS = ("DisplayName", "GivenName", "MiddleName", "FamilyName", "Title", "Suffix", "Name")
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

    def _notify(self, entity: str, ident: str, operation: str) -> None:
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
            self._notify(entity, ident, "Create")
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
                self._check_can_deactivate(entity, current)
            self._prepare(entity, record, current["Id"], allow_duplicate_docnumber)
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
            self._refuse_if_paid(current["Id"], "deleting")
            del self.table(entity)[current["Id"]]
            self.index.replace(entity, current, None)
            if entity in PAYMENTS:
                self._apply_payment(current["Id"], {})
            if entity in SALES or entity in OWED:
                self._release_share(current["Id"])
            stamp = {
                "Id": current["Id"],
                "status": "Deleted",
                "domain": "QBO",
                "MetaData": {"LastUpdatedTime": self.timestamp()},
            }
            self.deleted.setdefault(entity, {})[current["Id"]] = stamp
            self._notify(entity, current["Id"], "Delete")
            return {"status": "Deleted", "domain": "QBO", "Id": current["Id"]}

    def void(self, entity: str, body: Record) -> Record:
        with self.lock:
            if not catalog.info(entity).allows("void"):
                raise faults.unsupported(f"Operation Void is not supported for {entity}")
            current = self._current(entity, body)
            if entity == "CreditMemo":
                self._refuse_if_paid(current["Id"], "voiding")
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

    def _refuse_if_paid(self, ident: str, doing: str) -> None:
        if self.index.payments_of(ident):
            raise faults.business(
                "This transaction is linked to other transactions "
                f"(payments). Unlink them before {doing} it."
            )

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
        self._notify(entity, current["Id"], operation)
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
        prepare = getattr(self, f"_prepare_{entity.lower()}", None)
        if entity in PEOPLE:
            self._prepare_person(entity, record, ident)
        elif entity in purchases.PREPARE:
            purchases.PREPARE[entity](self, record, ident)
        elif prepare is not None:
            prepare(record, ident)
        if entity in SALES:
            self._prepare_sale(entity, record, ident, allow_dup)

    def _refuse_colons(self, record: Record) -> None:
        for name in _NAME_FIELDS:
            value = record.get(name)
            if isinstance(value, str) and any(c in value for c in ":\t\n"):
                raise faults.business(f"{name} cannot contain a colon (:), tab or new line.")

    def _prepare_person(self, entity: str, record: Record, ident: str) -> None:
        self._refuse_colons(record)
        if not record.get("DisplayName"):
            parts = [
                record.get(p) for p in ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")
            ]
            composed = " ".join(p for p in parts if p)
            if not composed:
                raise faults.required("DisplayName")
            record["DisplayName"] = composed
        name = str(record["DisplayName"])
        if len(name) > 500:
            raise faults.business("DisplayName is longer than 500 characters.")
        clash = self.index.named(entity, name)
        if clash is not None and clash != ident:
            raise faults.duplicate_name()
        email = (record.get("PrimaryEmailAddr") or {}).get("Address")
        if email is not None and ("@" not in email or "." not in email):
            raise faults.business("Email Address does not conform to the syntax rules of RFC 822.")
        record["FullyQualifiedName"] = name
        if entity == "Customer":
            self._job(record, ident)
            record.setdefault("Balance", ZERO)
            record.setdefault("BalanceWithJobs", record["Balance"])
        elif entity == "Vendor":
            record.setdefault("Balance", ZERO)

    def _job(self, record: Record, ident: str) -> None:
        """A sub-customer (job): `Parent:Child` names, Level, and its place among the jobs."""
        for jobs in self.jobs.values():
            jobs.discard(ident)
        if not record.get("ParentRef"):
            record["Job"], record["Level"] = False, 0
            record.pop("ParentRef", None)
            return
        parent = self.check_ref("Customer", record["ParentRef"], "ParentRef")
        if parent["Id"] == ident or ident in self._ancestors(parent["Id"]):
            raise faults.business("A customer cannot be its own parent.")
        record["ParentRef"] = {"value": parent["Id"], "name": parent["DisplayName"]}
        record.setdefault("Job", True)
        record["Level"] = int(parent.get("Level", 0)) + 1
        record["FullyQualifiedName"] = f"{parent['FullyQualifiedName']}:{record['DisplayName']}"
        self.jobs.setdefault(parent["Id"], set()).add(ident)

    def _ancestors(self, ident: str) -> list[str]:
        found: list[str] = []
        customer = self.table("Customer").get(ident)
        while customer is not None and customer.get("ParentRef") and len(found) < 10:
            found.append(str(customer["ParentRef"]["value"]))
            customer = self.table("Customer").get(found[-1])
        return found

    def unique_name(self, entity: str, record: Record, ident: str, limit: int) -> None:
        self._refuse_colons(record)
        name = record.get("Name")
        if not name:
            raise faults.required("Name")
        if len(str(name)) > limit:
            raise faults.business(f"Name is longer than {limit} characters.")
        clash = self.index.named(entity, str(name))
        if clash is not None and clash != ident:
            raise faults.duplicate_name()
        record["FullyQualifiedName"] = name

    def _prepare_item(self, record: Record, ident: str) -> None:
        self.unique_name("Item", record, ident, 100)
        if record.get("Type") not in ("Service", "NonInventory", "Inventory", "Category", "Group"):
            raise faults.required("Type")
        if record["Type"] in ("Service", "Inventory") and "IncomeAccountRef" not in record:
            raise faults.required("IncomeAccountRef")
        if len(str(record.get("Sku", ""))) > 100:
            raise faults.business("Sku is longer than 100 characters.")
        if record["Type"] == "Inventory":
            # QBO tracks quantity for inventory items: it needs the asset and cost accounts.
            for name in ("AssetAccountRef", "ExpenseAccountRef", "QtyOnHand", "InvStartDate"):
                if record.get(name) is None:
                    raise faults.required(name)
            record["TrackQtyOnHand"] = True
        for name in ("IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef"):
            if name in record:
                self.check_ref("Account", record[name], name)

    def _prepare_account(self, record: Record, ident: str) -> None:
        self.unique_name("Account", record, ident, 100)
        if '"' in str(record["Name"]):
            raise faults.business('Account names cannot contain a double quote (").')
        if not (record.get("AccountType") or record.get("AccountSubType")):
            raise faults.required("AccountType")
        record.setdefault("CurrentBalance", ZERO)

    def _prepare_term(self, record: Record, ident: str) -> None:
        self.unique_name("Term", record, ident, 31)

    def _prepare_paymentmethod(self, record: Record, ident: str) -> None:
        self.unique_name("PaymentMethod", record, ident, 31)

    def _prepare_sale(self, entity: str, record: Record, ident: str, allow_dup: bool) -> None:
        if "CustomerRef" not in record:
            raise faults.required("CustomerRef")
        customer = self.check_ref("Customer", record["CustomerRef"], "CustomerRef")
        record["CustomerRef"] = {"value": customer["Id"], "name": customer["DisplayName"]}
        sales.compute_sales(record, self.check_ref, self.tax_rate, self.us)
        self._doc_number(entity, record, ident, allow_dup)
        record.setdefault("TxnDate", self.timestamp()[:10])
        if entity in ("SalesReceipt", "RefundReceipt"):
            self._deposit_account(entity, record)
        if entity == "Estimate":
            record.setdefault("TxnStatus", "Pending")
            record.setdefault("LinkedTxn", [])
        if entity == "Invoice":
            self._check_estimates(record, customer["Id"])
            record.setdefault("DueDate", record["TxnDate"])
            record.setdefault("Deposit", ZERO)
            record.setdefault("EmailStatus", "NotSet")
            record.setdefault("LinkedTxn", [])
            record.setdefault("PrintStatus", "NotSet")
        self._set_balance(entity, record, ident)

    def _deposit_account(self, entity: str, record: Record) -> None:
        if "DepositToAccountRef" in record:
            self.check_ref("Account", record["DepositToAccountRef"], "DepositToAccountRef")
        elif entity == "RefundReceipt":
            raise faults.required("DepositToAccountRef")
        else:
            undeposited = self.find_by("Account", "AccountSubType", "UndepositedFunds")
            if undeposited is not None:
                record["DepositToAccountRef"] = {"value": undeposited["Id"]}
        record["Balance"] = ZERO

    def _check_estimates(self, record: Record, customer_id: str) -> None:
        for link in record.get("LinkedTxn") or []:
            if link.get("TxnType") != "Estimate":
                continue
            estimate = self.visible("Estimate", str(link.get("TxnId")))
            if estimate is None:
                raise faults.invalid_reference(f"LinkedTxn Estimate {link.get('TxnId')}")
            if estimate["CustomerRef"]["value"] != customer_id:
                raise faults.business(f"The Estimate {estimate['Id']} belongs to another customer.")

    def _close_estimates(self, invoice: Record) -> None:
        """An invoice made from an estimate closes it and is linked from it, as QBO does."""
        for link in invoice.get("LinkedTxn") or []:
            if link.get("TxnType") != "Estimate":
                continue
            estimate = self.table("Estimate").get(str(link.get("TxnId")))
            if estimate is None:
                continue
            links = [x for x in estimate.get("LinkedTxn") or [] if x.get("TxnId") != invoice["Id"]]
            estimate["LinkedTxn"] = [*links, {"TxnId": invoice["Id"], "TxnType": "Invoice"}]
            estimate["TxnStatus"] = "Closed"
            estimate["SyncToken"] = str(int(estimate["SyncToken"]) + 1)
            estimate["MetaData"] = {**estimate["MetaData"], "LastUpdatedTime": self.timestamp()}
            self._notify("Estimate", estimate["Id"], "Update")

    def _doc_number(self, entity: str, record: Record, ident: str, allow_dup: bool) -> None:
        number = record.get("DocNumber")
        if not number:
            record["DocNumber"] = self.index.next_number(entity)
            return
        if len(str(number)) > 21:
            raise faults.business("DocNumber is longer than 21 characters.")
        clash = self.index.with_number(entity, str(number)) - {ident}
        if clash and not allow_dup:
            raise faults.Fault(
                "6140",
                "Duplicate Document Number Error",
                f"Duplicate Document Number Error : You must specify a different "
                f"number. This number has already been used. DocNumber={number}",
            )

    def _set_balance(self, entity: str, record: Record, ident: str) -> None:
        applied = self.index.applied_to(ident)
        if entity == "Invoice":
            record["Balance"] = cents(
                record["TotalAmt"] - applied - amount(record.get("Deposit", 0), "Deposit")
            )
        elif entity == "CreditMemo":
            record["RemainingCredit"] = record["Balance"] = cents(record["TotalAmt"] - applied)
        if entity == "Invoice" and record["Balance"] < 0:
            raise faults.business("The invoice total is less than the payments applied to it.")

    def _prepare_payment(self, record: Record, ident: str) -> None:
        for name in ("CustomerRef", "TotalAmt"):
            if name not in record:
                raise faults.required(name)
        customer = self.check_ref("Customer", record["CustomerRef"], "CustomerRef")
        record["CustomerRef"] = {"value": customer["Id"], "name": customer["DisplayName"]}
        total = amount(record["TotalAmt"], "TotalAmt")
        applied = sales.payment_applications(record)
        for txn_id, (kind, value) in applied.items():
            self._check_application(kind, txn_id, value, ident, customer["Id"])
        record["TotalAmt"] = cents(total)
        record["UnappliedAmt"] = sales.unapplied(total, applied)
        record.setdefault("TxnDate", self.timestamp()[:10])
        if "DepositToAccountRef" not in record:
            undeposited = self.find_by("Account", "AccountSubType", "UndepositedFunds")
            if undeposited is not None:
                record["DepositToAccountRef"] = {
                    "value": undeposited["Id"],
                    "name": undeposited["Name"],
                }
        else:
            self.check_ref("Account", record["DepositToAccountRef"], "DepositToAccountRef")

    def _check_application(
        self, kind: str, txn_id: str, value: Decimal, payment_id: str, customer_id: str
    ) -> None:
        target = self.table(kind).get(txn_id)
        if target is None or (self._hidden is not None and txn_id in self._hidden):
            raise faults.invalid_reference(f"LinkedTxn {kind} {txn_id}")
        if target["CustomerRef"]["value"] != customer_id:
            raise faults.business(f"The {kind} {txn_id} belongs to another customer.")
        already = self.index.applications.get(txn_id, {}).get(payment_id, ZERO)
        open_amount = target.get("Balance", ZERO) + already
        if value > open_amount:
            raise faults.business(
                f"The amount applied to {kind} {txn_id} ({value}) is more "
                f"than its open balance ({open_amount})."
            )

    def _prepare_journalentry(self, record: Record, ident: str) -> None:
        record["TotalAmt"] = sales.journal_total(record)

    def _prepare_deposit(self, record: Record, ident: str) -> None:
        if "DepositToAccountRef" not in record:
            raise faults.required("DepositToAccountRef")
        record["TotalAmt"] = sales.sum_lines(record)

    def _prepare_purchase(self, record: Record, ident: str) -> None:
        for name in ("PaymentType", "AccountRef"):
            if name not in record:
                raise faults.required(name)
        record["TotalAmt"] = sales.sum_lines(record)

    def _check_can_deactivate(self, entity: str, current: Record) -> None:
        if entity == "Customer" and current.get("Balance", ZERO) != 0:
            raise faults.business(
                "Delete List Has Balance Error : This customer cannot be "
                "deleted because it has a non-zero balance."
            )

    # Derived state --------------------------------------------------------------------
    def _after_write(self, entity: str, record: Record) -> None:
        if entity in PAYMENTS:
            voided = record.get("TxnStatus") == "Voided"
            applied = sales.payment_applications(record, PAYMENTS[entity])
            self._apply_payment(
                record["Id"], {} if voided else {txn: value for txn, (_, value) in applied.items()}
            )
        if entity == "Invoice":
            self._close_estimates(record)
        if entity in SALES or entity in OWED:
            self._refresh_share(entity, record)

    def _apply_payment(self, payment_id: str, applied: dict[str, Decimal]) -> None:
        for txn in self.index.apply(payment_id, applied):
            self._refresh_sale(txn)

    def _refresh_sale(self, txn_id: str) -> None:
        for entity in OWED:
            record = self.table(entity).get(txn_id)
            if record is None:
                continue
            if entity in SALES:
                self._set_balance(entity, record, txn_id)
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
            self._refresh_share(entity, record)

    def _refresh_share(self, entity: str, record: Record) -> None:
        party, sign = OWED.get(entity, ("CustomerRef", 0))
        if party not in record:
            return
        balance = sign * record.get("Balance", ZERO)
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
                for ident in [party_id, *self._ancestors(party_id)]:
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
