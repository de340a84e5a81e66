"""The sandbox companies: a sample company's variety, from data files, the same every time."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tpsqbo_engine.emulators.qbo import reports
from tpsqbo_engine.emulators.qbo.seed import seeded_company


def _without_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k not in ("MetaData", "Time")}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


@pytest.mark.parametrize("seed", ["sandbox-us", "sandbox-ca"])
def test_a_sandbox_holds_what_intuits_sample_company_holds(seed: str) -> None:
    company = seeded_company(seed)
    counts = {entity: len(table) for entity, table in company.records.items()}
    for entity in [
        "Vendor",
        "Employee",
        "Estimate",
        "SalesReceipt",
        "Bill",
        "BillPayment",
        "Deposit",
        "JournalEntry",
        "RefundReceipt",
        "TaxAgency",
        "TaxRate",
        "TaxCode",
        "VendorCredit",
        "PurchaseOrder",
        "Transfer",
        "TimeActivity",
        "Attachable",
        "CustomerType",
        "Budget",
    ]:
        assert counts.get(entity, 0) >= 1, entity
    assert counts["Payment"] >= 5
    jobs = [c for c in company.table("Customer").values() if c.get("Job")]
    assert {j["FullyQualifiedName"] for j in jobs} >= {"Freeman Sporting Goods:55 Twin Lane"}
    items = company.table("Item").values()
    assert {i["Type"] for i in items} == {"Service", "NonInventory", "Inventory"}
    pump = company.find_by("Item", "Name", "Pump")
    assert pump is not None and pump["Sku"] == "INV-PUMP"
    assert pump["QtyOnHand"] == 33  # 25 at the start, 2 sold on invoice 1006, 10 on a bill
    kinds = {a["AccountType"] for a in company.table("Account").values()}
    assert {"Bank", "Credit Card", "Cost of Goods Sold", "Accounts Payable"} <= kinds
    closed = [e for e in company.table("Estimate").values() if e["TxnStatus"] == "Closed"]
    assert closed and closed[0]["LinkedTxn"][0]["TxnType"] == "Invoice"
    prefs = company.singleton("Preferences")
    assert prefs["SalesFormsPrefs"]["AllowEstimates"] is True
    assert prefs["AccountingInfoPrefs"]["ClassTrackingPerTxn"] is False


@pytest.mark.parametrize("seed", ["sandbox-us", "sandbox-ca"])
def test_a_sandbox_is_the_same_every_time(seed: str) -> None:
    first, second = seeded_company(seed), seeded_company(seed)
    assert _without_times(first.records) == _without_times(second.records)


@pytest.mark.parametrize("seed", ["sandbox-us", "sandbox-ca"])
def test_a_sandboxs_books_balance_and_its_ar_agrees_with_its_customers(seed: str) -> None:
    company = seeded_company(seed)
    aged = reports.run(company, "AgedReceivables", {"report_date": "2026-12-31"})
    total = Decimal(aged["Rows"]["Row"][-1]["Summary"]["ColData"][-1]["value"])
    balances = sum((c["Balance"] for c in company.table("Customer").values()), Decimal(0))
    assert total == balances > 0
    trial = reports.run(company, "TrialBalance", {"end_date": "2026-12-31"})
    debit, credit = (c["value"] for c in trial["Rows"]["Row"][-1]["Summary"]["ColData"][1:])
    assert debit == credit


def test_the_canadian_sandbox_has_gst_hst_and_pst_codes_and_charges_them() -> None:
    company = seeded_company("sandbox-ca")
    codes = {c["Name"]: c for c in company.table("TaxCode").values()}
    assert {"GST", "HST ON", "PST BC", "GST/PST BC", "Exempt"} <= set(codes)
    assert codes["GST/PST BC"]["TaxGroup"] is True
    invoice = next(i for i in company.table("Invoice").values() if i["DocNumber"] == "1006")
    assert invoice["TxnTaxDetail"]["TotalTax"] == Decimal("42.90")  # 13% HST on 330.00
    assert company.singleton("Preferences")["CurrencyPrefs"]["HomeCurrency"]["value"] == "CAD"
