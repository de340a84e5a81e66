"""QBO's rules for names: customers (and their jobs), vendors and employees sharing one
DisplayName namespace, and the name lists (items, accounts, terms, payment methods).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tpsqbo_engine.emulators.qbo import faults
from tpsqbo_engine.emulators.qbo.money import ZERO

if TYPE_CHECKING:
    from collections.abc import Callable

    from tpsqbo_engine.emulators.qbo.company import Company

Record = dict[str, Any]
QUALIFIED = frozenset({"Item", "Account", "Class", "Department"})  # with Parent:Child names
NAME_FIELDS = ("DisplayName", "GivenName", "MiddleName", "FamilyName", "Title", "Suffix", "Name")


def refuse_colons(company: Company, record: Record) -> None:
    for name in NAME_FIELDS:
        value = record.get(name)
        if isinstance(value, str) and any(c in value for c in ":\t\n"):
            raise faults.business(f"{name} cannot contain a colon (:), tab or new line.")


def prepare_person(company: Company, entity: str, record: Record, ident: str) -> None:
    refuse_colons(company, record)
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
    clash = company.index.named(entity, name)
    if clash is not None and clash != ident:
        raise faults.duplicate_name()
    email = (record.get("PrimaryEmailAddr") or {}).get("Address")
    if email is not None and ("@" not in email or "." not in email):
        raise faults.business("Email Address does not conform to the syntax rules of RFC 822.")
    if entity == "Customer":  # of the three, only customers have a qualified (Parent:Job) name
        record["FullyQualifiedName"] = name
        job(company, record, ident)
        record.setdefault("Balance", ZERO)
        record.setdefault("BalanceWithJobs", record["Balance"])
        return
    record.pop("FullyQualifiedName", None)
    if entity == "Vendor":
        record.setdefault("Balance", ZERO)


def job(company: Company, record: Record, ident: str) -> None:
    """A sub-customer (job): `Parent:Child` names, Level, and its place among the jobs."""
    for jobs in company.jobs.values():
        jobs.discard(ident)
    if not record.get("ParentRef"):
        record["Job"], record["Level"] = False, 0
        record.pop("ParentRef", None)
        return
    parent = company.check_ref("Customer", record["ParentRef"], "ParentRef")
    if parent["Id"] == ident or ident in ancestors(company, parent["Id"]):
        raise faults.business("A customer cannot be its own parent.")
    record["ParentRef"] = {"value": parent["Id"], "name": parent["DisplayName"]}
    record.setdefault("Job", True)
    record["Level"] = int(parent.get("Level", 0)) + 1
    record["FullyQualifiedName"] = f"{parent['FullyQualifiedName']}:{record['DisplayName']}"
    company.jobs.setdefault(parent["Id"], set()).add(ident)


def ancestors(company: Company, ident: str) -> list[str]:
    found: list[str] = []
    customer = company.table("Customer").get(ident)
    while customer is not None and customer.get("ParentRef") and len(found) < 10:
        found.append(str(customer["ParentRef"]["value"]))
        customer = company.table("Customer").get(found[-1])
    return found


def unique_name(company: Company, entity: str, record: Record, ident: str, limit: int) -> None:
    refuse_colons(company, record)
    name = record.get("Name")
    if not name:
        raise faults.required("Name")
    if len(str(name)) > limit:
        raise faults.business(f"Name is longer than {limit} characters.")
    clash = company.index.named(entity, str(name))
    if clash is not None and clash != ident:
        raise faults.duplicate_name()
    if entity in QUALIFIED:
        record["FullyQualifiedName"] = name
    else:  # QBO has no such property for the entity; a stored one would not survive a write-back
        record.pop("FullyQualifiedName", None)


def prepare_item(company: Company, record: Record, ident: str) -> None:
    unique_name(company, "Item", record, ident, 100)
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
            company.check_ref("Account", record[name], name)


def prepare_account(company: Company, record: Record, ident: str) -> None:
    unique_name(company, "Account", record, ident, 100)
    if '"' in str(record["Name"]):
        raise faults.business('Account names cannot contain a double quote (").')
    if not (record.get("AccountType") or record.get("AccountSubType")):
        raise faults.required("AccountType")
    record.setdefault("CurrentBalance", ZERO)


def prepare_term(company: Company, record: Record, ident: str) -> None:
    unique_name(company, "Term", record, ident, 31)


def prepare_paymentmethod(company: Company, record: Record, ident: str) -> None:
    unique_name(company, "PaymentMethod", record, ident, 31)


def check_can_deactivate(company: Company, entity: str, current: Record) -> None:
    if entity == "Customer" and current.get("Balance", ZERO) != 0:
        raise faults.business(
            "Delete List Has Balance Error : This customer cannot be "
            "deleted because it has a non-zero balance."
        )


PREPARE: dict[str, Callable[[Company, Record, str], None]] = {
    "Item": prepare_item,
    "Account": prepare_account,
    "Term": prepare_term,
    "PaymentMethod": prepare_paymentmethod,
}
