"""Reports computed from the transactions: A/R to the cent, books that balance, parameters."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from tests.qbo.conftest import Api
from tpsqbo_engine.emulators.qbo import reports
from tpsqbo_engine.emulators.qbo.company import Company
from tpsqbo_engine.emulators.qbo.faults import Fault
from tpsqbo_engine.emulators.qbo.seed import seeded_company


def ref(record: dict[str, Any]) -> dict[str, str]:
    return {"value": record["Id"]}


def named(company: Company, entity: str, name: str) -> dict[str, Any]:
    found = company.find_by(entity, "Name", name)
    assert found is not None, name
    return found


def sale(
    company: Company, entity: str, customer: dict[str, Any], value: str, day: str, **extra: Any
) -> dict[str, Any]:
    item = named(company, "Item", "Bookkeeping")
    return company.create(
        entity,
        {
            "CustomerRef": ref(customer),
            "TxnDate": day,
            "DueDate": day,
            "Line": [
                {
                    "Amount": Decimal(value),
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": ref(item)},
                }
            ],
            **extra,
        },
    )


def pay(
    company: Company, customer: dict[str, Any], day: str, total: str, applied: dict[str, str]
) -> dict[str, Any]:
    return company.create(
        "Payment",
        {
            "CustomerRef": ref(customer),
            "TotalAmt": Decimal(total),
            "TxnDate": day,
            "Line": [
                {"Amount": Decimal(v), "LinkedTxn": [{"TxnId": k, "TxnType": "Invoice"}]}
                for k, v in applied.items()
            ],
        },
    )


@pytest.fixture
def company() -> Company:
    company = seeded_company("starter")
    amy = company.create("Customer", {"DisplayName": "Amy"})
    bob = company.create("Customer", {"DisplayName": "Bob"})
    first = sale(company, "Invoice", amy, "100.10", "2026-06-01")
    sale(company, "Invoice", amy, "33.33", "2026-08-20")
    late = sale(company, "Invoice", bob, "250.00", "2026-03-01")
    pay(company, amy, "2026-07-01", "60.05", {first["Id"]: "60.05"})
    pay(company, bob, "2026-09-15", "300.00", {late["Id"]: "250.00"})  # 50.00 unapplied
    sale(company, "CreditMemo", amy, "10.01", "2026-08-25")
    sale(company, "SalesReceipt", bob, "45.00", "2026-08-01")
    return company


def rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    return list(report["Rows"]["Row"])


def grand(report: dict[str, Any]) -> list[str]:
    return [c["value"] for c in rows(report)[-1]["Summary"]["ColData"]]


def by_customer(report: dict[str, Any]) -> dict[str, str]:
    return {
        r["ColData"][0]["value"]: r["ColData"][-1]["value"]
        for r in rows(report)
        if r.get("type") == "Data"
    }


def test_ar_reports_agree_with_the_transactions_to_the_cent(company: Company) -> None:
    args = {"report_date": "2026-09-30"}
    aged = reports.run(company, "AgedReceivables", args)
    # Amy: 100.10 - 60.05 + 33.33 - 10.01; Bob: 250 - 250 and 50.00 unapplied.
    assert by_customer(aged) == {"Amy": "63.37", "Bob": "-50.00"}
    assert grand(aged)[-1] == "13.37"
    assert grand(reports.run(company, "CustomerBalance", args))[-1] == "13.37"
    assert grand(reports.run(company, "AgedReceivableDetail", args))[-1] == "13.37"
    assert grand(reports.run(company, "CustomerBalanceDetail", args))[-2] == "13.37"
    amy = company.find_by("Customer", "DisplayName", "Amy")
    assert amy is not None and f"{amy['Balance']:.2f}" == "63.37"
    bob = company.find_by("Customer", "DisplayName", "Bob")  # an unapplied payment is a credit
    assert bob is not None and f"{bob['Balance']:.2f}" == "-50.00"
    sheet = reports.run(company, "BalanceSheet", {"end_date": "2026-09-30"})
    receivable = [
        row
        for row in rows(sheet)[0]["Rows"]["Row"]
        if row["Header"]["ColData"][0]["value"] == "Accounts Receivable"
    ]
    assert receivable[0]["Summary"]["ColData"][1]["value"] == "13.37"


def test_ar_as_of_a_date_leaves_out_what_came_later_and_ages_by_due_date(company: Company) -> None:
    aged = reports.run(company, "AgedReceivables", {"report_date": "2026-06-30"})
    # Only Amy's June invoice and Bob's March one exist then; no payment yet.
    lines = {
        r["ColData"][0]["value"]: [c["value"] for c in r["ColData"][1:]]
        for r in rows(aged)
        if r.get("type") == "Data"
    }
    assert lines["Amy"] == ["0.00", "100.10", "0.00", "0.00", "0.00", "100.10"]
    assert lines["Bob"] == ["0.00", "0.00", "0.00", "0.00", "250.00", "250.00"]
    assert aged["Header"]["StartPeriod"] == aged["Header"]["EndPeriod"] == "2026-06-30"


def test_ar_reports_filter_by_customer(company: Company) -> None:
    bob = company.find_by("Customer", "DisplayName", "Bob")
    assert bob is not None
    aged = reports.run(
        company, "CustomerBalance", {"report_date": "2026-09-30", "customer": bob["Id"]}
    )
    assert by_customer(aged) == {"Bob": "-50.00"}


def test_profit_and_loss_on_accrual_and_cash_basis(company: Company) -> None:
    period = {"start_date": "2026-01-01", "end_date": "2026-09-30"}
    accrual = reports.run(company, "ProfitAndLoss", period)
    # 100.10 + 33.33 + 250 - 10.01 + 45 of bookkeeping fees
    assert grand(accrual) == ["Net Income", "418.42"]
    cash = reports.run(company, "ProfitAndLoss", {**period, "accounting_method": "Cash"})
    # what was received: 60.05 on Amy's invoice, 250 on Bob's, the 45 receipt
    assert grand(cash) == ["Net Income", "355.05"]
    assert cash["Header"]["ReportBasis"] == "Cash"


def test_the_books_balance_with_every_kind_of_transaction(company: Company) -> None:
    company.create("Account", {"Name": "Accounts Payable", "AccountType": "Accounts Payable"})
    vendor = company.create("Vendor", {"DisplayName": "Office Depot"})
    expense = named(company, "Account", "Office Expenses")
    chequing, trust = (
        named(company, "Account", "Chequing"),
        named(company, "Account", "Trust Account"),
    )
    line = {
        "Amount": Decimal("80.00"),
        "DetailType": "AccountBasedExpenseLineDetail",
        "AccountBasedExpenseLineDetail": {"AccountRef": ref(expense)},
    }
    bill = company.create(
        "Bill", {"VendorRef": ref(vendor), "TxnDate": "2025-12-20", "Line": [line]}
    )
    company.create(
        "BillPayment",
        {
            "VendorRef": ref(vendor),
            "PayType": "Check",
            "TotalAmt": 50,
            "TxnDate": "2026-02-01",
            "CheckPayment": {"BankAccountRef": ref(chequing)},
            "Line": [{"Amount": 50, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}],
        },
    )
    company.create(
        "Transfer",
        {
            "FromAccountRef": ref(chequing),
            "ToAccountRef": ref(trust),
            "Amount": 20,
            "TxnDate": "2026-02-02",
        },
    )
    company.create(
        "RefundReceipt",
        {
            "CustomerRef": ref(company.find_by("Customer", "DisplayName", "Bob") or {}),
            "TxnDate": "2026-08-02",
            "DepositToAccountRef": ref(chequing),
            "Line": [
                {
                    "Amount": 5,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": ref(named(company, "Item", "Bookkeeping"))},
                }
            ],
        },
    )
    sheet = reports.run(company, "BalanceSheet", {"end_date": "2026-09-30"})
    assert (
        rows(sheet)[0]["Summary"]["ColData"][1]["value"]
        == rows(sheet)[1]["Summary"]["ColData"][1]["value"]
    )
    equity = rows(sheet)[1]["Rows"]["Row"][1]["Rows"]["Row"]
    assert {
        "ColData": [{"value": "Retained Earnings"}, {"value": "-80.00"}],
        "type": "Data",
    } in equity
    trial = reports.run(company, "TrialBalance", {"end_date": "2026-09-30"})
    debit, credit = grand(trial)[1:]
    assert debit == credit
    ledger = reports.run(
        company, "GeneralLedger", {"start_date": "2026-01-01", "end_date": "2026-09-30"}
    )
    sections = {s["Header"]["ColData"][0]["value"]: s for s in rows(ledger)}
    payable = sections["Accounts Payable"]
    assert payable["Rows"]["Row"][0]["ColData"][-1]["value"] == "-80.00"  # carried from 2025
    assert payable["Summary"]["ColData"][-1]["value"] == "-30.00"


def test_date_macros_set_the_period_and_bad_parameters_are_refused(company: Company) -> None:
    today = company.timestamp()[:10]
    report = reports.run(company, "ProfitAndLoss", {"date_macro": "This Month-to-date"})
    assert report["Header"]["StartPeriod"] == today[:8] + "01"
    assert report["Header"]["EndPeriod"] == today
    assert report["Header"]["DateMacro"] == "this month-to-date"
    for args in (
        {"date_macro": "Next Century"},
        {"start_date": "2026-13-01"},
        {"accounting_method": "Modified"},
        {"start_date": "2026-05-01", "end_date": "2026-04-01"},
    ):
        with pytest.raises(Fault) as refused:
            reports.run(company, "ProfitAndLoss", args)
        assert refused.value.code == "2010"


def test_reports_over_http_in_qbos_shape(api: Api) -> None:
    response = api.get("reports/AgedReceivables", report_date="2026-12-31")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["Header"]["ReportName"] == "AgedReceivables"
    assert body["Header"]["Currency"] == "USD"
    assert [c["ColTitle"] for c in body["Columns"]["Column"]][1:] == [
        "Current",
        "1 - 30",
        "31 - 60",
        "61 - 90",
        "91 and over",
        "Total",
    ]
    total = Decimal(body["Rows"]["Row"][-1]["Summary"]["ColData"][-1]["value"])
    customers = api.query("SELECT * FROM Customer").json()["QueryResponse"]["Customer"]
    assert total == sum((Decimal(str(c["Balance"])) for c in customers), Decimal(0))
    assert api.get("reports/NoSuchReport").status_code == 400


def test_selling_inventory_posts_its_cost_and_a_voided_sale_posts_nothing(company: Company) -> None:
    for name, kind in (("Stock", "Other Current Asset"), ("COGS", "Cost of Goods Sold")):
        company.create("Account", {"Name": name, "AccountType": kind})
    pump = company.create(
        "Item",
        {
            "Name": "Pump",
            "Type": "Inventory",
            "PurchaseCost": Decimal("10.00"),
            "QtyOnHand": 5,
            "InvStartDate": "2026-01-01",
            "IncomeAccountRef": ref(named(company, "Account", "Fees Income")),
            "ExpenseAccountRef": ref(named(company, "Account", "COGS")),
            "AssetAccountRef": ref(named(company, "Account", "Stock")),
        },
    )
    amy = company.find_by("Customer", "DisplayName", "Amy")
    assert amy is not None
    line = {
        "Amount": Decimal("45.00"),
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": ref(pump), "Qty": 3, "UnitPrice": Decimal("15.00")},
    }
    company.create("Invoice", {"CustomerRef": ref(amy), "TxnDate": "2026-09-01", "Line": [line]})
    voided = company.create(
        "Invoice", {"CustomerRef": ref(amy), "TxnDate": "2026-09-02", "Line": [line]}
    )
    company.void("Invoice", {"Id": voided["Id"], "SyncToken": voided["SyncToken"]})
    period = {"start_date": "2026-09-01", "end_date": "2026-09-30"}
    for method in ("Accrual", "Cash"):
        report = reports.run(company, "ProfitAndLoss", {**period, "accounting_method": method})
        cogs = next(r for r in rows(report) if r.get("group") == "COGS")
        assert cogs["Summary"]["ColData"][1]["value"] == "30.00", method
    assert "-0.00" not in str(reports.run(company, "ProfitAndLoss", period))


def test_profit_and_loss_for_one_customer(company: Company) -> None:
    bob = company.find_by("Customer", "DisplayName", "Bob")
    assert bob is not None
    period = {"start_date": "2026-01-01", "end_date": "2026-09-30", "customer": bob["Id"]}
    # Bob's invoice of 250.00 and his receipt of 45.00; none of Amy's sales
    assert grand(reports.run(company, "ProfitAndLoss", period)) == ["Net Income", "295.00"]
    assert reports.run(company, "ProfitAndLoss", period)["Header"]["Customer"] == bob["Id"]


@pytest.mark.parametrize(
    ("macro", "first_month", "period"),
    [
        ("Today", 1, ("2026-11-26", "2026-11-26")),
        ("This Week", 1, ("2026-11-22", "2026-11-28")),
        ("Last Month", 1, ("2026-10-01", "2026-10-31")),
        ("Last Month-to-date", 1, ("2026-10-01", "2026-10-26")),
        ("Next Month", 1, ("2026-12-01", "2026-12-31")),
        ("This Fiscal Quarter", 4, ("2026-10-01", "2026-12-31")),
        ("This Fiscal Year", 4, ("2026-04-01", "2027-03-31")),
        ("Last Fiscal Year", 1, ("2025-01-01", "2025-12-31")),
        ("This Calendar Year-to-date", 4, ("2026-01-01", "2026-11-26")),
        ("Next 4 Weeks", 1, ("2026-11-29", "2026-12-26")),
    ],
)
def test_date_macros_name_qbos_periods(
    macro: str, first_month: int, period: tuple[str, str]
) -> None:
    start, end = reports.macro_period(macro, date(2026, 11, 26), first_month)
    assert (start.isoformat(), end.isoformat()) == period


def test_an_unapplied_payment_leaves_the_customers_balance_when_applied_or_voided(
    company: Company,
) -> None:
    bob = company.find_by("Customer", "DisplayName", "Bob")
    assert bob is not None
    later = sale(company, "Invoice", bob, "50.00", "2026-10-01")
    paid = next(
        p for p in company.table("Payment").values() if p["CustomerRef"]["value"] == bob["Id"]
    )
    lines = [
        *paid["Line"],
        {"Amount": Decimal("50.00"), "LinkedTxn": [{"TxnId": later["Id"], "TxnType": "Invoice"}]},
    ]
    applied = company.update("Payment", {**paid, "Line": lines}, sparse=False)
    assert applied["UnappliedAmt"] == 0 and f"{bob['Balance']:.2f}" == "0.00"
    company.void("Payment", applied)
    assert f"{bob['Balance']:.2f}" == "300.00"  # both invoices open again


def test_a_payment_that_changes_an_invoice_tells_webhook_subscribers(company: Company) -> None:
    amy = company.find_by("Customer", "DisplayName", "Amy")
    assert amy is not None
    invoice = sale(company, "Invoice", amy, "40.00", "2026-10-01")
    heard: list[tuple[str, str, str]] = []
    company.listeners.append(lambda *event: heard.append(event))
    payment = pay(company, amy, "2026-10-02", "40.00", {invoice["Id"]: "40.00"})
    assert ("Invoice", invoice["Id"], "Update") in heard
    assert ("Payment", payment["Id"], "Create") in heard
    heard.clear()
    sale(company, "Invoice", amy, "5.00", "2026-10-03")  # nothing paid: no Update
    assert [event[2] for event in heard] == ["Create"]
