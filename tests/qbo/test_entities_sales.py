"""Estimates, receipts, refunds, credit memo voids and sub-customers, as QBO keeps them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tpsqbo_engine.emulators.qbo.company import Company
from tpsqbo_engine.emulators.qbo.faults import Fault
from tpsqbo_engine.emulators.qbo.ledger import Ledger
from tpsqbo_engine.emulators.qbo.seed import seeded_company


@pytest.fixture
def company() -> Company:
    return seeded_company("starter")


def ref(record: dict[str, Any]) -> dict[str, str]:
    return {"value": record["Id"]}


def lines(company: Company, value: str) -> list[dict[str, Any]]:
    item = company.find_by("Item", "Name", "Bookkeeping")
    assert item is not None
    return [
        {
            "Amount": Decimal(value),
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": ref(item)},
        }
    ]


def test_an_invoice_made_from_an_estimate_closes_it_and_both_link(company: Company) -> None:
    customer = company.create("Customer", {"DisplayName": "Amy's Bird Sanctuary"})
    estimate = company.create(
        "Estimate", {"CustomerRef": ref(customer), "Line": lines(company, "300")}
    )
    assert estimate["TxnStatus"] == "Pending" and estimate["TotalAmt"] == Decimal("300.00")
    assert company.get("Customer", customer["Id"])["Balance"] == 0  # an estimate is not owed
    invoice = company.create(
        "Invoice",
        {
            "CustomerRef": ref(customer),
            "Line": lines(company, "300"),
            "LinkedTxn": [{"TxnId": estimate["Id"], "TxnType": "Estimate"}],
        },
    )
    closed = company.get("Estimate", estimate["Id"])
    assert closed["TxnStatus"] == "Closed" and closed["SyncToken"] == "1"
    assert closed["LinkedTxn"] == [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]
    assert invoice["LinkedTxn"] == [{"TxnId": estimate["Id"], "TxnType": "Estimate"}]


def test_an_invoice_keeps_its_estimate_link_when_paid(company: Company) -> None:
    customer = company.create("Customer", {"DisplayName": "Amy's Bird Sanctuary"})
    estimate = company.create(
        "Estimate", {"CustomerRef": ref(customer), "Line": lines(company, "80")}
    )
    invoice = company.create(
        "Invoice",
        {
            "CustomerRef": ref(customer),
            "Line": lines(company, "80"),
            "LinkedTxn": [{"TxnId": estimate["Id"], "TxnType": "Estimate"}],
        },
    )
    payment = company.create(
        "Payment",
        {
            "CustomerRef": ref(customer),
            "TotalAmt": 80,
            "Line": [{"Amount": 80, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
        },
    )
    assert company.get("Invoice", invoice["Id"])["LinkedTxn"] == [
        {"TxnId": estimate["Id"], "TxnType": "Estimate"},
        {"TxnId": payment["Id"], "TxnType": "Payment"},
    ]


def test_an_estimate_of_another_customer_cannot_become_this_ones_invoice(company: Company) -> None:
    amy = company.create("Customer", {"DisplayName": "Amy"})
    bob = company.create("Customer", {"DisplayName": "Bob"})
    estimate = company.create("Estimate", {"CustomerRef": ref(amy), "Line": lines(company, "10")})
    with pytest.raises(Fault, match="another customer"):
        company.create(
            "Invoice",
            {
                "CustomerRef": ref(bob),
                "Line": lines(company, "10"),
                "LinkedTxn": [{"TxnId": estimate["Id"], "TxnType": "Estimate"}],
            },
        )


def test_a_credit_memo_is_voided_as_qbo_voids_it(company: Company) -> None:
    customer = company.create("Customer", {"DisplayName": "Amy"})
    company.create("Invoice", {"CustomerRef": ref(customer), "Line": lines(company, "100")})
    memo = company.create(
        "CreditMemo", {"CustomerRef": ref(customer), "Line": lines(company, "40")}
    )
    assert company.get("Customer", customer["Id"])["Balance"] == Decimal("60.00")
    voided = company.void("CreditMemo", {"Id": memo["Id"], "SyncToken": memo["SyncToken"]})
    assert voided["TotalAmt"] == 0 and voided["Balance"] == 0 and voided["RemainingCredit"] == 0
    assert voided["PrivateNote"].startswith("Voided")
    assert company.get("Customer", customer["Id"])["Balance"] == Decimal("100.00")


def test_a_credit_memo_used_by_a_payment_cannot_be_voided(company: Company) -> None:
    customer = company.create("Customer", {"DisplayName": "Amy"})
    invoice = company.create(
        "Invoice", {"CustomerRef": ref(customer), "Line": lines(company, "100")}
    )
    memo = company.create(
        "CreditMemo", {"CustomerRef": ref(customer), "Line": lines(company, "40")}
    )
    company.create(
        "Payment",
        {
            "CustomerRef": ref(customer),
            "TotalAmt": 0,
            "Line": [
                {"Amount": 40, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]},
                {"Amount": 40, "LinkedTxn": [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}]},
            ],
        },
    )
    with pytest.raises(Fault, match="linked to other transactions"):
        company.void("CreditMemo", {"Id": memo["Id"], "SyncToken": memo["SyncToken"]})


def test_receipts_go_to_undeposited_funds_and_refunds_need_an_account(company: Company) -> None:
    customer = company.create("Customer", {"DisplayName": "Amy"})
    receipt = company.create(
        "SalesReceipt", {"CustomerRef": ref(customer), "Line": lines(company, "55")}
    )
    undeposited = company.find_by("Account", "AccountSubType", "UndepositedFunds")
    assert undeposited is not None
    assert receipt["DepositToAccountRef"]["value"] == undeposited["Id"]
    assert receipt["Balance"] == 0 and receipt["TotalAmt"] == Decimal("55.00")
    with pytest.raises(Fault) as missing:
        company.create(
            "RefundReceipt", {"CustomerRef": ref(customer), "Line": lines(company, "55")}
        )
    assert missing.value.code == "2020"
    chequing = company.find_by("Account", "Name", "Chequing")
    assert chequing is not None
    refund = company.create(
        "RefundReceipt",
        {
            "CustomerRef": ref(customer),
            "Line": lines(company, "55"),
            "DepositToAccountRef": ref(chequing),
        },
    )
    assert refund["TotalAmt"] == Decimal("55.00")
    assert company.get("Customer", customer["Id"])["Balance"] == 0


def test_sub_customers_are_jobs_whose_balances_roll_up(company: Company) -> None:
    parent = company.create("Customer", {"DisplayName": "Jeff's Jalopies"})
    job = company.create("Customer", {"DisplayName": "Engine rebuild", "ParentRef": ref(parent)})
    assert job["Job"] is True and job["Level"] == 1
    assert job["FullyQualifiedName"] == "Jeff's Jalopies:Engine rebuild"
    company.create("Invoice", {"CustomerRef": ref(job), "Line": lines(company, "120")})
    company.create("Invoice", {"CustomerRef": ref(parent), "Line": lines(company, "30")})
    top = company.get("Customer", parent["Id"])
    assert top["Balance"] == Decimal("30.00") and top["BalanceWithJobs"] == Decimal("150.00")
    assert company.get("Customer", job["Id"])["BalanceWithJobs"] == Decimal("120.00")
    with pytest.raises(Fault, match="own parent"):
        company.update(
            "Customer",
            {"Id": parent["Id"], "SyncToken": top["SyncToken"], "ParentRef": ref(job)},
            sparse=True,
        )


def test_preferences_take_a_sparse_update_section_by_section(company: Company) -> None:
    prefs = company.singleton("Preferences")
    updated = company.update(
        "Preferences",
        {
            "Id": prefs["Id"],
            "SyncToken": prefs["SyncToken"],
            "sparse": True,
            "SalesFormsPrefs": {"AllowDiscount": False},
        },
        sparse=True,
    )
    assert updated["SalesFormsPrefs"]["AllowDiscount"] is False
    assert updated["SalesFormsPrefs"]["CustomTxnNumbers"] is True  # left as it was
    assert updated["CurrencyPrefs"] == prefs["CurrencyPrefs"]
    assert updated["SyncToken"] == "1"
    with pytest.raises(Fault) as stale:
        company.update("Preferences", {"Id": prefs["Id"], "SyncToken": "0"}, sparse=True)
    assert stale.value.code == "5010"


def test_an_empty_date_is_left_to_qbo_and_a_bad_one_refused(company: Company) -> None:
    customer = company.create("Customer", {"DisplayName": "Amy"})
    made = company.create(
        "SalesReceipt", {"CustomerRef": ref(customer), "TxnDate": "", "Line": lines(company, "5")}
    )
    assert made["TxnDate"] == company.timestamp()[:10]
    with pytest.raises(Fault) as bad:
        company.create(
            "Invoice",
            {"CustomerRef": ref(customer), "DueDate": "31/12/2026", "Line": lines(company, "5")},
        )
    assert bad.value.code == "2010" and bad.value.element == "DueDate"


def test_selling_and_buying_inventory_moves_its_quantity_on_hand(company: Company) -> None:
    for name, kind in (("Stock", "Other Current Asset"), ("COGS", "Cost of Goods Sold")):
        company.create("Account", {"Name": name, "AccountType": kind})
    accounts = {n: ref(company.find_by("Account", "Name", n) or {}) for n in ("Stock", "COGS")}
    pump = company.create(
        "Item",
        {
            "Name": "Pump",
            "Type": "Inventory",
            "QtyOnHand": 10,
            "InvStartDate": "2026-01-01",
            "IncomeAccountRef": ref(company.find_by("Account", "Name", "Fees Income") or {}),
            "ExpenseAccountRef": accounts["COGS"],
            "AssetAccountRef": accounts["Stock"],
        },
    )
    customer = company.create("Customer", {"DisplayName": "Amy"})
    sold = [
        {
            "Amount": Decimal("45"),
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": ref(pump), "Qty": 3, "UnitPrice": 15},
        }
    ]
    invoice = company.create("Invoice", {"CustomerRef": ref(customer), "Line": sold})
    assert company.get("Item", pump["Id"])["QtyOnHand"] == 7
    company.void("Invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]})
    assert company.get("Item", pump["Id"])["QtyOnHand"] == 10
    receipt = company.create("SalesReceipt", {"CustomerRef": ref(customer), "Line": sold})
    assert company.get("Item", pump["Id"])["QtyOnHand"] == 7
    company.delete("SalesReceipt", {"Id": receipt["Id"], "SyncToken": receipt["SyncToken"]})
    assert company.get("Item", pump["Id"])["QtyOnHand"] == 10
    vendor = company.create("Vendor", {"DisplayName": "Hicks Hardware"})
    bought = {
        "Amount": 40,
        "DetailType": "ItemBasedExpenseLineDetail",
        "ItemBasedExpenseLineDetail": {"ItemRef": ref(pump), "Qty": 4, "UnitPrice": 10},
    }
    company.create("Account", {"Name": "Accounts Payable", "AccountType": "Accounts Payable"})
    company.create("Bill", {"VendorRef": ref(vendor), "Line": [bought]})
    assert company.get("Item", pump["Id"])["QtyOnHand"] == 14


def test_a_deposit_takes_payments_out_of_undeposited_funds_once(company: Company) -> None:
    customer = company.create("Customer", {"DisplayName": "Amy"})
    invoice = company.create(
        "Invoice", {"CustomerRef": ref(customer), "Line": lines(company, "80")}
    )
    payment = company.create(
        "Payment",
        {
            "CustomerRef": ref(customer),
            "TotalAmt": 80,
            "Line": [{"Amount": 80, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
        },
    )
    chequing = ref(company.find_by("Account", "Name", "Chequing") or {})

    def deposit(value: str) -> dict[str, Any]:
        return company.create(
            "Deposit",
            {
                "DepositToAccountRef": chequing,
                "Line": [
                    {
                        "Amount": Decimal(value),
                        "LinkedTxn": [{"TxnId": payment["Id"], "TxnType": "Payment"}],
                    }
                ],
            },
        )

    with pytest.raises(Fault, match="more than"):
        deposit("80.01")
    assert deposit("80.00")["TotalAmt"] == Decimal("80.00")
    with pytest.raises(Fault, match="already in deposit"):
        deposit("80.00")


def test_receipt_money_goes_to_a_bank_or_other_current_asset_account(company: Company) -> None:
    customer = company.create("Customer", {"DisplayName": "Amy"})
    income = ref(company.find_by("Account", "Name", "Fees Income") or {})
    for entity in ("SalesReceipt", "RefundReceipt"):
        with pytest.raises(Fault, match="Bank or Other Current Asset"):
            company.create(
                entity,
                {
                    "CustomerRef": ref(customer),
                    "Line": lines(company, "5"),
                    "DepositToAccountRef": income,
                },
            )


def test_a_us_tax_code_taxes_the_taxable_lines_unless_the_total_tax_is_given() -> None:
    company = seeded_company("sandbox-us")
    customer = company.find_by("Customer", "DisplayName", "Cool Cars")
    code = company.find_by("TaxCode", "Name", "California")  # 8%
    item = company.find_by("Item", "Name", "Gardening")
    assert customer is not None and code is not None and item is not None

    def sale(tax_detail: dict[str, Any]) -> dict[str, Any]:
        return company.create(
            "SalesReceipt",
            {
                "CustomerRef": ref(customer),
                "TxnTaxDetail": tax_detail,
                "Line": [
                    {
                        "Amount": Decimal(value),
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": ref(item), "TaxCodeRef": {"value": tax}},
                    }
                    for value, tax in (("100.00", "TAX"), ("50.00", "NON"))
                ],
            },
        )

    taxed = sale({"TxnTaxCodeRef": ref(code)})
    assert taxed["TxnTaxDetail"]["TotalTax"] == Decimal("8.00")
    assert taxed["TotalAmt"] == Decimal("158.00")
    assert sale({"TxnTaxCodeRef": ref(code), "TotalTax": 3})["TotalAmt"] == Decimal("153.00")
    with pytest.raises(Fault) as unknown:
        sale({"TxnTaxCodeRef": {"value": "999"}})
    assert unknown.value.code == "2500"


def test_deleting_the_invoice_reopens_its_estimate(company: Company) -> None:
    customer = company.create("Customer", {"DisplayName": "Amy"})
    estimate = company.create(
        "Estimate", {"CustomerRef": ref(customer), "Line": lines(company, "90")}
    )
    invoice = company.create(
        "Invoice",
        {
            "CustomerRef": ref(customer),
            "Line": lines(company, "90"),
            "LinkedTxn": [{"TxnId": estimate["Id"], "TxnType": "Estimate"}],
        },
    )
    company.update(
        "Invoice",
        {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"], "PrivateNote": "x"},
        sparse=True,
    )
    assert company.get("Estimate", estimate["Id"])["SyncToken"] == "1"  # moved once, not twice
    company.delete("Invoice", {"Id": invoice["Id"], "SyncToken": "1"})
    reopened = company.get("Estimate", estimate["Id"])
    assert reopened["TxnStatus"] == "Pending" and reopened["LinkedTxn"] == []


def test_a_refund_links_only_the_customers_own_sales(company: Company) -> None:
    amy = company.create("Customer", {"DisplayName": "Amy"})
    bob = company.create("Customer", {"DisplayName": "Bob"})
    receipt = company.create(
        "SalesReceipt", {"CustomerRef": ref(amy), "Line": lines(company, "40")}
    )
    chequing = ref(company.find_by("Account", "Name", "Chequing") or {})

    def refund(customer: dict[str, Any]) -> dict[str, Any]:
        return company.create(
            "RefundReceipt",
            {
                "CustomerRef": ref(customer),
                "DepositToAccountRef": chequing,
                "Line": lines(company, "40"),
                "LinkedTxn": [{"TxnId": receipt["Id"], "TxnType": "SalesReceipt"}],
            },
        )

    assert refund(amy)["LinkedTxn"] == [{"TxnId": receipt["Id"], "TxnType": "SalesReceipt"}]
    with pytest.raises(Fault) as other:
        refund(bob)
    assert other.value.code == "2500"


def test_a_cash_sale_may_name_no_customer(company: Company) -> None:
    receipt = company.create("SalesReceipt", {"Line": lines(company, "12")})
    assert "CustomerRef" not in receipt and receipt["TotalAmt"] == Decimal("12.00")
    with pytest.raises(Fault) as missing:
        company.create("Invoice", {"Line": lines(company, "12")})
    assert missing.value.code == "2020"


def test_tax_inclusive_amounts_hold_their_tax() -> None:
    company = seeded_company("sandbox-ca")
    customer = company.find_by("Customer", "DisplayName", "Cool Cars")
    hst = company.find_by("TaxCode", "Name", "HST ON")  # 13%
    item = company.find_by("Item", "Name", "Gardening")
    assert customer is not None and hst is not None and item is not None
    receipt = company.create(
        "SalesReceipt",
        {
            "CustomerRef": ref(customer),
            "GlobalTaxCalculation": "TaxInclusive",
            "Line": [
                {
                    "Amount": Decimal("113.00"),
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": ref(item), "TaxCodeRef": ref(hst)},
                }
            ],
        },
    )
    assert receipt["TotalAmt"] == Decimal("113.00")
    assert receipt["TxnTaxDetail"]["TotalTax"] == Decimal("13.00")
    postings = [p for p in Ledger(company).postings() if p.txn_id == receipt["Id"]]
    income = item["IncomeAccountRef"]["value"]
    assert sum(p.amount for p in postings if p.account == income) == Decimal("-100.00")
    assert sum(p.amount for p in postings) == 0
