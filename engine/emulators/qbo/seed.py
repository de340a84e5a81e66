"""Seeded companies: `sandbox-us` and `sandbox-ca` (built by sandbox.py from the data files
in seeds/, like Intuit's sample company), `empty` (a chart of accounts only) and `starter`
(a new company set up for TPS: accounts, items, terms and payment methods, no customers and
no A/R, the situation TPS documents).

Every record a client could write goes in through the same rules a client's writes meet, so
the seed is itself checked by the emulator.
"""

from __future__ import annotations

from decimal import Decimal

from tpsqbo_engine.emulators.qbo import sandbox
from tpsqbo_engine.emulators.qbo.company import Company
from tpsqbo_engine.emulators.qbo.sandbox import insert

SEEDS = ("sandbox-us", "sandbox-ca", "empty", "starter")
REALMS = {
    "sandbox-us": "9341452000000001",
    "sandbox-ca": "9341452000000002",
    "empty": "9341452000000003",
    "starter": "9341452000000004",
}

_ACCOUNTS = [
    ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"),
    ("Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
    ("Chequing", "Bank", "Checking"),
    ("Trust Account", "Bank", "Checking"),
    ("Fees Income", "Income", "ServiceFeeIncome"),
    ("Accounting Fees", "Income", "ServiceFeeIncome"),
    ("Bookkeeping Fees", "Income", "ServiceFeeIncome"),
    ("Consulting Fees", "Income", "ServiceFeeIncome"),
    ("Payroll Service Fees", "Income", "ServiceFeeIncome"),
    ("Tax Preparation Fees", "Income", "ServiceFeeIncome"),
    ("Reimbursed Expenses", "Income", "OtherPrimaryIncome"),
    ("Finance Charge Income", "Income", "OtherPrimaryIncome"),
    ("Office Expenses", "Expense", "OfficeGeneralAdministrativeExpenses"),
    ("QuickBooks Payments Fees", "Expense", "BankCharges"),
    ("Opening Balance Equity", "Equity", "OpeningBalanceEquity"),
]
_ITEMS = [
    ("Bookkeeping", "Bookkeeping Fees", "120.00"),
    ("Tax Preparation", "Tax Preparation Fees", "250.00"),
    ("Consulting", "Consulting Fees", "180.00"),
    ("A/R Adjustment Increase", "Fees Income", "0"),
    ("A/R Adjustment Decrease", "Fees Income", "0"),
    ("Finance Charges", "Finance Charge Income", "0"),
]


def _settings(company: Company, name: str, currency: str) -> None:
    insert(
        company,
        "CompanyInfo",
        {
            "CompanyName": name,
            "LegalName": name,
            "Country": company.country,
            "CompanyAddr": {
                "Line1": "2600 Marine Way",
                "City": "Mountain View",
                "CountrySubDivisionCode": "CA",
                "PostalCode": "94043",
            }
            if company.us
            else {
                "Line1": "1 Front Street West",
                "City": "Toronto",
                "CountrySubDivisionCode": "ON",
                "PostalCode": "M5J 2X5",
            },
            "Email": {"Address": "noreply@quickbooks.example"},
            "FiscalYearStartMonth": "January",
            "NameValue": [
                {"Name": "SubscriptionStatus", "Value": "PAID"},
                {"Name": "OfferingSku", "Value": "QuickBooks Online Plus"},
            ],
        },
    )
    insert(
        company,
        "Preferences",
        {
            "AccountingInfoPrefs": {"UseAccountNumbers": False, "ClassTrackingPerTxn": False},
            "SalesFormsPrefs": {
                "CustomTxnNumbers": True,
                "AllowDiscount": True,
                "ETransactionPaymentEnabled": True,
                "AllowOnlineCreditCardPayment": True,
                "AllowOnlineACHPayment": True,
                "AutoApplyCredit": False,
            },
            "TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": False},
            "CurrencyPrefs": {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": currency}},
            "OtherPrefs": {},
        },
    )


def seeded_company(seed: str, realm_id: str | None = None) -> Company:
    if seed not in SEEDS:
        raise ValueError(f"unknown seed {seed!r}; choose one of {', '.join(SEEDS)}")
    if seed.startswith("sandbox-"):
        return sandbox.load(seed, realm_id or REALMS[seed])
    company = Company(realm_id or REALMS[seed], "US")
    _settings(
        company,
        {"empty": "New Company", "starter": "Harbor & Pine CPAs (QuickBooks)"}[seed],
        "USD",
    )
    for name, kind, subtype in _ACCOUNTS:
        company.create("Account", {"Name": name, "AccountType": kind, "AccountSubType": subtype})
    if seed == "starter":  # a new company set up for TPS: lists, no customers, no A/R
        _lists(company)
    return company


def _lists(company: Company) -> None:
    for name, days in (("Due on receipt", 0), ("Net 15", 15), ("Net 30", 30)):
        company.create("Term", {"Name": name, "Type": "STANDARD", "DueDays": days})
    for name in ("Cash", "Check", "Visa", "MasterCard", "EFT"):
        company.create("PaymentMethod", {"Name": name})
    for name, account, price in _ITEMS:
        account_ref = company.find_by("Account", "Name", account)
        assert account_ref is not None, account
        company.create(
            "Item",
            {
                "Name": name,
                "Type": "Service",
                "UnitPrice": Decimal(price),
                "IncomeAccountRef": {"value": account_ref["Id"], "name": account},
            },
        )
