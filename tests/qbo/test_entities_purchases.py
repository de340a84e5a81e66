"""The buying side and the lists around it, as QBO keeps them: bills and what pays them,
vendor credits, purchase orders, transfers, time, tax agencies, classes, locations and
attachment metadata."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tpsqbo_engine.emulators.qbo import catalog
from tpsqbo_engine.emulators.qbo.company import Company
from tpsqbo_engine.emulators.qbo.faults import Fault
from tpsqbo_engine.emulators.qbo.seed import seeded_company


@pytest.fixture
def company() -> Company:
    company = seeded_company("empty")
    company.create("Account", {"Name": "Accounts Payable", "AccountType": "Accounts Payable"})
    company.create("Account", {"Name": "Supplies", "AccountType": "Expense"})
    return company


def ref(record: dict[str, Any]) -> dict[str, str]:
    return {"value": record["Id"]}


def account(company: Company, name: str) -> dict[str, Any]:
    found = company.find_by("Account", "Name", name)
    assert found is not None
    return found


def bill(company: Company, vendor: dict[str, Any], value: str) -> dict[str, Any]:
    return company.create(
        "Bill",
        {
            "VendorRef": ref(vendor),
            "TxnDate": "2026-10-01",
            "Line": [
                {
                    "Amount": Decimal(value),
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": {
                        "AccountRef": ref(account(company, "Supplies"))
                    },
                }
            ],
        },
    )


def pay(company: Company, vendor: dict[str, Any], applied: dict[str, str]) -> dict[str, Any]:
    total = sum((Decimal(v) for v in applied.values()), Decimal(0))
    return company.create(
        "BillPayment",
        {
            "VendorRef": ref(vendor),
            "PayType": "Check",
            "TotalAmt": total,
            "CheckPayment": {"BankAccountRef": ref(account(company, "Chequing"))},
            "Line": [
                {"Amount": Decimal(v), "LinkedTxn": [{"TxnId": k, "TxnType": "Bill"}]}
                for k, v in applied.items()
            ],
        },
    )


def test_a_bill_takes_the_payables_account_and_its_total_and_raises_the_vendor_balance(
    company: Company,
) -> None:
    vendor = company.create("Vendor", {"DisplayName": "Office Depot"})
    made = bill(company, vendor, "120.50")
    assert made["TotalAmt"] == Decimal("120.50") == made["Balance"]
    assert made["APAccountRef"]["name"] == "Accounts Payable"
    assert made["DueDate"] == "2026-10-01"
    assert company.get("Vendor", vendor["Id"])["Balance"] == Decimal("120.50")


def test_a_bill_payment_lowers_bills_links_both_ways_and_its_void_restores_them(
    company: Company,
) -> None:
    vendor = company.create("Vendor", {"DisplayName": "Office Depot"})
    first, second = bill(company, vendor, "100.00"), bill(company, vendor, "50.00")
    payment = pay(company, vendor, {first["Id"]: "100.00", second["Id"]: "20.00"})
    assert company.get("Bill", first["Id"])["Balance"] == 0
    assert company.get("Bill", second["Id"])["Balance"] == Decimal("30.00")
    assert company.get("Bill", first["Id"])["LinkedTxn"] == [
        {"TxnId": payment["Id"], "TxnType": "BillPayment"}
    ]
    assert company.get("Vendor", vendor["Id"])["Balance"] == Decimal("30.00")
    company.void("BillPayment", {"Id": payment["Id"], "SyncToken": payment["SyncToken"]})
    assert company.get("Bill", first["Id"])["Balance"] == Decimal("100.00")
    assert company.get("Vendor", vendor["Id"])["Balance"] == Decimal("150.00")
    assert company.get("BillPayment", payment["Id"])["TotalAmt"] == 0


def test_a_bill_payment_cannot_pay_more_than_a_bill_owes_or_another_vendors_bill(
    company: Company,
) -> None:
    vendor = company.create("Vendor", {"DisplayName": "Office Depot"})
    other = company.create("Vendor", {"DisplayName": "Staples"})
    owed = bill(company, vendor, "40.00")
    with pytest.raises(Fault, match="more than its open balance"):
        pay(company, vendor, {owed["Id"]: "40.01"})
    with pytest.raises(Fault, match="another vendor"):
        pay(company, other, {owed["Id"]: "10.00"})


def test_a_paid_bill_cannot_be_deleted_until_its_payment_is(company: Company) -> None:
    vendor = company.create("Vendor", {"DisplayName": "Office Depot"})
    owed = bill(company, vendor, "40.00")
    payment = pay(company, vendor, {owed["Id"]: "40.00"})
    with pytest.raises(Fault, match="linked to other transactions"):
        company.delete("Bill", {"Id": owed["Id"], "SyncToken": owed["SyncToken"]})
    company.delete("BillPayment", {"Id": payment["Id"], "SyncToken": payment["SyncToken"]})
    assert company.get("Bill", owed["Id"])["Balance"] == Decimal("40.00")
    company.delete(
        "Bill", {"Id": owed["Id"], "SyncToken": company.get("Bill", owed["Id"])["SyncToken"]}
    )
    assert company.get("Vendor", vendor["Id"])["Balance"] == 0


def test_a_vendor_credit_lowers_the_vendor_balance_and_a_purchase_order_does_not(
    company: Company,
) -> None:
    vendor = company.create("Vendor", {"DisplayName": "Office Depot"})
    bill(company, vendor, "100.00")
    lines = [
        {
            "Amount": Decimal("30.00"),
            "DetailType": "AccountBasedExpenseLineDetail",
            "AccountBasedExpenseLineDetail": {"AccountRef": ref(account(company, "Supplies"))},
        }
    ]
    company.create("VendorCredit", {"VendorRef": ref(vendor), "Line": lines})
    order = company.create("PurchaseOrder", {"VendorRef": ref(vendor), "Line": lines})
    assert order["POStatus"] == "Open" and order["TotalAmt"] == Decimal("30.00")
    assert company.get("Vendor", vendor["Id"])["Balance"] == Decimal("70.00")


def test_expense_lines_are_checked_like_sales_lines(company: Company) -> None:
    vendor = company.create("Vendor", {"DisplayName": "Office Depot"})
    with pytest.raises(Fault) as missing:
        company.create(
            "Bill",
            {
                "VendorRef": ref(vendor),
                "Line": [{"Amount": 5, "DetailType": "AccountBasedExpenseLineDetail"}],
            },
        )
    assert missing.value.code == "2020"
    with pytest.raises(Fault) as wrong:
        company.create(
            "Bill",
            {
                "VendorRef": ref(vendor),
                "Line": [{"Amount": 5, "DetailType": "SalesItemLineDetail"}],
            },
        )
    assert wrong.value.code == "2170"
    with pytest.raises(Fault) as no_vendor:
        company.create("Bill", {"Line": []})
    assert no_vendor.value.code == "2020"


def test_transfers_move_money_between_two_different_accounts(company: Company) -> None:
    chequing, savings = account(company, "Chequing"), account(company, "Trust Account")
    made = company.create(
        "Transfer", {"FromAccountRef": ref(chequing), "ToAccountRef": ref(savings), "Amount": "250"}
    )
    assert made["Amount"] == Decimal("250.00")
    with pytest.raises(Fault, match="must be different"):
        company.create(
            "Transfer",
            {"FromAccountRef": ref(chequing), "ToAccountRef": ref(chequing), "Amount": 1},
        )


def test_time_activity_names_whose_time_it_is(company: Company) -> None:
    employee = company.create("Employee", {"GivenName": "Emily", "FamilyName": "Platt"})
    assert employee["DisplayName"] == "Emily Platt"
    made = company.create(
        "TimeActivity",
        {"NameOf": "Employee", "EmployeeRef": ref(employee), "Hours": 2, "Minutes": 30},
    )
    assert made["EmployeeRef"]["name"] == "Emily Platt"
    assert made["BillableStatus"] == "NotBillable"
    with pytest.raises(Fault):
        company.create("TimeActivity", {"NameOf": "Employee", "Hours": 1})
    with pytest.raises(Fault, match="whole number"):
        company.create(
            "TimeActivity", {"NameOf": "Employee", "EmployeeRef": ref(employee), "Hours": "2"}
        )


def test_classes_and_locations_nest_with_qualified_names(company: Company) -> None:
    parent = company.create("Class", {"Name": "Services"})
    child = company.create("Class", {"Name": "Audit", "ParentRef": ref(parent)})
    assert child["FullyQualifiedName"] == "Services:Audit" and child["SubClass"] is True
    west = company.create("Department", {"Name": "West"})
    assert west["SubDepartment"] is False
    with pytest.raises(Fault) as clash:
        company.create("Class", {"Name": "services"})
    assert clash.value.code == "6240"


def test_tax_agencies_can_be_created_but_not_updated_or_deleted(company: Company) -> None:
    agency = company.create("TaxAgency", {"DisplayName": "Board of Equalization"})
    assert agency["TaxTrackedOnSales"] is True
    with pytest.raises(Fault, match="Update is not supported"):
        company.update("TaxAgency", {**agency, "DisplayName": "x"}, sparse=False)
    with pytest.raises(Fault, match="Delete is not supported"):
        company.delete("TaxAgency", agency)


def test_read_only_lists_refuse_writes(company: Company) -> None:
    for entity in ("TaxRate", "CustomerType", "Budget", "TaxCode"):
        with pytest.raises(Fault, match="Create is not supported"):
            company.create(entity, {"Name": "x"})


def test_attachable_metadata_needs_a_file_name_or_note_and_a_real_target(company: Company) -> None:
    vendor = company.create("Vendor", {"DisplayName": "Office Depot"})
    owed = bill(company, vendor, "10.00")
    note = company.create(
        "Attachable",
        {
            "FileName": "receipt.jpg",
            "ContentType": "image/jpeg",
            "AttachableRef": [{"EntityRef": {"type": "Bill", "value": owed["Id"]}}],
        },
    )
    assert note["FileAccessUri"].endswith(f"/download/{note['Id']}")
    with pytest.raises(Fault):
        company.create("Attachable", {"ContentType": "image/jpeg"})
    with pytest.raises(Fault) as bad:
        company.create(
            "Attachable",
            {"Note": "x", "AttachableRef": [{"EntityRef": {"type": "Bill", "value": "999"}}]},
        )
    assert bad.value.code == "2500"


def test_every_entity_of_the_catalog_is_served() -> None:
    served = catalog.entities()
    for name in [
        "Vendor",
        "Employee",
        "Bill",
        "BillPayment",
        "VendorCredit",
        "Estimate",
        "PurchaseOrder",
        "RefundReceipt",
        "SalesReceipt",
        "Transfer",
        "TimeActivity",
        "TaxAgency",
        "TaxRate",
        "CustomerType",
        "Class",
        "Department",
        "PaymentMethod",
        "Budget",
        "Attachable",
    ]:
        assert name in served, name
    assert served["BillPayment"].allows("void") and not served["Bill"].allows("void")
    assert not served["TimeActivity"].cdc and served["Bill"].cdc


def test_a_bill_payment_can_use_a_vendor_credit(company: Company) -> None:
    vendor = company.create("Vendor", {"DisplayName": "Office Depot"})
    owed = bill(company, vendor, "100.00")
    credit = company.create(
        "VendorCredit",
        {
            "VendorRef": ref(vendor),
            "Line": [
                {
                    "Amount": Decimal("30.00"),
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": {
                        "AccountRef": ref(account(company, "Supplies"))
                    },
                }
            ],
        },
    )
    payment = company.create(
        "BillPayment",
        {
            "VendorRef": ref(vendor),
            "PayType": "Check",
            "TotalAmt": Decimal("70.00"),
            "CheckPayment": {"BankAccountRef": ref(account(company, "Chequing"))},
            "Line": [
                {
                    "Amount": Decimal("100.00"),
                    "LinkedTxn": [{"TxnId": owed["Id"], "TxnType": "Bill"}],
                },
                {
                    "Amount": Decimal("30.00"),
                    "LinkedTxn": [{"TxnId": credit["Id"], "TxnType": "VendorCredit"}],
                },
            ],
        },
    )
    assert company.get("Bill", owed["Id"])["Balance"] == 0
    used = company.get("VendorCredit", credit["Id"])
    assert used["Balance"] == 0
    assert used["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "BillPayment"}]
    assert company.get("Vendor", vendor["Id"])["Balance"] == 0
