"""A QBO answer is data only once it answers the question asked: a fault inside a CDC answer,
rows of another entity, an answer that counts rows it does not hold or an empty CDC shape
that is not QBO's are errors, never "no changes" or "no records"."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.hostile.canned import POLICY, Answer, qbo_client
from tests.qbo.conftest import Api
from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.qbo.errors import QboFatalError, QboRetriableError
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer
from tpsqbo_engine.resources import schemas_dir
from tpsqbo_engine.sync.snapshot import ALWAYS_WHOLE, Cursors, read_snapshot


def _time_activity(api: Api) -> None:
    employee = api.create("Employee", {"DisplayName": "Pat Worker"})
    answer = api.post(
        "timeactivity",
        {"NameOf": "Employee", "EmployeeRef": {"value": employee["Id"]}, "Hours": 2, "Minutes": 0},
    )
    assert answer.status_code == 200, answer.text


def test_a_fault_inside_a_cdc_answer_is_an_error_naming_the_entity(
    client: QboClient, api: Api
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=5)
    _time_activity(api)
    raw = api.get("cdc", entities="Employee,TimeActivity", changedSince=since.isoformat()).json()
    entries = raw["CDCResponse"][0]["QueryResponse"]
    assert any("Fault" in entry for entry in entries)  # the emulator answers as QBO does
    with pytest.raises(QboFatalError, match="TimeActivity") as refused:
        client.cdc(["Employee", "TimeActivity"], since)
    assert "read whole" in refused.value.hint
    assert client.stats.retries == 0  # QBO will not change its mind: not asked again
    assert client.cdc(["Employee"], since)["Employee"]  # the tracked entity alone is read


def test_the_entities_cdc_does_not_track_are_those_the_schemas_mark() -> None:
    marked = {
        f"qbo.{path.stem}"
        for path in (schemas_dir() / "qbo").glob("*.json")
        if path.stem != "common"
        and not json.loads(path.read_text(encoding="utf-8"))["x-qbo-entity"]["cdc"]
    }
    assert marked == ALWAYS_WHOLE
    assert {"qbo.TaxCode", "qbo.TaxRate", "qbo.TaxAgency", "qbo.TimeActivity"} <= ALWAYS_WHOLE
    assert "qbo.Invoice" not in ALWAYS_WHOLE and "qbo.Customer" not in ALWAYS_WHOLE


class _NoTps:
    def firm(self) -> dict[str, Any]:
        return {}


def test_an_incremental_read_reads_entities_cdc_does_not_track_whole(
    client: QboClient, api: Api
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    _time_activity(api)
    rates = api.query("SELECT * FROM TaxRate").json()["QueryResponse"].get("TaxRate", [])
    times = api.query("SELECT * FROM TimeActivity").json()["QueryResponse"]["TimeActivity"]
    assert rates and len(times) > 1  # seeded ones, none of them changed since
    cursors = Cursors({}, since.isoformat(timespec="seconds"))
    names = {"qbo.Employee", "qbo.TaxRate", "qbo.TimeActivity"}
    snapshot = read_snapshot(_NoTps(), client, names, cursors)  # type: ignore[arg-type]
    assert set(snapshot.qbo["TaxRate"]) == {r["Id"] for r in rates}
    assert set(snapshot.qbo["TimeActivity"]) == {r["Id"] for r in times}
    assert "Pat Worker" in [r["DisplayName"] for r in snapshot.qbo["Employee"].values()]


CUSTOMER_AS_INVOICE = {
    "QueryResponse": {
        "Customer": [{"Id": "1", "DisplayName": "Not an invoice"}],
        "startPosition": 1,
        "maxResults": 1,
    }
}
COUNTED_NOT_HELD = {"QueryResponse": {"startPosition": 1, "maxResults": 1000}}


@pytest.mark.parametrize(
    "body",
    [
        CUSTOMER_AS_INVOICE,
        COUNTED_NOT_HELD,
        {"QueryResponse": {"Invoice": [{"Id": "9"}], "Customer": [{"Id": "1"}]}},
        {"QueryResponse": {"totalCount": 3}},
    ],
    ids=["another-entity", "counted-not-held", "two-entities", "total-not-held"],
)
def test_a_query_answer_that_does_not_answer_for_the_entity_is_not_understood(
    tmp_path: Path, body: dict[str, Any]
) -> None:
    client, adapter, sleeps = qbo_client(tmp_path, Answer(body=json.dumps(body)))
    with pytest.raises(QboRetriableError, match="Invoice"):
        list(client.query_all("Invoice"))
    assert len(adapter.sent) == POLICY.attempts  # tried again, then a clear error
    assert len(sleeps) == POLICY.attempts - 1


def test_a_garbled_query_answer_that_comes_right_on_a_retry_is_read(tmp_path: Path) -> None:
    rows = {"QueryResponse": {"Invoice": [{"Id": "7"}], "startPosition": 1, "maxResults": 1}}
    client, adapter, _ = qbo_client(
        tmp_path, Answer(body=json.dumps(CUSTOMER_AS_INVOICE)), Answer(body=json.dumps(rows))
    )
    assert list(client.query_all("Invoice")) == [{"Id": "7"}]
    assert len(adapter.sent) == 2


def test_qbo_empty_query_answer_is_no_records(tmp_path: Path) -> None:
    client, _, _ = qbo_client(tmp_path, Answer(body='{"QueryResponse": {}, "time": "now"}'))
    assert list(client.query_all("Invoice")) == []
    rows = '{"QueryResponse": {"Invoice": [{"Id": "3"}], "maxResults": 1}}'
    client, _, _ = qbo_client(tmp_path, Answer(body=rows))
    assert client.query("select * from invoice") == [{"Id": "3"}]


def test_query_rows_are_checked_against_the_emulator(client: QboClient) -> None:
    customers = client.query("SELECT * FROM Customer MAXRESULTS 3")
    assert len(customers) == 3 and all("DisplayName" in c for c in customers)
    assert client.query("SELECT * FROM Invoice WHERE DocNumber = 'no such'") == []


STAMP = "2026-11-27T08:00:00-08:00"


@pytest.mark.parametrize(
    "body",
    [
        {"CDCResponse": []},
        {"CDCResponse": [{"QueryResponse": []}]},
        {"CDCResponse": [{}]},
        {
            "CDCResponse": [
                {
                    "QueryResponse": [
                        {"Customer": [{"Id": "1", "MetaData": {"LastUpdatedTime": STAMP}}]}
                    ]
                }
            ]
        },
    ],
    ids=["no-block", "no-response", "block-without-response", "entity-not-asked"],
)
def test_a_cdc_answer_that_is_not_qbos_is_not_understood(
    tmp_path: Path, body: dict[str, Any]
) -> None:
    client, adapter, _ = qbo_client(tmp_path, Answer(body=json.dumps(body)))
    with pytest.raises(QboRetriableError, match="GET cdc"):
        client.cdc(["Invoice"], datetime.now(UTC))
    assert len(adapter.sent) == POLICY.attempts


def test_qbo_empty_cdc_answer_is_no_changes(tmp_path: Path) -> None:
    empty = '{"CDCResponse": [{"QueryResponse": [{}]}], "time": "now"}'
    client, _, _ = qbo_client(tmp_path, Answer(body=empty))
    assert client.cdc(["Invoice", "Customer"], datetime.now(UTC)) == {}


def test_a_cdc_answer_busy_inside_is_asked_again(tmp_path: Path) -> None:
    busy = {"Fault": {"Error": [{"code": "3001", "Message": "ThrottleExceeded"}]}}
    rows = {"Invoice": [{"Id": "5", "MetaData": {"LastUpdatedTime": STAMP}}]}
    client, adapter, _ = qbo_client(
        tmp_path,
        Answer(body=json.dumps({"CDCResponse": [{"QueryResponse": [busy]}]})),
        Answer(body=json.dumps({"CDCResponse": [{"QueryResponse": [rows]}]})),
    )
    assert client.cdc(["Invoice"], datetime.now(UTC)) == {"Invoice": rows["Invoice"]}
    assert len(adapter.sent) == 2


def test_the_emulator_answers_an_untracked_entity_alone_with_a_fault(
    qbo_server: QboEmulatorServer, client: QboClient
) -> None:
    with pytest.raises(QboFatalError, match="TaxRate"):
        client.cdc(["TaxRate"], datetime.now(UTC) - timedelta(minutes=1))
