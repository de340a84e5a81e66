"""Servers answering garbage: a 200 is data only once it parses into what was asked for, and
every retry and paging loop ends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.hostile.canned import HTML, POLICY, Answer, qbo_client, tps_client
from tpsqbo_engine.connectors.qbo.batch import BATCH_ROUNDS, BatchOp
from tpsqbo_engine.connectors.qbo.errors import QboRetriableError, QboSkippableError
from tpsqbo_engine.connectors.qbo.queries import NaturalKey
from tpsqbo_engine.connectors.tps.client import TpsFatalError, TpsRetriableError

GARBAGE = {
    "html": HTML,
    "truncated": Answer(body='{"QueryResponse": {"Customer": [{"Id": "1"'),
    "list": Answer(body='[{"QueryResponse": {}}]'),
    "no-envelope": Answer(body='{"time": "2026-01-01T00:00:00Z"}'),
    "wrong-envelope": Answer(body='{"QueryResponse": []}'),
    "empty": Answer(body=""),
}
CUSTOMERS = Answer(body=json.dumps({"QueryResponse": {"Customer": [{"Id": "1"}]}}))


@pytest.mark.parametrize("answer", GARBAGE.values(), ids=GARBAGE.keys())
def test_a_qbo_200_that_is_not_the_answer_is_an_error_not_no_records(
    tmp_path: Path, answer: Answer
) -> None:
    client, adapter, sleeps = qbo_client(tmp_path, answer)
    with pytest.raises(QboRetriableError, match="answered with"):
        client.query("SELECT * FROM Customer")
    assert len(adapter.sent) == POLICY.attempts and len(sleeps) == POLICY.attempts - 1


def test_a_garbage_answer_is_retried_and_a_good_one_then_used(tmp_path: Path) -> None:
    client, adapter, _ = qbo_client(tmp_path, HTML, GARBAGE["truncated"], CUSTOMERS)
    assert client.query("SELECT * FROM Customer") == [{"Id": "1"}]
    assert len(adapter.sent) == 3 and client.stats.retries == 2


def test_reads_check_their_own_envelope(tmp_path: Path) -> None:
    client, _, _ = qbo_client(tmp_path, Answer(body='{"Customer": []}'))
    with pytest.raises(QboRetriableError, match="no Customer object"):
        client.read("Customer", "1")
    client, _, _ = qbo_client(tmp_path, Answer(body='{"CDCResponse": {}}'))
    with pytest.raises(QboRetriableError, match="no CDCResponse list"):
        client.cdc(["Customer"], __import__("datetime").datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "body",
    [
        '{"CDCResponse": ["junk"]}',
        '{"CDCResponse": [{"QueryResponse": ["junk"]}]}',
        '{"CDCResponse": [{"QueryResponse": [{"Customer": [{"DisplayName": "no id"}]}]}]}',
        '{"CDCResponse": [{"QueryResponse": [{"Customer": [{"Id": "1", "MetaData": {}}]}]}]}',
    ],
)
def test_a_cdc_answer_with_junk_inside_is_not_understood(tmp_path: Path, body: str) -> None:
    from datetime import datetime

    client, _, _ = qbo_client(tmp_path, Answer(body=body))
    with pytest.raises(QboRetriableError, match="answered with"):
        client.cdc(["Customer"], datetime(2026, 1, 1))


def test_a_batch_answer_leaving_items_out_is_resent_a_bounded_number_of_times(
    tmp_path: Path,
) -> None:
    left_out = Answer(body='{"BatchItemResponse": [{}, {"bId": "b99"}, {"bId": "../x"}]}')
    client, adapter, _ = qbo_client(tmp_path, left_out)
    ops = [BatchOp("Customer", {"DisplayName": f"C{n}"}, key=f"c{n}") for n in range(3)]
    results = client.batch(ops)
    assert len(adapter.sent) == BATCH_ROUNDS
    assert all(isinstance(r.error, QboRetriableError) and r.record is None for r in results)
    assert "left out Customer c0" in str(results[0].error)


def test_a_resent_batch_looks_for_items_written_all_the_same(tmp_path: Path) -> None:
    one = Answer(body='{"BatchItemResponse": [{"bId": "b1", "Customer": {"Id": "7"}}]}')
    found = Answer(body='{"QueryResponse": {"Customer": [{"Id": "6"}]}}')
    client, adapter, _ = qbo_client(tmp_path, one, found)
    guard = NaturalKey("DisplayName", "C0")
    ops = [BatchOp("Customer", {"DisplayName": "C0"}, key="c0", guard=guard)]
    ops.append(BatchOp("Customer", {"DisplayName": "C1"}, key="c1"))
    results = client.batch(ops)
    assert [r.record for r in results] == [{"Id": "6"}, {"Id": "7"}]
    assert len(adapter.sent) == 2 and client.stats.guard_hits == 1


def test_429_waits_what_retry_after_asks_capped_by_the_ceiling(tmp_path: Path) -> None:
    throttled = Answer(
        429, '{"Fault": {"Error": [{"code": "3001"}]}}', headers={"Retry-After": "7"}
    )
    client, _, sleeps = qbo_client(tmp_path, throttled, throttled, CUSTOMERS)
    assert client.query("SELECT * FROM Customer") == [{"Id": "1"}]
    assert sleeps == [7.0, 7.0]
    forever = Answer(503, "busy", "text/plain", {"Retry-After": "3600"})
    client, _, sleeps = qbo_client(tmp_path, forever)
    with pytest.raises(QboRetriableError, match="503"):
        client.query("SELECT * FROM Customer")
    assert sleeps == [POLICY.max_backoff] * (POLICY.attempts - 1)


def test_without_retry_after_the_wait_grows_with_jitter_under_a_ceiling(tmp_path: Path) -> None:
    client, _, sleeps = qbo_client(tmp_path, Answer(502, "bad gateway", "text/plain"))
    with pytest.raises(QboRetriableError):
        client.query("SELECT * FROM Customer")
    bounds = [min(POLICY.max_backoff, POLICY.backoff * 2**n) for n in range(len(sleeps))]
    assert all(0 <= s <= b for s, b in zip(sleeps, bounds, strict=True))
    assert 60.0 not in sleeps


def test_a_validation_fault_is_not_retried(tmp_path: Path) -> None:
    fault = '{"Fault": {"Error": [{"code": "6000", "Message": "bad"}], "type": "ValidationFault"}}'
    client, adapter, _ = qbo_client(tmp_path, Answer(400, fault))
    with pytest.raises(QboSkippableError):
        client.query("SELECT * FROM Customer")
    assert len(adapter.sent) == 1


TPS_GARBAGE = {
    "html": HTML,
    "truncated": Answer(body='{"data": [{"id": "c1"'),
    "list": Answer(body='[{"data": []}]'),
    "no-envelope": Answer(body='{"items": []}'),
    "rows-not-objects": Answer(body='{"data": ["c1"]}'),
}


@pytest.mark.parametrize("answer", TPS_GARBAGE.values(), ids=TPS_GARBAGE.keys())
def test_a_tps_200_that_is_not_a_page_is_an_error(answer: Answer) -> None:
    client, adapter, _ = tps_client(answer)
    with pytest.raises(TpsRetriableError, match="TPS answered the clients list with"):
        list(client.records("clients"))
    assert len(adapter.sent) == POLICY.attempts


def test_a_tps_page_token_that_comes_back_is_an_error() -> None:
    pages = [
        Answer(body='{"data": [], "next_page_token": "a"}'),
        Answer(body='{"data": [], "next_page_token": "b"}'),
        Answer(body='{"data": [], "next_page_token": "a"}'),
    ]
    client, adapter, _ = tps_client(*pages)
    with pytest.raises(TpsFatalError, match="a second time"):
        list(client.records("clients"))
    assert len(adapter.sent) == 3


def test_tps_429_honours_retry_after() -> None:
    throttled = Answer(429, '{"error": {"code": "rate_limited"}}', headers={"Retry-After": "2"})
    client, _, sleeps = tps_client(throttled, Answer(body='{"data": []}'))
    assert list(client.records("clients")) == []
    assert sleeps == [2.0]
