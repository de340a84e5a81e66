"""QBO's rules for the buying side and the entities around it: bills, vendor credits,
purchase orders, bill payments, transfers, time, tax agencies, classes, locations and
attachment metadata.

Each `prepare_<entity>` checks a record the way QBO does on create and update and fills in
what QBO computes; a `Company` calls it through `PREPARE`.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tpsqbo_engine.emulators.qbo import faults, forms, people, sales
from tpsqbo_engine.emulators.qbo.money import ZERO, amount, cents

if TYPE_CHECKING:
    from tpsqbo_engine.emulators.qbo.company import Company

Record = dict[str, Any]
EXPENSE_DETAILS = ("AccountBasedExpenseLineDetail", "ItemBasedExpenseLineDetail")
ATTACHABLE_TARGETS = frozenset(
    {
        "Invoice",
        "Bill",
        "Estimate",
        "Payment",
        "BillPayment",
        "CreditMemo",
        "SalesReceipt",
        "RefundReceipt",
        "Purchase",
        "PurchaseOrder",
        "VendorCredit",
        "JournalEntry",
        "Deposit",
        "Transfer",
        "Customer",
        "Vendor",
        "Employee",
        "Item",
        "TimeActivity",
    }
)


def _require(record: Record, *names: str) -> None:
    for name in names:
        if record.get(name) in (None, "", [], {}):
            raise faults.required(name)


def _named_ref(company: Company, entity: str, record: Record, element: str) -> Record:
    """Checks a reference and fills in its name, as QBO answers it."""
    target = company.check_ref(entity, record[element], element)
    name = target.get("DisplayName") or target.get("FullyQualifiedName") or target.get("Name")
    record[element] = {"value": target["Id"], "name": name}
    return target


def _expense_line(company: Company, line: Record, element: str) -> Decimal:
    """Checks one expense line (its detail's account or item) and returns its amount."""
    kind = line.get("DetailType")
    if kind not in EXPENSE_DETAILS:
        raise faults.Fault(
            "2170",
            "Invalid Enumeration",
            f"Invalid DetailType: {kind}",
            element=f"{element}.DetailType",
        )
    detail = line[kind] = line.get(kind) or {}
    value = amount(line.get("Amount"), f"{element}.Amount")
    target, element_name = (
        ("Account", "AccountRef") if kind == EXPENSE_DETAILS[0] else ("Item", "ItemRef")
    )
    _require(detail, element_name)
    _named_ref(company, target, detail, element_name)
    qty, price = detail.get("Qty"), detail.get("UnitPrice")
    if qty and price and cents(amount(qty, "Qty") * amount(price, "UnitPrice")) != cents(value):
        raise faults.Fault(
            "6070",
            "Amount is not equal to UnitPrice * Qty",
            f"Amount is not equal to UnitPrice * Qty. Supplied value:{value}",
            element=f"{element}.Amount",
        )
    if "CustomerRef" in detail:
        _named_ref(company, "Customer", detail, "CustomerRef")
    return value


def expense_lines(company: Company, record: Record) -> Decimal:
    """Checks account- and item-based expense lines; returns their total with any tax."""
    lines = [line for line in record.get("Line") or [] if isinstance(line, dict)]
    if not lines:
        raise faults.required("Line")
    total = ZERO
    for index, line in enumerate(lines, start=1):
        total += _expense_line(company, line, f"Line[{index - 1}]")
        line.setdefault("Id", str(index))
        line["LineNum"] = index
    record["Line"] = lines
    tax = (record.get("TxnTaxDetail") or {}).get("TotalTax")
    if tax is not None:
        total += amount(tax, "TxnTaxDetail.TotalTax")
    return cents(total)


def _default_payables(company: Company, record: Record) -> bool:
    """Name the company's A/P account on a record that names none; False if there is none."""
    if "APAccountRef" not in record:
        payables = company.find_by("Account", "AccountType", "Accounts Payable")
        if payables is None:
            return False
        record["APAccountRef"] = {"value": payables["Id"], "name": payables["Name"]}
    return True


def _vendor_side(company: Company, record: Record, *, payable: bool) -> None:
    _require(record, "VendorRef")
    _named_ref(company, "Vendor", record, "VendorRef")
    record["TotalAmt"] = expense_lines(company, record)
    record.setdefault("TxnDate", company.timestamp()[:10])
    if payable:
        if "APAccountRef" in record:
            _named_ref(company, "Account", record, "APAccountRef")
        elif not _default_payables(company, record):
            raise faults.required("APAccountRef")
    if "DepartmentRef" in record:
        _named_ref(company, "Department", record, "DepartmentRef")


def prepare_bill(company: Company, record: Record, ident: str) -> None:
    _vendor_side(company, record, payable=True)
    record.setdefault("DueDate", record["TxnDate"])
    record["Balance"] = cents(record["TotalAmt"] - company.index.applied_to(ident))
    if record["Balance"] < 0:
        raise faults.business("The bill total is less than the payments applied to it.")


def prepare_vendorcredit(company: Company, record: Record, ident: str) -> None:
    _vendor_side(company, record, payable=True)
    record["Balance"] = cents(record["TotalAmt"] - company.index.applied_to(ident))


def prepare_purchaseorder(company: Company, record: Record, ident: str) -> None:
    _vendor_side(company, record, payable=False)
    status = record.setdefault("POStatus", "Open")
    if status not in ("Open", "Closed"):
        raise faults.Fault("2170", "Invalid Enumeration", f"Invalid POStatus: {status}")
    _default_payables(company, record)  # a PO names the A/P account it will be billed to


def prepare_billpayment(company: Company, record: Record, ident: str) -> None:
    _require(record, "VendorRef", "PayType", "TotalAmt")
    vendor = _named_ref(company, "Vendor", record, "VendorRef")
    pay_type = record["PayType"]
    if pay_type == "Check":
        detail = record.get("CheckPayment") or {}
        _require(detail, "BankAccountRef")
        _named_ref(company, "Account", detail, "BankAccountRef")
    elif pay_type == "CreditCard":
        detail = record.get("CreditCardPayment") or {}
        _require(detail, "CCAccountRef")
        _named_ref(company, "Account", detail, "CCAccountRef")
    else:
        raise faults.Fault("2170", "Invalid Enumeration", f"Invalid PayType: {pay_type}")
    total = amount(record["TotalAmt"], "TotalAmt")
    applied = sales.payment_applications(record, kinds=("Bill", "VendorCredit"))
    for txn_id, (kind, value) in applied.items():
        forms.check_application(company, kind, txn_id, value, ident, vendor["Id"], "VendorRef")
    record["TotalAmt"] = cents(total)
    sales.unapplied(total, applied, owed="Bill")
    record.setdefault("TxnDate", company.timestamp()[:10])
    _default_payables(company, record)


def prepare_transfer(company: Company, record: Record, ident: str) -> None:
    _require(record, "FromAccountRef", "ToAccountRef", "Amount")
    source = _named_ref(company, "Account", record, "FromAccountRef")
    target = _named_ref(company, "Account", record, "ToAccountRef")
    if source["Id"] == target["Id"]:
        raise faults.business("Transfer accounts must be different.")
    value = cents(amount(record["Amount"], "Amount"))
    if value <= 0:
        raise faults.business("Transfer amount must be greater than 0.")
    record["Amount"] = value
    record.setdefault("TxnDate", company.timestamp()[:10])


def prepare_timeactivity(company: Company, record: Record, ident: str) -> None:
    _require(record, "NameOf")
    who = record["NameOf"]
    if who not in ("Employee", "Vendor"):
        raise faults.Fault("2170", "Invalid Enumeration", f"Invalid NameOf: {who}")
    _require(record, f"{who}Ref")
    _named_ref(company, who, record, f"{who}Ref")
    for entity, element in (("Customer", "CustomerRef"), ("Item", "ItemRef")):
        if element in record:
            _named_ref(company, entity, record, element)
    if "StartTime" not in record:
        _require(record, "Hours")
    for name in ("Hours", "Minutes", "BreakHours", "BreakMinutes"):
        value = record.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise faults.Fault(
                "2010",
                "Request has invalid or unsupported property",
                f"{name} must be a whole number",
                element=name,
            )
    record.setdefault("BillableStatus", "NotBillable")
    record.setdefault("TxnDate", company.timestamp()[:10])


def prepare_taxagency(company: Company, record: Record, ident: str) -> None:
    _require(record, "DisplayName")
    clash = company.find_by("TaxAgency", "DisplayName", str(record["DisplayName"]))
    if clash is not None and clash["Id"] != ident:
        raise faults.duplicate_name()
    record.setdefault("TaxTrackedOnSales", True)
    record.setdefault("TaxTrackedOnPurchases", False)


def _hierarchy(entity: str, flag: str) -> Callable[[Company, Record, str], None]:
    def prepare(company: Company, record: Record, ident: str) -> None:
        people.unique_name(company, entity, record, ident, 100)
        name = str(record["Name"])
        if record.get("ParentRef"):
            parent = _named_ref(company, entity, record, "ParentRef")
            record[flag] = True
            name = f"{parent['FullyQualifiedName']}:{name}"
        else:
            record[flag] = False
        record["FullyQualifiedName"] = name

    return prepare


def prepare_attachable(company: Company, record: Record, ident: str) -> None:
    if not (record.get("FileName") or record.get("Note")):
        raise faults.required("FileName or Note")
    for index, link in enumerate(record.get("AttachableRef") or []):
        ref = (link or {}).get("EntityRef") or {}
        kind = ref.get("type")
        if kind not in ATTACHABLE_TARGETS:
            raise faults.invalid_reference(f"AttachableRef[{index}].EntityRef")
        company.check_ref(str(kind), ref, f"AttachableRef[{index}].EntityRef")
    if record.get("FileName"):
        record.setdefault("ContentType", "application/octet-stream")
        record.setdefault("Size", 0)
        record["FileAccessUri"] = f"/v3/company/{company.realm_id}/download/{ident}"


PREPARE: dict[str, Callable[[Company, Record, str], None]] = {
    "Bill": prepare_bill,
    "VendorCredit": prepare_vendorcredit,
    "PurchaseOrder": prepare_purchaseorder,
    "BillPayment": prepare_billpayment,
    "Transfer": prepare_transfer,
    "TimeActivity": prepare_timeactivity,
    "TaxAgency": prepare_taxagency,
    "Class": _hierarchy("Class", "SubClass"),
    "Department": _hierarchy("Department", "SubDepartment"),
    "Attachable": prepare_attachable,
}
