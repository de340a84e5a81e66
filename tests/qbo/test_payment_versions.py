"""A payment moves the version of what it pays: QBO bumps an invoice's (and a credit memo's)
SyncToken and LastUpdatedTime when a payment applied to it is created, changed, voided or
deleted, so a client holding the old SyncToken gets 5010."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tpsqbo_engine.emulators.qbo.company import Company
from tpsqbo_engine.emulators.qbo.faults import Fault
from tpsqbo_engine.emulators.qbo.seed import seeded_company

Record = dict[str, Any]


def _lines(company: Company, value: str) -> list[Record]:
    item = company.find_by("Item", "Name", "Bookkeeping")
    assert item is not None
    return [
        {
            "Amount": Decimal(value),
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
        }
    ]


class Clock:
    """The company's clock, moved by hand: times are to the second."""

    def __init__(self, company: Company, monkeypatch: pytest.MonkeyPatch) -> None:
        self.minute = 0
        monkeypatch.setattr(company, "timestamp", self.now)

    def now(self) -> str:
        return f"2030-01-01T10:{self.minute:02d}:00-08:00"

    def tick(self) -> str:
        self.minute += 1
        return self.now()


def _version(company: Company, entity: str, ident: str) -> tuple[str, str]:
    record = company.get(entity, ident)
    return record["SyncToken"], record["MetaData"]["LastUpdatedTime"]


def test_payments_move_the_version_of_what_they_pay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    company = seeded_company("starter")
    clock = Clock(company, monkeypatch)
    customer = company.create("Customer", {"DisplayName": "Amy"})
    ref = {"value": customer["Id"]}
    invoice = company.create("Invoice", {"CustomerRef": ref, "Line": _lines(company, "100")})
    other = company.create("Invoice", {"CustomerRef": ref, "Line": _lines(company, "50")})
    memo = company.create("CreditMemo", {"CustomerRef": ref, "Line": _lines(company, "40")})
    assert _version(company, "Invoice", invoice["Id"]) == ("0", clock.now())

    def applying(value: str, credit: str = "0") -> list[Record]:
        lines: list[Record] = [
            {"Amount": value, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
        ]
        if credit != "0":
            lines.append(
                {"Amount": credit, "LinkedTxn": [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}]}
            )
        return lines

    # Created: the invoice and the credit memo it uses move on; the other invoice does not.
    made = clock.tick()
    payment = company.create(
        "Payment", {"CustomerRef": ref, "TotalAmt": 20, "Line": applying("60", "40")}
    )
    assert _version(company, "Invoice", invoice["Id"]) == ("1", made)
    assert _version(company, "CreditMemo", memo["Id"]) == ("1", made)
    assert _version(company, "Invoice", other["Id"]) == ("0", "2030-01-01T10:00:00-08:00")
    assert company.get("Invoice", invoice["Id"])["Balance"] == Decimal("40.00")
    with pytest.raises(Fault) as stale:  # a client holding the old token is refused
        company.update(
            "Invoice",
            {"Id": invoice["Id"], "SyncToken": "0", "PrivateNote": "x"},
            sparse=True,
        )
    assert stale.value.code == "5010"

    # Updated so the amounts change: a new version; updated with nothing applied changed: not.
    changed = clock.tick()
    payment = company.update(
        "Payment",
        {**payment, "TotalAmt": 30, "Line": applying("70", "40")},
        sparse=False,
    )
    assert _version(company, "Invoice", invoice["Id"]) == ("2", changed)
    assert _version(company, "CreditMemo", memo["Id"]) == ("1", made)
    clock.tick()
    payment = company.update(
        "Payment",
        {"Id": payment["Id"], "SyncToken": payment["SyncToken"], "PrivateNote": "n"},
        sparse=True,
    )
    assert _version(company, "Invoice", invoice["Id"]) == ("2", changed)

    # Voided: the balance comes back, and the version moves again.
    voided = clock.tick()
    payment = company.void("Payment", {"Id": payment["Id"], "SyncToken": payment["SyncToken"]})
    assert _version(company, "Invoice", invoice["Id"]) == ("3", voided)
    assert _version(company, "CreditMemo", memo["Id"]) == ("2", voided)
    assert company.get("Invoice", invoice["Id"])["Balance"] == Decimal("100.00")

    # Deleted: a second payment, then its delete.
    second = company.create("Payment", {"CustomerRef": ref, "TotalAmt": 10, "Line": applying("10")})
    assert company.get("Invoice", invoice["Id"])["SyncToken"] == "4"
    deleted = clock.tick()
    company.delete("Payment", {"Id": second["Id"], "SyncToken": second["SyncToken"]})
    assert _version(company, "Invoice", invoice["Id"]) == ("5", deleted)
    assert company.get("Invoice", invoice["Id"])["LinkedTxn"] == []  # the void one applies none
