"""The emulator's routes behave like QBO's (domain/qbo-api.md §1)."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from tests.qbo.conftest import Api


def _invoice(
    api: Api, customer: str = "Red Rock Diner", amount: int = 200, **extra: object
) -> dict:
    who = api.query(f"select * from Customer where DisplayName = '{customer}'").json()
    item = api.query("select * from Item where Name = 'Consulting'").json()
    body = {
        "CustomerRef": {"value": who["QueryResponse"]["Customer"][0]["Id"]},
        "Line": [
            {
                "Amount": amount,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {
                    "ItemRef": {"value": item["QueryResponse"]["Item"][0]["Id"]},
                    "Qty": 1,
                    "UnitPrice": amount,
                },
            }
        ],
        **extra,
    }
    return api.create("Invoice", body)


def test_create_assigns_string_ids_sync_token_and_metadata(api: Api) -> None:
    customer = api.create("Customer", {"DisplayName": "Fresh Start Ltd"})
    assert isinstance(customer["Id"], str) and customer["SyncToken"] == "0"
    assert customer["MetaData"]["CreateTime"] == customer["MetaData"]["LastUpdatedTime"]
    assert customer["MetaData"]["CreateTime"].endswith("-08:00")
    assert customer["domain"] == "QBO"


def test_read_by_id(api: Api) -> None:
    created = api.create("Customer", {"DisplayName": "Readable Inc"})
    read = api.get(f"customer/{created['Id']}").json()["Customer"]
    assert read["DisplayName"] == "Readable Inc"


def test_full_update_nulls_omitted_writable_fields(api: Api) -> None:
    created = api.create(
        "Customer",
        {
            "DisplayName": "Full Co",
            "Notes": "keep?",
            "PrimaryEmailAddr": {"Address": "a@full.example"},
        },
    )
    body = {"Id": created["Id"], "SyncToken": created["SyncToken"], "DisplayName": "Full Co"}
    updated = api.post("customer", body).json()["Customer"]
    assert "Notes" not in updated and "PrimaryEmailAddr" not in updated
    assert updated["SyncToken"] == "1"


def test_sparse_update_changes_only_what_is_sent(api: Api) -> None:
    created = api.create("Customer", {"DisplayName": "Sparse Co", "Notes": "kept"})
    body = {
        "Id": created["Id"],
        "SyncToken": "0",
        "sparse": True,
        "PrimaryEmailAddr": {"Address": "new@sparse.example"},
    }
    updated = api.post("customer", body).json()["Customer"]
    assert updated["Notes"] == "kept"
    assert updated["PrimaryEmailAddr"]["Address"] == "new@sparse.example"


def test_delete_a_transaction(api: Api) -> None:
    invoice = _invoice(api)
    deleted = api.post(
        "invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]}, operation="delete"
    ).json()
    assert deleted["Invoice"] == {"status": "Deleted", "domain": "QBO", "Id": invoice["Id"]}
    assert api.get(f"invoice/{invoice['Id']}").json()["Fault"]["Error"][0]["code"] == "610"


def test_void_invoice_zeroes_amounts_and_marks_the_note(api: Api) -> None:
    invoice = _invoice(api, PrivateNote="sync:x")
    voided = api.post(
        "invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]}, operation="void"
    ).json()["Invoice"]
    assert voided["TotalAmt"] == 0 and voided["Balance"] == 0
    assert voided["PrivateNote"].startswith("Voided")
    assert voided["SyncToken"] == "1"


def test_void_payment_gives_the_invoice_its_balance_back(api: Api) -> None:
    invoice = _invoice(api, amount=300)
    payment = api.create(
        "Payment",
        {
            "CustomerRef": invoice["CustomerRef"],
            "TotalAmt": 300,
            "Line": [
                {"Amount": 300, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
            ],
        },
    )
    assert api.get(f"invoice/{invoice['Id']}").json()["Invoice"]["Balance"] == 0
    voided = api.post(
        "payment",
        {"Id": payment["Id"], "SyncToken": "0", "sparse": True},
        operation="update",
        include="void",
    ).json()["Payment"]
    assert voided["TotalAmt"] == 0 and voided["TxnStatus"] == "Voided"
    assert api.get(f"invoice/{invoice['Id']}").json()["Invoice"]["Balance"] == 300


def test_query_by_get_and_by_post(api: Api) -> None:
    statement = "select * from Item where Name = 'Bookkeeping'"
    by_get = api.query(statement).json()["QueryResponse"]["Item"]
    by_post = requests.post(
        f"{api.base}/query",
        data=statement,
        timeout=10,
        headers=api.headers(**{"Content-Type": "application/text"}),
    )
    assert by_get[0]["Id"] == by_post.json()["QueryResponse"]["Item"][0]["Id"]


def test_companyinfo_and_preferences(api: Api) -> None:
    info = api.get(f"companyinfo/{api.server.company.realm_id}").json()["CompanyInfo"]
    assert info["Country"] == "US"
    prefs = api.get("preferences").json()["Preferences"]
    assert prefs["SalesFormsPrefs"]["ETransactionPaymentEnabled"] is True


def test_minorversion_below_75_is_served_as_75(api: Api) -> None:
    old = api.get("preferences", minorversion="4").json()["Preferences"]
    current = api.get("preferences", minorversion="75").json()["Preferences"]
    assert old == current


class TestInvoiceLink:
    def test_link_needs_the_include_parameter(self, api: Api) -> None:
        invoice = _invoice(
            api, BillEmail={"Address": "ap@redrock.example"}, AllowOnlineCreditCardPayment=True
        )
        assert "InvoiceLink" not in api.get(f"invoice/{invoice['Id']}").json()["Invoice"]
        linked = api.get(f"invoice/{invoice['Id']}", include="invoiceLink").json()["Invoice"]
        assert linked["InvoiceLink"].startswith(api.server.base_url + "/connect/pay/")

    @pytest.mark.parametrize("missing", ["email", "online", "payments"])
    def test_no_link_without_its_prerequisites(self, api: Api, missing: str) -> None:
        extra: dict[str, object] = {"AllowOnlineACHPayment": missing != "online"}
        if missing != "email":
            extra["BillEmail"] = {"Address": "ap@redrock.example"}
        if missing == "payments":
            api.server.company.singleton("Preferences")["SalesFormsPrefs"][
                "ETransactionPaymentEnabled"
            ] = False
        invoice = _invoice(api, **extra)
        read = api.get(f"invoice/{invoice['Id']}", include="invoiceLink").json()["Invoice"]
        assert "InvoiceLink" not in read

    def test_paying_through_the_link_records_an_online_payment(self, api: Api) -> None:
        invoice = _invoice(
            api,
            amount=120,
            BillEmail={"Address": "ap@redrock.example"},
            AllowOnlineCreditCardPayment=True,
        )
        link = api.get(f"invoice/{invoice['Id']}", include="invoiceLink").json()["Invoice"][
            "InvoiceLink"
        ]
        assert "Pay now" in requests.get(link, timeout=10).text
        paid = requests.post(link, params={"format": "json"}, timeout=10).json()["Payment"]
        assert paid["TxnSource"] == "QBPayments" and Decimal(str(paid["TotalAmt"])) == 120
        undeposited = api.query("select * from Account where Name = 'Undeposited Funds'")
        account_id = undeposited.json()["QueryResponse"]["Account"][0]["Id"]
        assert paid["DepositToAccountRef"]["value"] == account_id
        assert api.get(f"invoice/{invoice['Id']}").json()["Invoice"]["Balance"] == 0
