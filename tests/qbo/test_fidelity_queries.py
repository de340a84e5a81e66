"""Queries refused, answered and projected as QBO does (docs/emulator-fidelity.md)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.qbo.conftest import Api
from tpsqbo_engine.emulators.qbo import query, select
from tpsqbo_engine.emulators.qbo.company import Company


def _error(api: Api, statement: str) -> dict[str, Any]:
    response = api.query(statement)
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["Fault"]["Error"][0]
    return error


def _rows(api: Api, statement: str, entity: str) -> list[dict[str, Any]]:
    response = api.query(statement)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["QueryResponse"].get(entity, [])
    return rows


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        ("SELECT * FROM Customer WHERE Notes = 'x'", "Notes"),
        ("SELECT * FROM Invoice WHERE Line.Amount > '0'", "Line.Amount"),
        ("SELECT * FROM Invoice WHERE PrivateNote LIKE '%sync%'", "PrivateNote"),
        ("SELECT * FROM Invoice WHERE NoSuchProperty = '1'", "NoSuchProperty"),
    ],
)
def test_a_filter_on_a_non_filterable_property_is_4000(
    api: Api, statement: str, named: str
) -> None:
    error = _error(api, statement)
    assert error["code"] == "4000"
    assert error["Detail"] == f"QueryValidationError: property '{named}' is not queryable"


@pytest.mark.parametrize(
    ("statement", "op", "named"),
    [
        ("SELECT * FROM Customer WHERE Id > '5'", ">", "Id"),
        ("SELECT * FROM Invoice WHERE CustomerRef LIKE '1%'", "LIKE", "CustomerRef"),
        ("SELECT * FROM Customer WHERE Active < true", "<", "Active"),
    ],
)
def test_an_operator_a_property_does_not_take_is_4000(
    api: Api, statement: str, op: str, named: str
) -> None:
    error = _error(api, statement)
    assert error["code"] == "4000"
    assert f"operator '{op}' is not supported for property '{named}'" in error["Detail"]


def test_orderby_a_non_sortable_property_is_4000(api: Api) -> None:
    error = _error(api, "SELECT * FROM Customer ORDERBY Notes")
    assert error["Detail"] == "QueryValidationError: property 'Notes' is not sortable"


def test_sku_comes_back_only_when_the_select_names_it(api: Api) -> None:
    item = api.server.company.find_by("Item", "Name", "Bookkeeping")
    assert item is not None
    change = {"Id": item["Id"], "SyncToken": item["SyncToken"], "sparse": True, "Sku": "BK"}
    api.post("item", change)
    plain = _rows(api, "SELECT * FROM Item WHERE Name = 'Bookkeeping'", "Item")
    extra = _rows(api, "SELECT *, Sku FROM Item WHERE Name = 'Bookkeeping'", "Item")
    assert "Sku" not in plain[0] and extra[0]["Sku"] == "BK"
    by_sku = _rows(api, "SELECT *, Sku FROM Item WHERE Sku = 'BK'", "Item")
    assert by_sku[0]["Name"] == "Bookkeeping"
    assert api.get(f"item/{item['Id']}").json()["Item"]["Sku"] == "BK"  # a read has it
    assert _error(api, "SELECT *, Nope FROM Item")["code"] == "4000"


def test_count_answers_total_count_with_or_without_a_filter(api: Api) -> None:
    everyone = _rows(api, "SELECT * FROM Customer MAXRESULTS 1000", "Customer")
    counted = api.query("SELECT COUNT(*) FROM Customer").json()["QueryResponse"]
    assert counted == {"totalCount": len(everyone)}
    some = api.query("SELECT COUNT(*) FROM Customer WHERE Balance > '0'").json()
    assert some["QueryResponse"]["totalCount"] == sum(1 for r in everyone if r["Balance"] > 0)


def test_inactive_rows_only_when_the_query_filters_on_active(api: Api) -> None:
    created = api.create("Customer", {"DisplayName": "Gone Away"})
    api.post("customer", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    where = "DisplayName = 'Gone Away'"
    assert _rows(api, f"SELECT * FROM Customer WHERE {where}", "Customer") == []
    statement = f"SELECT * FROM Customer WHERE {where}"
    inactive = _rows(api, f"{statement} AND Active = false", "Customer")
    both = _rows(api, f"{statement} AND Active IN (true, false)", "Customer")
    assert [r["Id"] for r in inactive] == [r["Id"] for r in both] == [created["Id"]]


@pytest.mark.parametrize(
    ("where", "entity"),
    [
        ("Id IN ('1', '2')", "Customer"),
        ("DisplayName LIKE 'Red%'", "Customer"),
        ("GivenName >= 'A'", "Customer"),
        ("Balance <= '100000'", "Customer"),
        ("PrimaryEmailAddr = 'ap@redrockdiner.example'", "Customer"),
        ("MetaData.LastUpdatedTime > '2000-01-01T00:00:00Z'", "Customer"),
        ("MetaData.CreateTime <= '2100-01-01'", "Customer"),
        ("Type IN ('Service', 'NonInventory')", "Item"),
        ("TxnDate >= '2000-01-01' AND TxnDate < '2100-01-01'", "Invoice"),
        ("CustomerRef IN ('1', '2', '3')", "Invoice"),
        ("DocNumber LIKE '%0%'", "Invoice"),
        ("DueDate > '2000-01-01'", "Invoice"),
        ("TotalAmt > '0' AND Balance >= '0'", "Invoice"),
        ("TotalAmt >= '0'", "Payment"),
        ("AccountType = 'Bank'", "Account"),
    ],
)
def test_documented_operators_are_answered(api: Api, where: str, entity: str) -> None:
    response = api.query(f"SELECT * FROM {entity} WHERE {where}")
    assert response.status_code == 200, response.text


def test_like_with_many_wildcards_is_linear() -> None:
    text = "a" * 20_000
    started = time.perf_counter()
    assert not query.like(text, "%a" * 200 + "%b")
    assert query.like(text, "%a%a%" + "a" * 10)
    assert time.perf_counter() - started < 0.2


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        ("Red Rock Diner", "red%", True),
        ("Red Rock Diner", "%rock%", True),
        ("Red Rock Diner", "%diner", True),
        ("Red Rock Diner", "r%d%r", True),
        ("abab", "%ab%ab%", True),
        ("aba", "ab%ba", False),
        ("Red", "red", True),
        ("Red", "re", False),
    ],
)
def test_like_matches_as_qbo_does(value: str, pattern: str, expected: bool) -> None:
    assert query.like(value, pattern) is expected


def test_lookups_by_doc_number_are_answered_from_an_index(api: Api) -> None:
    company: Company = api.server.company
    indexed = company.index.fields.candidates(
        "Invoice", [query.Condition("DocNumber", "=", ("1001",))]
    )
    assert indexed is not None and len(indexed) <= 1
    for where in ("DocNumber = '1001'", "TxnDate >= '2000-01-01'", "CustomerRef = '1'"):
        statement = f"SELECT * FROM Invoice WHERE {where} MAXRESULTS 1000"
        parsed = query.parse(statement)
        scanned, _ = query.run(parsed, company.table("Invoice").values())
        assert [r["Id"] for r in _rows(api, statement, "Invoice")] == [r["Id"] for r in scanned]


def test_thirteen_thousand_doc_number_lookups_are_fast() -> None:
    company = Company("1")
    table = company.table("Invoice")
    for n in range(13_000):
        record = {"Id": str(n), "DocNumber": f"D-{n}", "CustomerRef": {"value": "1"}}
        table[record["Id"]] = record
        company.index.replace("Invoice", None, record)
    started = time.perf_counter()
    for n in range(0, 13_000):
        answer = select.answer(company, f"SELECT * FROM Invoice WHERE DocNumber = 'D-{n}'")
        assert answer["QueryResponse"]["Invoice"][0]["Id"] == str(n)
    assert time.perf_counter() - started < 10.0  # a scan each: about 13,000 x 13,000 rows
