"""The sandbox companies: a sample company's variety, from data files, the same every time."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.qbo.conftest import make_options
from tpsqbo_engine.emulators.qbo import catalog, properties, reports
from tpsqbo_engine.emulators.qbo.seed import seeded_company
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer


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


@pytest.mark.parametrize("seed", ["sandbox-us", "sandbox-ca"])
def test_every_seeded_record_could_be_written_back_whole(seed: str) -> None:
    company = seeded_company(seed)
    for entity, table in company.records.items():
        if not catalog.info(entity).allows("update"):
            continue
        for record in table.values():
            as_sent = json.loads(json.dumps(record, default=str))
            properties.check_write(entity, as_sent, create=False)  # raises a Fault if not


def test_a_saved_sandbox_comes_back_with_its_derived_state(tmp_path: Path) -> None:
    state = tmp_path / "company.json"
    with QboEmulatorServer(make_options(state=state)) as first:
        first.save()
        before = _balances(first.company)
    with QboEmulatorServer(make_options(state=state)) as again:
        company = again.company
        assert _balances(company) == before
        invoice = next(i for i in company.table("Invoice").values() if i["DocNumber"] == "1006")
        company.void("Invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]})
        parent = company.find_by("Customer", "DisplayName", "Freeman Sporting Goods")
        pump = company.find_by("Item", "Name", "Pump")
        assert parent is not None and pump is not None
        assert parent["BalanceWithJobs"] == before["Customer"][parent["Id"]][1] - Decimal("330")
        assert pump["QtyOnHand"] == 35  # the two pumps it sold are back


def _balances(company: Any) -> dict[str, dict[str, tuple[Decimal, ...]]]:
    return {
        "Customer": {
            c["Id"]: (Decimal(c["Balance"]), Decimal(c["BalanceWithJobs"]))
            for c in company.table("Customer").values()
        },
        "Vendor": {v["Id"]: (Decimal(v["Balance"]),) for v in company.table("Vendor").values()},
        "Item": {
            i["Id"]: (Decimal(i["QtyOnHand"]),)
            for i in company.table("Item").values()
            if "QtyOnHand" in i
        },
        "Bill": {b["Id"]: (Decimal(b["Balance"]),) for b in company.table("Bill").values()},
    }
