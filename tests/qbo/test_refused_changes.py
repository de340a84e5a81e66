"""What QBO refuses to change once other transactions depend on it, over HTTP as a client
meets it: a paid invoice is not voided (6000), a deposited payment or receipt is not
re-valued, voided or deleted (6540) while what QBO still allows (a memo) goes through."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from tests.qbo.conftest import Api, make_options, token_grant
from tpsqbo_engine.emulators.qbo.ledger import Ledger
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer


def _item(api: Api) -> dict[str, Any]:
    items = api.query("select * from Item where Type = 'Service'").json()["QueryResponse"]
    item: dict[str, Any] = items["Item"][0]
    return item


def _invoice(api: Api, customer: dict[str, Any], value: int) -> dict[str, Any]:
    line = {
        "Amount": value,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": _item(api)["Id"]}, "Qty": 1},
    }
    return api.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [line]})


def _payment(api: Api, customer: dict[str, Any], value: int, *paid: dict[str, Any]) -> Any:
    applied = [
        {"Amount": value, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
        for invoice in paid
    ]
    return api.create(
        "Payment", {"CustomerRef": {"value": customer["Id"]}, "TotalAmt": value, "Line": applied}
    )


def _read(api: Api, entity: str, ident: str) -> dict[str, Any]:
    response = api.get(f"{entity.lower()}/{ident}")
    assert response.status_code == 200, response.text
    record: dict[str, Any] = response.json()[entity]
    return record


def _error(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["Fault"]["Error"][0]
    return error


def _undeposited(server: QboEmulatorServer) -> Decimal:
    account = server.company.find_by("Account", "AccountSubType", "UndepositedFunds")
    assert account is not None
    postings = Ledger(server.company).postings()
    return sum((p.amount for p in postings if p.account == account["Id"]), Decimal(0))


def _deposit(api: Api, kind: str, *taken: dict[str, Any]) -> dict[str, Any]:
    banks = api.query("select * from Account where AccountType = 'Bank'").json()
    bank = banks["QueryResponse"]["Account"][0]
    return api.create(
        "Deposit",
        {
            "DepositToAccountRef": {"value": bank["Id"]},
            "Line": [
                {"Amount": t["TotalAmt"], "LinkedTxn": [{"TxnId": t["Id"], "TxnType": kind}]}
                for t in taken
            ],
        },
    )


def test_an_invoice_a_payment_settles_cannot_be_voided(api: Api) -> None:
    customer = api.create("Customer", {"DisplayName": "Void Test Co"})
    invoice = _invoice(api, customer, 100)
    payment = _payment(api, customer, 40, invoice)
    paid = _read(api, "Invoice", invoice["Id"])

    refused = api.post(
        "invoice", {"Id": paid["Id"], "SyncToken": paid["SyncToken"]}, operation="void"
    )

    error = _error(refused)
    assert error["code"] == "6000" and "Unlink them before voiding it" in error["Detail"]
    after = _read(api, "Invoice", invoice["Id"])
    assert (after["TotalAmt"], after["Balance"]) == (100, 60)
    assert after["SyncToken"] == paid["SyncToken"]
    assert _read(api, "Customer", customer["Id"])["Balance"] == 60
    # The payment is as it was: a memo still goes through.
    current = _read(api, "Payment", payment["Id"])
    memo = {"Id": current["Id"], "SyncToken": current["SyncToken"], "sparse": True}
    assert api.post("payment", {**memo, "PrivateNote": "memo"}).status_code == 200

    # Once the payment is gone the invoice voids.
    current = _read(api, "Payment", payment["Id"])
    body = {"Id": current["Id"], "SyncToken": current["SyncToken"]}
    assert api.post("payment", body, operation="delete").status_code == 200
    unpaid = _read(api, "Invoice", invoice["Id"])
    body = {"Id": unpaid["Id"], "SyncToken": unpaid["SyncToken"]}
    voided = api.post("invoice", body, operation="void")
    assert voided.status_code == 200 and voided.json()["Invoice"]["TotalAmt"] == 0


def test_a_deposited_payment_cannot_be_changed(api: Api, qbo_server: QboEmulatorServer) -> None:
    customer = api.create("Customer", {"DisplayName": "Deposit Co"})
    payments = [_payment(api, customer, 40) for _ in range(3)]
    deposit = _deposit(api, "Payment", *payments)
    waiting = _undeposited(qbo_server)

    def current(n: int) -> dict[str, Any]:
        record = _read(api, "Payment", payments[n]["Id"])
        return {"Id": record["Id"], "SyncToken": record["SyncToken"], "sparse": True}

    tries = {
        "voiding it": api.post("payment", current(0), operation="update", include="void"),
        "changing its TotalAmt": api.post("payment", {**current(1), "TotalAmt": 25}),
        "deleting it": api.post("payment", current(2), operation="delete"),
    }
    for doing, response in tries.items():
        error = _error(response)
        assert (error["code"], error["Message"]) == (
            "6540",
            "Deposited Transaction cannot be changed",
        )
        assert f"is in Deposit {deposit['Id']}" in error["Detail"] and doing in error["Detail"]

    assert [_read(api, "Payment", p["Id"])["TotalAmt"] for p in payments] == [40, 40, 40]
    assert _undeposited(qbo_server) == waiting
    # A memo, a reference number and a date are no part of what was deposited.
    noted = {
        **current(1),
        "PrivateNote": "banked",
        "PaymentRefNum": "chq 7",
        "TxnDate": "2026-01-05",
    }
    assert api.post("payment", noted).status_code == 200

    # Out of the deposit, the payment changes again.
    held = _read(api, "Deposit", deposit["Id"])
    body = {"Id": held["Id"], "SyncToken": held["SyncToken"]}
    assert api.post("deposit", body, operation="delete").status_code == 200
    assert api.post("payment", current(0), operation="update", include="void").status_code == 200


def test_a_deposited_payment_keeps_what_it_pays(api: Api) -> None:
    customer = api.create("Customer", {"DisplayName": "Applied Co"})
    first, second = _invoice(api, customer, 50), _invoice(api, customer, 50)
    payment = _payment(api, customer, 50, first)
    _deposit(api, "Payment", payment)
    record = _read(api, "Payment", payment["Id"])
    moved = [{"Amount": 50, "LinkedTxn": [{"TxnId": second["Id"], "TxnType": "Invoice"}]}]

    error = _error(api.post("payment", {**record, "sparse": True, "Line": moved}))

    assert error["code"] == "6540" and "changing its Line" in error["Detail"]
    assert _read(api, "Invoice", first["Id"])["Balance"] == 0
    # Written back whole with a new memo (a full update), it is the same payment: accepted.
    whole = api.post("payment", {**record, "PrivateNote": "read back whole"})
    assert whole.status_code == 200, whole.text


def test_a_deposited_sales_receipt_cannot_be_changed(api: Api) -> None:
    customer = api.create("Customer", {"DisplayName": "Receipt Co"})
    line = {
        "Amount": 30,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": _item(api)["Id"]}, "Qty": 1},
    }
    receipt = api.create("SalesReceipt", {"CustomerRef": {"value": customer["Id"]}, "Line": [line]})
    _deposit(api, "SalesReceipt", receipt)

    def current() -> dict[str, Any]:
        record = _read(api, "SalesReceipt", receipt["Id"])
        return {"Id": record["Id"], "SyncToken": record["SyncToken"], "sparse": True}

    bigger = {**line, "Amount": 45}
    for response in (
        api.post("salesreceipt", {**current(), "Line": [bigger]}),
        api.post("salesreceipt", current(), operation="update", include="void"),
        api.post("salesreceipt", current(), operation="delete"),
    ):
        assert _error(response)["code"] == "6540"
    assert _read(api, "SalesReceipt", receipt["Id"])["TotalAmt"] == 30
    assert api.post("salesreceipt", {**current(), "PrivateNote": "banked"}).status_code == 200


def test_a_deposit_takes_only_what_waits_in_undeposited_funds(api: Api) -> None:
    customer = api.create("Customer", {"DisplayName": "Banked Co"})
    banks = api.query("select * from Account where AccountType = 'Bank'").json()
    bank = {"value": banks["QueryResponse"]["Account"][0]["Id"]}
    banked = api.create(
        "Payment",
        {"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 20, "DepositToAccountRef": bank},
    )
    line = {"Amount": 20, "LinkedTxn": [{"TxnId": banked["Id"], "TxnType": "Payment"}]}
    before = api.query("select count(*) from Deposit").json()["QueryResponse"]["totalCount"]

    error = _error(api.post("deposit", {"DepositToAccountRef": bank, "Line": [line]}))

    assert error["code"] == "6000" and "not in Undeposited Funds" in error["Detail"]
    after = api.query("select count(*) from Deposit").json()["QueryResponse"]["totalCount"]
    assert after == before


def test_a_restored_state_still_refreshes_its_tokens(tmp_path: Path) -> None:
    """A state file is read back with Decimal numbers; the saved grants' times are floats
    again, or every refresh after a restart would be a 500."""
    state = tmp_path / "company.json"
    with QboEmulatorServer(make_options(state=state)) as server:
        saved = server.oauth.issue_refresh_token()
    with QboEmulatorServer(make_options(state=state)) as server:
        grant = token_grant(server, saved)
        assert grant["access_token"] and grant["refresh_token"] == saved
        assert 0 < grant["x_refresh_token_expires_in"] <= 8_726_400
