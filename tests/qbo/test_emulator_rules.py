"""Data rules the emulator enforces as QBO does (domain/qbo-api.md §3-4)."""

from __future__ import annotations

import time

from tests.qbo.conftest import Api
from tests.qbo.test_emulator_routes import _invoice


def _code(response) -> str:  # type: ignore[no-untyped-def]
    return response.json()["Fault"]["Error"][0]["code"]


def test_sync_token_increments_and_a_stale_one_is_refused(api: Api) -> None:
    created = api.create("Customer", {"DisplayName": "Token Co"})
    first = api.post(
        "customer", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Notes": "a"}
    )
    assert first.json()["Customer"]["SyncToken"] == "1"
    stale = api.post(
        "customer", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Notes": "b"}
    )
    assert stale.status_code == 400 and _code(stale) == "5010"
    assert stale.json()["Fault"]["Error"][0]["Message"] == "Stale Object Error"


def test_last_updated_time_moves_on_update(api: Api) -> None:
    created = api.create("Customer", {"DisplayName": "Clock Co"})
    time.sleep(1.05)
    updated = api.post(
        "customer", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Notes": "x"}
    ).json()["Customer"]
    assert updated["MetaData"]["CreateTime"] == created["MetaData"]["CreateTime"]
    assert updated["MetaData"]["LastUpdatedTime"] > created["MetaData"]["LastUpdatedTime"]


def test_totals_and_balances_are_computed_by_the_server(api: Api) -> None:
    invoice = _invoice(api, amount=250, TotalAmt=1, Balance=1, TxnTaxDetail={"TotalTax": 20})
    assert invoice["TotalAmt"] == 270 and invoice["Balance"] == 270
    assert invoice["Line"][-1]["DetailType"] == "SubTotalLineDetail"


def test_line_amount_must_equal_quantity_times_price(api: Api) -> None:
    response = api.post(
        "invoice",
        {
            "CustomerRef": {"value": _invoice(api)["CustomerRef"]["value"]},
            "Line": [
                {
                    "Amount": 99,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": _item(api)},
                        "Qty": 2,
                        "UnitPrice": 50,
                    },
                }
            ],
        },
    )
    assert _code(response) == "6070"


def _item(api: Api) -> str:
    return api.query("select * from Item where Name = 'Consulting'").json()["QueryResponse"][
        "Item"
    ][0]["Id"]


def test_payments_lower_balances_link_back_and_leave_unapplied_amounts(api: Api) -> None:
    invoice = _invoice(api, amount=400)
    payment = api.create(
        "Payment",
        {
            "CustomerRef": invoice["CustomerRef"],
            "TotalAmt": 500,
            "Line": [
                {"Amount": 150, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
            ],
        },
    )
    assert payment["UnappliedAmt"] == 350
    read = api.get(f"invoice/{invoice['Id']}").json()["Invoice"]
    assert read["Balance"] == 250
    assert read["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "Payment"}]


def test_a_payment_cannot_apply_more_than_the_open_balance(api: Api) -> None:
    invoice = _invoice(api, amount=100)
    response = api.post(
        "payment",
        {
            "CustomerRef": invoice["CustomerRef"],
            "TotalAmt": 150,
            "Line": [
                {"Amount": 150, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
            ],
        },
    )
    assert _code(response) == "6000"


def test_name_lists_deactivate_instead_of_delete(api: Api) -> None:
    created = api.create("Customer", {"DisplayName": "Gone Soon"})
    refused = api.post("customer", {"Id": created["Id"], "SyncToken": "0"}, operation="delete")
    assert refused.status_code == 400
    api.post("customer", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    hidden = api.query("select * from Customer where DisplayName = 'Gone Soon'").json()
    assert hidden["QueryResponse"] == {}
    shown = api.query(
        "select * from Customer where DisplayName = 'Gone Soon' and Active IN (true, false)"
    ).json()
    assert shown["QueryResponse"]["Customer"][0]["Active"] is False
    assert api.get(f"customer/{created['Id']}").json()["Customer"]["Active"] is False


def test_a_customer_with_a_balance_cannot_be_deactivated(api: Api) -> None:
    invoice = _invoice(api)
    customer = api.get(f"customer/{invoice['CustomerRef']['value']}").json()["Customer"]
    response = api.post(
        "customer",
        {"Id": customer["Id"], "SyncToken": customer["SyncToken"], "sparse": True, "Active": False},
    )
    assert "Has Balance" in response.json()["Fault"]["Error"][0]["Detail"]


def test_display_names_are_unique_across_customers_vendors_and_employees(api: Api) -> None:
    api.create("Vendor", {"DisplayName": "Shared Name"})
    response = api.post("customer", {"DisplayName": "shared name"})
    assert _code(response) == "6240"


def test_colons_are_refused_in_names(api: Api) -> None:
    response = api.post("customer", {"DisplayName": "Parent: Child"})
    assert response.status_code == 400 and _code(response) == "6000"


def test_references_to_inactive_records_are_refused(api: Api) -> None:
    created = api.create("Customer", {"DisplayName": "Sleeper"})
    api.post("customer", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    response = api.post(
        "invoice",
        {
            "CustomerRef": {"value": created["Id"]},
            "Line": [
                {
                    "Amount": 10,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": _item(api)}},
                }
            ],
        },
    )
    assert _code(response) == "2500"


def test_duplicate_doc_numbers_are_refused_unless_allowed(api: Api) -> None:
    first = _invoice(api, DocNumber="SD-1")
    body = {"CustomerRef": first["CustomerRef"], "DocNumber": "SD-1", "Line": first["Line"][:1]}
    assert _code(api.post("invoice", body)) == "6140"
    assert api.post("invoice", body, include="allowduplicatedocnum").status_code == 200


def test_canadian_lines_need_a_tax_code(api: Api) -> None:
    customer = _invoice(api)["CustomerRef"]
    api.server.company.country = "CA"
    response = api.post(
        "invoice",
        {
            "CustomerRef": customer,
            "Line": [
                {
                    "Amount": 10,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": _item(api)}},
                }
            ],
        },
    )
    assert "GST/HST" in response.json()["Fault"]["Error"][0]["Detail"]
