"""The new entities over HTTP: batch, query, CDC and the settings singleton."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import requests

from tests.qbo.conftest import Api


def _since() -> str:
    return (datetime.now(UTC) - timedelta(minutes=5)).isoformat(timespec="seconds")


def test_cdc_answers_for_the_entities_it_tracks_and_a_fault_for_each_it_does_not(api: Api) -> None:
    vendor = api.create("Vendor", {"DisplayName": "Office Depot"})
    api.create("Class", {"Name": "Audit"})
    response = api.get("cdc", entities="Vendor,TaxCode,Class,NoSuchThing", changedSince=_since())
    assert response.status_code == 200, response.text
    answers = response.json()["CDCResponse"][0]["QueryResponse"]
    vendors = next(a["Vendor"] for a in answers if "Vendor" in a)
    assert vendor["Id"] in [v["Id"] for v in vendors]
    assert any("Class" in a for a in answers)
    faults = [a["Fault"]["Error"][0] for a in answers if "Fault" in a]
    assert [(f["element"], f["code"]) for f in faults] == [
        ("TaxCode", "500"),
        ("NoSuchThing", "4000"),
    ]


def test_batch_writes_and_queries_the_new_entities(api: Api) -> None:
    response = api.post(
        "batch",
        {
            "BatchItemRequest": [
                {"bId": "1", "operation": "create", "Vendor": {"DisplayName": "Staples"}},
                {"bId": "2", "operation": "create", "Department": {"Name": "West"}},
                {"bId": "4", "operation": "create", "TaxRate": {"Name": "x"}},
            ]
        },
    )
    assert response.status_code == 200
    items = {i["bId"]: i for i in response.json()["BatchItemResponse"]}
    assert items["1"]["Vendor"]["DisplayName"] == "Staples"
    assert items["2"]["Department"]["FullyQualifiedName"] == "West"
    assert items["4"]["Fault"]["Error"][0]["code"] == "500"
    found = api.query("SELECT * FROM Vendor WHERE DisplayName = 'Staples'").json()
    assert found["QueryResponse"]["Vendor"][0]["Id"] == items["1"]["Vendor"]["Id"]


def test_preferences_are_updated_sparsely_over_http(api: Api) -> None:
    prefs = api.get("preferences").json()["Preferences"]
    response = api.post(
        "preferences",
        {
            "Id": prefs["Id"],
            "SyncToken": prefs["SyncToken"],
            "sparse": True,
            "SalesFormsPrefs": {"CustomTxnNumbers": False},
        },
    )
    assert response.status_code == 200, response.text
    updated = api.get("preferences").json()["Preferences"]
    assert updated["SalesFormsPrefs"]["CustomTxnNumbers"] is False
    assert updated["SalesFormsPrefs"]["AllowDiscount"] is True


def test_a_credit_memo_is_voided_over_http(api: Api) -> None:
    customer = api.query("SELECT * FROM Customer WHERE DisplayName = 'Red Rock Diner'").json()
    who = customer["QueryResponse"]["Customer"][0]
    item = api.query("SELECT * FROM Item WHERE Name = 'Consulting'").json()["QueryResponse"][
        "Item"
    ][0]
    memo = api.create(
        "CreditMemo",
        {
            "CustomerRef": {"value": who["Id"]},
            "Line": [
                {
                    "Amount": 25,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
                }
            ],
        },
    )
    response = api.post(
        "creditmemo", {"Id": memo["Id"], "SyncToken": memo["SyncToken"]}, operation="void"
    )
    assert response.status_code == 200, response.text
    assert response.json()["CreditMemo"]["Balance"] == 0


def test_an_upload_keeps_the_attachments_metadata_only(api: Api) -> None:
    bill_id = api.query("SELECT * FROM Bill").json()["QueryResponse"]["Bill"][0]["Id"]
    metadata = {"AttachableRef": [{"EntityRef": {"type": "Bill", "value": bill_id}}]}
    # The bare-LF multipart body that clients written against QBO send.
    body = (
        '\n--XyZ\nContent-Disposition: form-data; name="file_metadata_01"\n'
        f"Content-Type: application/json\n\n{json.dumps(metadata)}\n"
        '--XyZ\nContent-Disposition: form-data; name="file_content_01"; filename="r.txt"\n'
        "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
        "aGVsbG8gd29ybGQ=\n\n--XyZ--\n"
    )
    response = requests.post(
        f"{api.base}/upload",
        data=body,
        headers=api.headers(**{"Content-Type": "multipart/form-data; boundary=XyZ"}),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    made = response.json()["AttachableResponse"][0]["Attachable"]
    assert (made["FileName"], made["ContentType"], made["Size"]) == ("r.txt", "text/plain", 11)
    assert made["AttachableRef"][0]["EntityRef"]["value"] == bill_id
    broken = requests.post(
        f"{api.base}/upload",
        data=body.replace("aGVsbG8gd29ybGQ=", "!!notbase64"),
        headers=api.headers(**{"Content-Type": "multipart/form-data; boundary=XyZ"}),
        timeout=10,
    )
    assert broken.status_code == 400


def test_cdc_over_every_entity_qbo_tracks_answers(api: Api) -> None:
    from tpsqbo_engine.emulators.qbo import catalog

    tracked = sorted(name for name, info in catalog.entities().items() if info.cdc)
    response = api.get("cdc", entities=",".join(tracked), changedSince=_since())
    assert response.status_code == 200, response.text
    answers = response.json()["CDCResponse"][0]["QueryResponse"]
    assert not [a for a in answers if "Fault" in a]
    returned = {name for answer in answers for name in answer if name in tracked}
    assert {"Vendor", "Bill", "BillPayment", "Estimate", "Transfer", "Attachable"} <= returned


def test_a_download_says_only_metadata_is_kept(api: Api) -> None:
    note = api.create("Attachable", {"FileName": "scan.pdf", "ContentType": "application/pdf"})
    response = requests.get(
        f"{api.server.base_url}{note['FileAccessUri']}", headers=api.headers(), timeout=10
    )
    assert response.status_code == 404
    assert "metadata only" in response.json()["Fault"]["Error"][0]["Detail"]
    assert api.get("download/99999").json()["Fault"]["Error"][0]["code"] == "610"


def test_new_records_read_back_can_be_written_back_whole(api: Api) -> None:
    made = {
        "Vendor": api.create("Vendor", {"DisplayName": "Whole Vendor"}),
        "Employee": api.create("Employee", {"GivenName": "Whole", "FamilyName": "Worker"}),
        "PaymentMethod": api.create("PaymentMethod", {"Name": "Whole Cheque"}),
        "Class": api.create("Class", {"Name": "Whole Class"}),
    }
    for entity, record in made.items():
        read = api.get(f"{entity.lower()}/{record['Id']}").json()[entity]
        again = api.post(entity.lower(), read)
        assert again.status_code == 200, (entity, again.text)
        assert again.json()[entity]["SyncToken"] == "1"


def test_company_info_takes_a_sparse_update(api: Api) -> None:
    info = api.get("companyinfo/1").json()["CompanyInfo"]
    response = api.post(
        "companyinfo",
        {
            "Id": info["Id"],
            "SyncToken": info["SyncToken"],
            "sparse": True,
            "CompanyAddr": {"Line1": "1 Harbour Road"},
        },
    )
    assert response.status_code == 200, response.text
    again = api.get(f"companyinfo/{info['Id']}").json()["CompanyInfo"]
    assert again["CompanyAddr"]["Line1"] == "1 Harbour Road"
    assert again["CompanyAddr"]["City"] == info["CompanyAddr"]["City"]
    assert again["CompanyName"] == info["CompanyName"] and again["SyncToken"] == "1"
