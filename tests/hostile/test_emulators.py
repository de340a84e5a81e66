"""Both emulators answer malformed requests as a service would: a 4xx with a JSON error,
never a 500 page or a crash."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.qbo.conftest import make_options, token_grant
from tpsqbo_engine.emulators.bodies import MAX_DEPTH, BadBody, depth, parse_json
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer, TpsOptions

DEEP = "[" * 100_000 + "]" * 100_000
LINE = '"DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": "1"}}'
JUNK_BATCH = (
    '{"BatchItemRequest": [1, "x", null, {}, {"bId": 5}, {"bId": "b1", "operation": "create"},'
    ' {"bId": "b2", "operation": "explode", "Customer": {}}, {"bId": "b3", "Customer": "x"}]}'
)
QBO_CASES: dict[str, tuple[str, str, str | bytes | None]] = {
    "deep-json": ("POST", "customer", DEEP),
    "nan-name": ("POST", "customer", '{"DisplayName": NaN}'),
    "infinity": ("POST", "customer", '{"DisplayName": "x", "Balance": Infinity}'),
    "nan-amount": (
        "POST",
        "invoice",
        '{"CustomerRef": {"value": "1"}, "Line": [{"Amount": NaN, ' + LINE + "}]}",
    ),
    "huge-number": (
        "POST",
        "invoice",
        '{"CustomerRef": {"value": "1"}, "Line": [{"Amount": 1e999999, ' + LINE + "}]}",
    ),
    "lines-not-a-list": ("POST", "invoice", '{"CustomerRef": {"value": "1"}, "Line": "nope"}'),
    "junk-lines": ("POST", "invoice", '{"CustomerRef": {"value": "1"}, "Line": [1, "x", null]}'),
    "junk-batch-items": ("POST", "batch", JUNK_BATCH),
    "batch-not-a-list": ("POST", "batch", '{"BatchItemRequest": "nope"}'),
    "batch-a-list": ("POST", "batch", "[1, 2]"),
    "dotdot-encoded": ("GET", "customer/..%2F..%2Fcompanyinfo", None),
    "dotdot": ("GET", "customer/../../x", None),
    "nul-id": ("GET", "customer/%00", None),
    "nan-in-query": ("GET", "query?query=select * from Customer where Balance > 'NaN'", None),
    "infinity-in-query": (
        "GET",
        "query?query=select * from Customer where Balance < 'Infinity'",
        None,
    ),
    "huge-query": (
        "GET",
        "query?query=select * from Customer where Id = '" + "x" * 100_000 + "'",
        None,
    ),
    "bad-changed-since": ("GET", "cdc?entities=Customer&changedSince=notadate", None),
    "dotdot-entity": ("GET", "cdc?entities=../../x&changedSince=2026-01-01T00:00:00Z", None),
    "dotdot-id-in-body": ("POST", "customer", '{"Id": "../1", "SyncToken": "0", "sparse": true}'),
    "not-utf8": ("POST", "customer", b"\xff\xfe\x00garbage"),
}
TPS_CASES: dict[str, tuple[str, str, str | bytes | None]] = {
    "deep-json": ("POST", "/clients", DEEP),
    "nan": ("POST", "/clients", '{"name": NaN, "code": "X1"}'),
    "infinity": ("POST", "/clients", '{"name": "x", "code": "X2", "credit_limit": Infinity}'),
    "nan-amount": ("POST", "/payments", '{"client_id": "c1", "amount": NaN, "date": "2026-01-01"}'),
    "huge-amount": (
        "POST",
        "/payments",
        '{"client_id": "c1", "amount": "1e999999", "date": "2026-01-01"}',
    ),
    "junk-lines": ("POST", "/invoices", '{"client_id": "c1", "lines": [1, "x", null]}'),
    "lines-not-a-list": ("POST", "/invoices", '{"client_id": "c1", "lines": "nope"}'),
    "dotdot-encoded": ("GET", "/clients/..%2F..%2Fetc", None),
    "dotdot": ("GET", "/clients/../../firm", None),
    "bad-updated-since": ("GET", "/clients?updated_since=notadate", None),
    "impossible-updated-since": ("GET", "/clients?updated_since=2026-13-45T99:99:99Z", None),
    "junk-page-token": ("GET", "/clients?page_token=!!!", None),
    "forged-page-token": ("GET", "/clients?page_token=YWJj", None),
    "long-page-token": ("GET", "/clients?page_token=" + "A" * 5000, None),
    "nan-page-size": ("GET", "/clients?page_size=NaN", None),
    "huge-version": ("PATCH", "/clients/c-1001", '{"version": 1e400}'),
    "not-utf8": ("POST", "/clients", b"\xff\xfe\x00garbage"),
}


@pytest.fixture(scope="module")
def qbo() -> Iterator[tuple[str, dict[str, str]]]:
    with QboEmulatorServer(make_options()) as server:
        token = token_grant(server, server.oauth.issue_refresh_token())["access_token"]
        yield server.api_base, {"Authorization": f"Bearer {token}", "Accept": "application/json"}


@pytest.fixture(scope="module")
def tps() -> Iterator[tuple[str, dict[str, str]]]:
    with TpsEmulatorServer(TpsOptions(port=0)) as server:
        yield server.base_url + "/api/v1", {"Authorization": f"Bearer {server.app.token}"}


def _refused(base: str, headers: dict[str, str], case: tuple[str, str, Any]) -> requests.Response:
    method, path, body = case
    sent = {**headers, "Content-Type": "application/json"}
    answer = requests.request(
        method, f"{base}/{path.lstrip('/')}", data=body, headers=sent, timeout=30
    )
    assert "json" in answer.headers.get("Content-Type", ""), answer.text[:200]
    answer.json()
    return answer


@pytest.mark.parametrize("case", QBO_CASES.values(), ids=QBO_CASES.keys())
def test_the_qbo_emulator_refuses_malformed_requests_with_a_4xx(qbo, case) -> None:  # type: ignore[no-untyped-def]
    answer = _refused(*qbo, case)
    body = answer.json()
    if answer.status_code == 200:  # a batch answers item by item, each junk item a fault
        assert all("Fault" in item for item in body["BatchItemResponse"])
        assert len(body["BatchItemResponse"]) == 8
        return
    assert 400 <= answer.status_code < 500, answer.text[:200]


@pytest.mark.parametrize("case", TPS_CASES.values(), ids=TPS_CASES.keys())
def test_the_tps_emulator_refuses_malformed_requests_with_a_4xx(tps, case) -> None:  # type: ignore[no-untyped-def]
    answer = _refused(*tps, case)
    assert 400 <= answer.status_code < 500, answer.text[:200]
    assert "error" in answer.json()


def test_nothing_nan_was_stored(qbo) -> None:  # type: ignore[no-untyped-def]
    base, headers = qbo
    found = requests.get(
        f"{base}/query",
        params={"query": "select * from Customer where DisplayName = 'nan'"},
        headers=headers,
        timeout=10,
    ).json()
    assert found["QueryResponse"] == {}


def test_the_body_parser_on_its_own() -> None:
    assert depth('{"a": "[[[[", "b": [[1]]}') == 3
    assert parse_json(b'{"a": [1, 2.5]}') == {"a": [1, 2.5]}
    for bad in (
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
        "NaN",
        "[-Infinity]",
        "1e400",
        "1" * 5000,
        "{",
        b"\xff",
    ):
        with pytest.raises(BadBody):
            parse_json(bad)
