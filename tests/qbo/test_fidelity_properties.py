"""Writes are judged by the entity schemas, as QBO judges them (docs/emulator-fidelity.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.qbo.conftest import Api
from tpsqbo_engine import resources
from tpsqbo_engine.emulators.qbo import properties

SCHEMAS = sorted(p for p in (resources.schemas_dir() / "qbo").glob("*.json") if p.stem != "common")


def _fault(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["Fault"]["Error"][0]
    return error


def _invoice(api: Api, **extra: Any) -> dict[str, Any]:
    customer = api.server.company.find_by("Customer", "DisplayName", "Red Rock Diner")
    item = api.server.company.find_by("Item", "Name", "Bookkeeping")
    assert customer is not None and item is not None
    line = {
        "Amount": 100,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": 1, "UnitPrice": 100},
    }
    return {"CustomerRef": {"value": customer["Id"]}, "Line": [line], **extra}


def test_an_unknown_property_is_2010_naming_it(api: Api) -> None:
    error = _fault(api.post("customer", {"DisplayName": "New Client", "NoSuchField": 1}))
    assert error["code"] == "2010"
    assert error["Message"] == "Request has invalid or unsupported property"
    assert 'Unrecognized field "NoSuchField"' in error["Detail"]
    assert error["element"] == "NoSuchField"
    assert api.server.company.find_by("Customer", "DisplayName", "New Client") is None


def test_a_misspelt_nested_property_is_2010(api: Api) -> None:
    error = _fault(api.post("customer", {"DisplayName": "X", "PrimaryEmailAddr": {"Adress": "a"}}))
    assert error["code"] == "2010" and error["element"] == "PrimaryEmailAddr.Adress"


def test_a_string_for_a_quantity_is_2010(api: Api) -> None:
    body = _invoice(api)
    body["Line"][0]["SalesItemLineDetail"]["Qty"] = "two"
    error = _fault(api.post("invoice", body))
    assert error["code"] == "2010"
    assert "java.math.BigDecimal" in error["Detail"]
    assert error["element"] == "Line[0].SalesItemLineDetail.Qty"


def test_an_object_for_a_string_is_2010(api: Api) -> None:
    error = _fault(api.post("customer", {"DisplayName": {"first": "A"}}))
    assert error["code"] == "2010"
    assert "java.lang.String out of START_OBJECT token" in error["Detail"]


def test_numbers_spelt_as_text_are_read_as_numbers(api: Api) -> None:
    body = _invoice(api)
    body["Line"][0]["SalesItemLineDetail"]["Qty"] = "1"
    assert api.post("invoice", body).status_code == 200


def test_a_required_property_missing_on_create_is_2020(api: Api) -> None:
    body = _invoice(api)
    del body["Line"]
    error = _fault(api.post("invoice", body))
    assert error["code"] == "2020" and error["element"] == "Line"


def test_read_only_properties_in_a_request_are_ignored(api: Api) -> None:
    invoice = api.create("Invoice", _invoice(api, TotalAmt=999, Balance=5, InvoiceLink="x"))
    assert invoice["TotalAmt"] == 100 and invoice["Balance"] == 100
    assert "InvoiceLink" not in invoice


def test_a_record_read_back_can_be_written_back_whole(api: Api) -> None:
    invoice = api.create("Invoice", _invoice(api))
    again = api.post("invoice", {**invoice, "PrivateNote": "full update"})
    assert again.status_code == 200, again.text
    assert again.json()["Invoice"]["SyncToken"] == "1"


def test_batch_items_are_judged_the_same_way(api: Api) -> None:
    body = {
        "BatchItemRequest": [
            {"bId": "1", "operation": "create", "Customer": {"DisplayName": "B", "Oops": True}}
        ]
    }
    item = api.post("batch", body).json()["BatchItemResponse"][0]
    assert item["Fault"]["Error"][0]["code"] == "2010"


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.stem)
def test_every_entity_schema_carries_the_metadata(path: Path) -> None:
    schema = json.loads(path.read_text())
    meta = schema["x-qbo-entity"]
    assert meta["kind"] in ("name-list", "transaction", "singleton", "report-only")
    assert set(meta["operations"]) <= {"create", "read", "query", "update", "delete", "void"}
    if meta["kind"] != "report-only":
        assert schema["additionalProperties"] is False
    for name, prop in schema.get("properties", {}).items():
        flags = prop["x-qbo"]
        assert set(flags) <= {
            "filterable",
            "sortable",
            "operators",
            "requiredOnCreate",
            "extraField",
        }, name
        assert set(flags.get("operators", [])) <= {"=", "<", ">", "<=", ">=", "IN", "LIKE"}
        assert not flags.get("operators") or flags["filterable"], name


def test_the_checks_come_from_the_schema_files(tmp_path: Path) -> None:
    folder = tmp_path / "qbo"
    folder.mkdir()
    (folder / "common.json").write_text(
        (resources.schemas_dir() / "qbo" / "common.json").read_text()
    )
    (folder / "Widget.json").write_text(
        json.dumps(
            {
                "type": "object",
                "x-qbo-entity": {"kind": "name-list", "operations": ["create"]},
                "properties": {
                    "Name": {"type": "string", "x-qbo": {"filterable": True}},
                    "Size": {"type": "integer"},
                },
                "additionalProperties": False,
            }
        )
    )
    spec = properties.entity_spec("Widget", folder)
    assert spec is not None and spec.kind == "name-list"
    assert spec.root.children["Size"].kind == "integer"
    assert spec.path("name") is not None and spec.path("name").filterable  # type: ignore[union-attr]


def test_empty_strings_for_unset_values_are_accepted(api: Api) -> None:
    # python-quickbooks serializes every attribute it knows, unset numbers and dates as "",
    # and real QBO takes it: so must the emulator.
    body = _invoice(
        api,
        TotalAmt="",
        DueDate="",
        ShipDate="",
        TxnDate="",
        ExchangeRate=1,
        HomeBalance=0,
        InvoiceLink="",
        AllowIPNPayment=True,
        GlobalTaxCalculation="TaxExcluded",
        SyncToken=0,
        domain="QBO",
        sparse=False,
    )
    body["Line"][0]["SalesItemLineDetail"].update({"TaxInclusiveAmt": 0, "ServiceDate": ""})
    response = api.post("invoice", body)
    assert response.status_code == 200, response.text


def test_text_longer_than_its_maximum_is_2050(api: Api) -> None:
    error = _fault(api.post("invoice", _invoice(api, DocNumber="D" * 22)))
    assert error["code"] == "2050"
    assert error["Message"] == (
        "String length is either shorter or longer than supported by specification"
    )
    assert "Max:21 supported. Supplied length:22" in error["Detail"]
    assert error["element"] == "DocNumber"
    assert api.post("invoice", _invoice(api, DocNumber="D" * 21)).status_code == 200


def test_a_value_outside_its_enumeration_is_2170(api: Api) -> None:
    error = _fault(api.post("invoice", _invoice(api, PrintStatus="Printed")))
    assert error["code"] == "2170" and error["Message"] == "Invalid Enumeration"
    assert error["element"] == "PrintStatus"
    assert api.post("invoice", _invoice(api, PrintStatus="NeedToPrint")).status_code == 200
