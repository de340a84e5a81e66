"""The QBO emulator restarted from its saved state (`emulate qbo --state FILE`) gives the
customers the Balance it gave before: what a payment leaves unapplied stays a credit in
its customer's balance, and the balance agrees with the emulator's own A/R (the open items
its CustomerBalance report sums)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from tpsqbo_engine.emulators.qbo import receivables
from tpsqbo_engine.emulators.qbo.company import Company
from tpsqbo_engine.emulators.qbo.oauth import OAuthServer
from tpsqbo_engine.emulators.qbo.seed import seeded_company
from tpsqbo_engine.emulators.qbo.server import _load, _save


def _invoice(company: Company, customer: str, amount: str) -> dict[str, Any]:
    item = next(iter(company.table("Item").values()))
    line = {
        "Amount": Decimal(amount),
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
    }
    return company.create("Invoice", {"CustomerRef": {"value": customer}, "Line": [line]})


def _restarted(company: Company, folder: Path) -> Company:
    state = folder / "qbo.json"
    _save(state, company, OAuthServer("id", "secret", company.realm_id))
    again, _ = _load(state)
    return again


def _receivable(company: Company, customer: str) -> Decimal:
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    items = receivables.open_items(company, tomorrow)
    return sum((i.open for i in items if i.customer_id == customer), Decimal(0))


def test_an_unapplied_payment_stays_in_its_customers_balance_after_a_restart(
    tmp_path: Path,
) -> None:
    company = seeded_company("starter")
    oak = company.create("Customer", {"DisplayName": "Oak"})["Id"]
    invoice = _invoice(company, oak, "100.00")
    link = [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]
    payment = company.create(
        "Payment",
        {
            "CustomerRef": {"value": oak},
            "TotalAmt": Decimal("150.00"),
            "Line": [{"Amount": Decimal("100.00"), "LinkedTxn": link}],
        },
    )
    assert payment["UnappliedAmt"] == Decimal("50.00")
    assert company.get("Customer", oak)["Balance"] == Decimal("-50.00")

    again = _restarted(company, tmp_path)
    assert again.get("Customer", oak)["Balance"] == Decimal("-50.00")
    assert again.get("Customer", oak)["BalanceWithJobs"] == Decimal("-50.00")
    assert _receivable(again, oak) == Decimal("-50.00")

    for books in (company, again):  # the same next invoice, restarted or not
        _invoice(books, oak, "10.00")
        assert books.get("Customer", oak)["Balance"] == Decimal("-40.00")
        assert _receivable(books, oak) == Decimal("-40.00")
