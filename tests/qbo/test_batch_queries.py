"""Queries inside a batch call: the emulator answers them as QBO does (a QueryResponse per
bId, as strict as a plain query, at most 1,000 objects in one answer) and the client reads
many entities' records in one call, paging on by itself where an entity has more."""

from __future__ import annotations

from typing import Any

import pytest

from tests.qbo.conftest import Api
from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.qbo.errors import QboError
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer


def _batch(api: Api, *queries: str) -> dict[str, Any]:
    items = [{"bId": f"q{n}", "Query": text} for n, text in enumerate(queries)]
    response = api.post("batch", {"BatchItemRequest": items})
    assert response.status_code == 200
    return {i["bId"]: i for i in response.json()["BatchItemResponse"]}


def test_query_items_answer_a_query_response_each_as_strict_as_a_plain_query(api: Api) -> None:
    answer = _batch(
        api,
        "SELECT * FROM Customer WHERE DisplayName = 'Red Rock Diner'",
        "SELECT * FROM Item MAXRESULTS 2",
        "SELECT * FROM Invoice WHERE Line.Amount > '5'",  # not filterable: 4000
    )
    (diner,) = answer["q0"]["QueryResponse"]["Customer"]
    assert diner["DisplayName"] == "Red Rock Diner"
    assert len(answer["q1"]["QueryResponse"]["Item"]) == 2
    plain = api.query("SELECT * FROM Invoice WHERE Line.Amount > '5'").json()
    assert answer["q2"]["Fault"]["Error"][0]["code"] == plain["Fault"]["Error"][0]["code"]
    assert answer["q2"]["Fault"]["Error"][0]["code"] == "4000"


def test_an_answer_holds_at_most_a_thousand_objects(
    api: Api, qbo_server: QboEmulatorServer
) -> None:
    for n in range(1200):
        qbo_server.company.create("Customer", {"DisplayName": f"Many {n:04d}"})
    answer = _batch(
        api,
        "SELECT * FROM Customer MAXRESULTS 600",
        "SELECT * FROM Customer STARTPOSITION 601 MAXRESULTS 600",  # would pass 1,000
        "SELECT * FROM Item MAXRESULTS 3",
    )
    assert len(answer["q0"]["QueryResponse"]["Customer"]) == 600
    assert "at most 1000 objects" in answer["q1"]["Fault"]["Error"][0]["Detail"]
    assert len(answer["q2"]["QueryResponse"]["Item"]) == 3  # refused rows are not counted


def test_the_client_reads_many_entities_in_one_call_and_pages_on_where_needed(
    client: QboClient, qbo_server: QboEmulatorServer
) -> None:
    for n in range(700):
        qbo_server.company.create("Customer", {"DisplayName": f"Paged {n:04d}"})
    wanted = {
        "Customer": "Active IN (true, false)",
        "Item": "",
        "Account": "",
        "Invoice": "",
        "TaxCode": "",
        "Transfer": "",
    }
    expected = {e: [r["Id"] for r in client.query_all(e, w)] for e, w in wanted.items()}
    calls, batches = client.stats.calls, client.stats.batch_calls
    found = client.query_batch(wanted)
    assert {e: [r["Id"] for r in rows] for e, rows in found.items()} == expected
    assert len(expected["Customer"]) > 700 and len(expected["Transfer"]) < 166
    # One batch call (1,000 / 6 = 166 rows a query), then Customer on by itself: one query.
    assert (client.stats.calls - calls, client.stats.batch_calls - batches) == (2, 1)


def test_an_item_left_out_is_asked_again_and_a_fault_is_raised(
    client: QboClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = client.call

    def drops_the_first(method: str, path: str, **kwargs: Any) -> Any:
        answer = real(method, path, **kwargs)
        if path == "batch":
            answer["BatchItemResponse"] = answer["BatchItemResponse"][1:]
        return answer

    monkeypatch.setattr(client, "call", drops_the_first)
    found = {e: list(rows) for e, rows in client.query_batch({"Account": "", "Item": ""}).items()}
    assert found["Account"] and found["Item"]  # Account, left out, read on its own
    monkeypatch.setattr(client, "call", real)
    with pytest.raises(QboError) as refused:
        client.query_batch({"Invoice": "Line.Amount > '5'", "Item": ""})
    assert "4000" in str(refused.value) or "queryable" in str(refused.value)


def test_rows_of_another_entity_are_no_answer(
    client: QboClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = client.call

    def swapped(method: str, path: str, **kwargs: Any) -> Any:
        answer = real(method, path, **kwargs)
        first = answer["BatchItemResponse"][0]["QueryResponse"]
        first["Customer"] = first.pop("Account")
        return answer

    monkeypatch.setattr(client, "call", swapped)
    with pytest.raises(QboError, match="not its QueryResponse"):
        client.query_batch({"Account": "", "Item": ""})


def test_records_read_by_id_include_inactive_ones_as_a_read_by_id_does(
    client: QboClient, qbo_server: QboEmulatorServer
) -> None:
    gone = qbo_server.company.create("Customer", {"DisplayName": "Closed Practice LLC"})
    kept = qbo_server.company.create("Customer", {"DisplayName": "Open Practice LLC"})
    client.update("Customer", gone["Id"], {"Active": False})
    assert list(client.query_all("Customer", f"Id = '{gone['Id']}'")) == []  # QBO hides it
    found = {r["Id"]: r for r in client.read_many("Customer", [gone["Id"], kept["Id"]])}
    assert set(found) == {gone["Id"], kept["Id"]}
    assert found[gone["Id"]]["Active"] is False
    assert client.read("Customer", gone["Id"])["Active"] is False
