"""The query language (domain/qbo-api.md §2)."""

from __future__ import annotations

import pytest

from tests.qbo.conftest import Api


def _rows(api: Api, statement: str, entity: str = "Customer") -> list[dict]:
    response = api.query(statement)
    assert response.status_code == 200, response.text
    return response.json()["QueryResponse"].get(entity, [])


def _names(rows: list[dict]) -> list[str]:
    return [r["DisplayName"] for r in rows]


def test_and_combines_conditions(api: Api) -> None:
    rows = _rows(api, "SELECT * FROM Customer WHERE Balance > '0' AND DisplayName LIKE '%s%'")
    assert rows and all(r["Balance"] > 0 and "s" in r["DisplayName"].lower() for r in rows)


def test_or_is_a_parse_error(api: Api) -> None:
    response = api.query("SELECT * FROM Customer WHERE Id = '1' OR Id = '2'")
    error = response.json()["Fault"]["Error"][0]
    assert response.status_code == 400 and error["code"] == "4000"
    assert error["Message"] == "Error parsing query"


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Balance = '750'", ["Côté & Fils Ltée"]),
        ("Balance >= '500'", ["Côté & Fils Ltée", "O'Brien Consulting", "Red Rock Diner"]),
        ("Balance < '200' AND Balance > '0'", ["Jeff's Jalopies"]),
        ("Balance <= '0' AND DisplayName LIKE 'Amy%'", ["Amy's Bird Sanctuary"]),
        ("DisplayName IN ('Red Rock Diner', 'Müller GmbH')", ["Müller GmbH", "Red Rock Diner"]),
        ("DisplayName LIKE '%Jalop%'", ["Jeff's Jalopies"]),
    ],
)
def test_operators(api: Api, where: str, expected: list[str]) -> None:
    rows = _rows(api, f"SELECT * FROM Customer WHERE {where} ORDERBY DisplayName")
    assert _names(rows) == expected


def test_quotes_are_escaped_with_a_backslash(api: Api) -> None:
    rows = _rows(api, "SELECT * FROM Customer WHERE DisplayName = 'O\\'Brien Consulting'")
    assert _names(rows) == ["O'Brien Consulting"]
    assert api.query("SELECT * FROM Customer WHERE DisplayName = 'O'Brien'").status_code == 400


def test_keywords_names_and_values_are_case_insensitive(api: Api) -> None:
    rows = _rows(api, "select * from customer where displayname = 'red rock diner'")
    assert _names(rows) == ["Red Rock Diner"]


def test_orderby_descending(api: Api) -> None:
    rows = _rows(api, "SELECT * FROM Customer ORDERBY DisplayName DESC")
    names = _names(rows)
    assert names == sorted(names, key=str.casefold, reverse=True)


def test_startposition_is_one_based_and_maxresults_pages(api: Api) -> None:
    everyone = _names(_rows(api, "SELECT * FROM Customer ORDERBY Id"))
    page = api.query("SELECT * FROM Customer ORDERBY Id STARTPOSITION 3 MAXRESULTS 2").json()
    assert _names(page["QueryResponse"]["Customer"]) == everyone[2:4]
    assert page["QueryResponse"]["startPosition"] == 3
    assert page["QueryResponse"]["maxResults"] == 2


def test_maxresults_defaults_to_100_and_caps_at_1000(api: Api) -> None:
    for n in range(120):
        api.server.company.create("Customer", {"DisplayName": f"Bulk {n:03d}"})
    assert len(_rows(api, "SELECT * FROM Customer")) == 100
    assert (
        api.query("SELECT * FROM Customer MAXRESULTS 1001").json()["Fault"]["Error"][0]["code"]
        == "4000"
    )


def test_count(api: Api) -> None:
    body = api.query("SELECT COUNT(*) FROM Invoice").json()
    assert body["QueryResponse"] == {"totalCount": 10}  # the sandbox holds ten invoices


def test_no_match_is_an_empty_query_response(api: Api) -> None:
    assert (
        api.query("SELECT * FROM Customer WHERE DisplayName = 'nobody'").json()["QueryResponse"]
        == {}
    )
