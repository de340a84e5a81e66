"""Seeded companies: `sandbox-us` (TAX/NON tax codes), `sandbox-ca` (GST/HST codes), `empty`
(a chart of accounts only) and `starter` (a new company set up for TPS: accounts, items,
terms and payment methods, no customers and no A/R, the situation TPS documents).

Every record goes in through the same rules a client's writes meet, so the seed is itself
checked by the emulator. Besides the ordinary chart of accounts, items, customers, invoices
and payments, the sandboxes hold a credit memo, a journal entry, a deposit and a cheque
expense, so the standard exclusions have something to find.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tpsqbo_engine.emulators.qbo.company import Company

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
_CA_ACCOUNTS = [
    ("RBC Chequing", "Bank", "Checking"),
    ("RBC Trust", "Bank", "Checking"),
    ("Professional Fees", "Income", "ServiceFeeIncome"),
]
_ITEMS = [
    ("Bookkeeping", "Bookkeeping Fees", "120.00"),
    ("Tax Preparation", "Tax Preparation Fees", "250.00"),
    ("Consulting", "Consulting Fees", "180.00"),
    ("A/R Adjustment Increase", "Fees Income", "0"),
    ("A/R Adjustment Decrease", "Fees Income", "0"),
    ("Finance Charges", "Finance Charge Income", "0"),
]
_CUSTOMERS = [
    ("Amy's Bird Sanctuary", "amy@birdsanctuary.example"),
    ("Côté & Fils Ltée", "comptes@cote-fils.example"),
    ("O'Brien Consulting", "billing@obrien.example"),
    ("Jeff's Jalopies", "jeff@jalopies.example"),
    ("Zoë Lindqvist Design", "zoe@lindqvist.example"),
    ("Müller GmbH", None),
    ("Red Rock Diner", "accounts@redrock.example"),
    ("Paulsen Medical Supplies", "ap@paulsen.example"),
]


def _insert(company: Company, entity: str, record: dict[str, Any]) -> None:
    # Singletons cannot be created through the API; the seed places them directly.
    now = company.timestamp()
    ident = str(company.next_id)
    company.next_id += 1
    company.table(entity)[ident] = {
        "Id": ident,
        "SyncToken": "0",
        "domain": "QBO",
        "sparse": False,
        **record,
        "MetaData": {"CreateTime": now, "LastUpdatedTime": now},
    }


def _settings(company: Company, name: str, currency: str) -> None:
    _insert(
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
    _insert(
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


def _ca_taxes(company: Company) -> None:
    rates = {"GST": "5", "HST ON": "13", "PST BC": "7", "Exempt": "0"}
    rate_ids = {}
    for name, value in rates.items():
        _insert(
            company,
            "TaxRate",
            {"Name": name, "RateValue": Decimal(value), "Active": True, "DisplayType": "ReadOnly"},
        )
        rate_ids[name] = str(company.next_id - 1)
    for name in rates:
        _insert(
            company,
            "TaxCode",
            {
                "Name": name,
                "Description": f"{name} {rates[name]}%",
                "Active": True,
                "Taxable": rates[name] != "0",
                "TaxGroup": False,
                "Hidden": False,
                "SalesTaxRateList": {
                    "TaxRateDetail": [
                        {
                            "TaxRateRef": {"value": rate_ids[name], "name": name},
                            "TaxTypeApplicable": "TaxOnAmount",
                            "TaxOrder": 0,
                        }
                    ]
                },
            },
        )


def _tax_code(company: Company, taxable: bool) -> dict[str, str]:
    if company.us:
        return {"value": "TAX" if taxable else "NON"}
    tax_code = company.find_by("TaxCode", "Name", "HST ON" if taxable else "Exempt")
    assert tax_code is not None
    return {"value": tax_code["Id"]}


def _ref(company: Company, entity: str, field: str, name: str) -> dict[str, str]:
    record = company.find_by(entity, field, name)
    assert record is not None, name
    return {"value": record["Id"], "name": name}


def _line(company: Company, item: str, amount: str, taxable: bool = True) -> dict[str, Any]:
    return {
        "Amount": Decimal(amount),
        "DetailType": "SalesItemLineDetail",
        "Description": item,
        "SalesItemLineDetail": {
            "ItemRef": _ref(company, "Item", "Name", item),
            "Qty": 1,
            "UnitPrice": Decimal(amount),
            "TaxCodeRef": _tax_code(company, taxable),
        },
    }


def _transactions(company: Company) -> None:
    customer = [_ref(company, "Customer", "DisplayName", c[0]) for c in _CUSTOMERS]
    invoices = []
    for n, (who, item, amount) in enumerate(
        [
            (0, "Bookkeeping", "360.00"),
            (1, "Tax Preparation", "750.00"),
            (2, "Consulting", "540.00"),
            (3, "Bookkeeping", "240.00"),
            (6, "Tax Preparation", "500.00"),
        ]
    ):
        invoices.append(
            company.create(
                "Invoice",
                {
                    "CustomerRef": customer[who],
                    "DocNumber": str(1001 + n),
                    "TxnDate": f"2026-10-{10 + n:02d}",
                    "DueDate": f"2026-11-{10 + n:02d}",
                    "Line": [_line(company, item, amount)],
                    "BillEmail": {"Address": _CUSTOMERS[who][1]} if _CUSTOMERS[who][1] else None,
                    "AllowOnlineCreditCardPayment": True,
                    "AllowOnlineACHPayment": True,
                }
                | ({"GlobalTaxCalculation": "TaxExcluded"} if not company.us else {}),
            )
        )
    for invoice, paid in ((invoices[0], None), (invoices[3], Decimal("100.00"))):
        value = paid or invoice["Balance"]
        company.create(
            "Payment",
            {
                "CustomerRef": invoice["CustomerRef"],
                "TotalAmt": value,
                "TxnDate": "2026-11-01",
                "PaymentMethodRef": _ref(company, "PaymentMethod", "Name", "Check"),
                "PaymentRefNum": f"CHK{invoice['DocNumber']}",
                "Line": [
                    {"Amount": value, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
                ],
            },
        )
    _unsupported(company, customer)


def _unsupported(company: Company, customer: list[dict[str, str]]) -> None:
    """Transactions TPS does not recognise, for the exclusion rules to find."""
    company.create(
        "CreditMemo",
        {
            "CustomerRef": customer[2],
            "TxnDate": "2026-11-03",
            "Line": [_line(company, "Consulting", "40.00", taxable=False)],
        }
        | ({"GlobalTaxCalculation": "TaxExcluded"} if not company.us else {}),
    )
    company.create(
        "JournalEntry",
        {
            "TxnDate": "2026-10-31",
            "Line": [
                {
                    "Amount": Decimal("150.00"),
                    "DetailType": "JournalEntryLineDetail",
                    "Description": "Year-end accrual",
                    "JournalEntryLineDetail": {
                        "PostingType": "Debit",
                        "AccountRef": _ref(company, "Account", "Name", "Office Expenses"),
                    },
                },
                {
                    "Amount": Decimal("150.00"),
                    "DetailType": "JournalEntryLineDetail",
                    "JournalEntryLineDetail": {
                        "PostingType": "Credit",
                        "AccountRef": _ref(company, "Account", "Name", "Opening Balance Equity"),
                    },
                },
            ],
        },
    )
    company.create(
        "Deposit",
        {
            "DepositToAccountRef": _ref(company, "Account", "Name", "Chequing"),
            "TxnDate": "2026-11-02",
            "Line": [
                {
                    "Amount": Decimal("75.00"),
                    "DetailType": "DepositLineDetail",
                    "DepositLineDetail": {
                        "AccountRef": _ref(company, "Account", "Name", "Fees Income")
                    },
                }
            ],
        },
    )
    company.create(
        "Purchase",
        {
            "PaymentType": "Check",
            "DocNumber": "2045",
            "TxnDate": "2026-11-04",
            "AccountRef": _ref(company, "Account", "Name", "Chequing"),
            "Line": [
                {
                    "Amount": Decimal("89.50"),
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": {
                        "AccountRef": _ref(company, "Account", "Name", "Office Expenses")
                    },
                }
            ],
        },
    )


def seeded_company(seed: str, realm_id: str | None = None) -> Company:
    if seed not in SEEDS:
        raise ValueError(f"unknown seed {seed!r}; choose one of {', '.join(SEEDS)}")
    country = "CA" if seed == "sandbox-ca" else "US"
    company = Company(realm_id or REALMS[seed], country)
    _settings(
        company,
        {
            "sandbox-us": "Sandbox Company US 1",
            "sandbox-ca": "Sandbox Company CA 1",
            "empty": "New Company",
            "starter": "Harbor & Pine CPAs (QuickBooks)",
        }[seed],
        "USD" if company.us else "CAD",
    )
    accounts = _ACCOUNTS + (_CA_ACCOUNTS if not company.us else [])
    for name, kind, subtype in accounts:
        company.create("Account", {"Name": name, "AccountType": kind, "AccountSubType": subtype})
    if seed == "empty":
        return company
    _lists(company)
    if seed == "starter":  # a new company set up for TPS: lists, no customers, no A/R
        return company
    _people_and_transactions(company)
    return company


def _lists(company: Company) -> None:
    if not company.us:
        _ca_taxes(company)
    for name, days in (("Due on receipt", 0), ("Net 15", 15), ("Net 30", 30)):
        company.create("Term", {"Name": name, "Type": "STANDARD", "DueDays": days})
    for name in ("Cash", "Check", "Visa", "MasterCard", "EFT"):
        company.create("PaymentMethod", {"Name": name})
    for name, account, price in _ITEMS:
        company.create(
            "Item",
            {
                "Name": name,
                "Type": "Service",
                "UnitPrice": Decimal(price),
                "IncomeAccountRef": _ref(company, "Account", "Name", account),
            },
        )


def _people_and_transactions(company: Company) -> None:
    for name, email in _CUSTOMERS:
        company.create(
            "Customer",
            {"DisplayName": name, "CompanyName": name}
            | ({"PrimaryEmailAddr": {"Address": email}} if email else {}),
        )
    _transactions(company)
