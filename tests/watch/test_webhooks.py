"""The webhook endpoint on its own: signatures, both payload formats, deduplication, the
debounce window, metrics, health, intervals and JSON logs."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from werkzeug.test import Client

from tpsqbo_engine.durations import interval
from tpsqbo_engine.emulators.qbo.webhooks import cloudevents_payload, legacy_payload, sign
from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.watch.app import WatchApp
from tpsqbo_engine.watch.debounce import Debouncer
from tpsqbo_engine.watch.events import BadPayload, parse
from tpsqbo_engine.watch.logs import configure
from tpsqbo_engine.watch.metrics import Metrics
from tpsqbo_engine.watch.signature import verify

VERIFIER = "verifier-token-for-tests"
REALM = "9130350000000001"
EVENTS = [
    ("Payment", "301", "Create", "2026-11-26T10:00:00.000Z"),
    ("Invoice", "145", "Update", "2026-11-26T10:00:00.000Z"),
]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(clock: Clock) -> WatchApp:
    return WatchApp(VERIFIER, Debouncer(3.0, clock), Metrics(), REALM, lambda: {"ok": True})


def _post(app: WatchApp, body: bytes, signature: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["intuit-signature"] = signature
    return Client(app).post("/webhooks", data=body, headers=headers)


def _legacy_body(events: list[tuple[str, str, str, str]] = EVENTS) -> bytes:
    return json.dumps(legacy_payload(REALM, events)).encode()


def _pending(app: WatchApp, clock: Clock) -> int:
    clock.now += 3600
    due = app.debouncer.take_due()
    return due.changes if due else 0


def test_a_well_signed_delivery_is_answered_200_and_queued(app: WatchApp, clock: Clock) -> None:
    body = _legacy_body()
    response = _post(app, body, sign(VERIFIER, body))
    assert response.status_code == 200
    assert _pending(app, clock) == 2
    assert app.metrics.deliveries["accepted"] == 1 and app.metrics.notifications == 2


@pytest.mark.parametrize(
    "signature",
    [
        None,  # unsigned
        "",
        "not base64 at all!",
        sign("another-token", _legacy_body()),  # signed with the wrong token
        sign(VERIFIER, _legacy_body() + b" "),  # the signature of other bytes
    ],
)
def test_unsigned_or_wrongly_signed_gets_401_and_queues_nothing(
    app: WatchApp, clock: Clock, signature: str | None
) -> None:
    response = _post(app, _legacy_body(), signature)
    assert response.status_code == 401
    assert _pending(app, clock) == 0
    assert app.metrics.deliveries["rejected"] == 1


def test_a_replayed_delivery_queues_nothing_more(app: WatchApp, clock: Clock) -> None:
    body = _legacy_body()
    assert _post(app, body, sign(VERIFIER, body)).status_code == 200
    replay = _post(app, body, sign(VERIFIER, body))
    assert replay.status_code == 200  # Intuit must not retry it, so no error
    assert _pending(app, clock) == 2
    assert app.metrics.deliveries["duplicate"] == 1


def test_cloudevents_deliveries_are_accepted_and_deduplicated_by_event_id(
    app: WatchApp, clock: Clock
) -> None:
    events = cloudevents_payload(REALM, EVENTS)
    body = json.dumps(events).encode()
    assert _post(app, body, sign(VERIFIER, body)).status_code == 200
    again = json.dumps(events[:1]).encode()  # Intuit retrying one of them
    assert _post(app, again, sign(VERIFIER, again)).status_code == 200
    assert _pending(app, clock) == 2


def test_both_formats_read_into_the_same_notifications() -> None:
    legacy = parse(_legacy_body())
    cloud = parse(json.dumps(cloudevents_payload(REALM, EVENTS)).encode())
    assert [(n.realm_id, n.entity.lower(), n.ident) for n in legacy] == [
        (REALM, "payment", "301"),
        (REALM, "invoice", "145"),
    ]
    assert [(n.realm_id, n.entity, n.ident, n.operation) for n in cloud] == [
        (REALM, "payment", "301", "created"),
        (REALM, "invoice", "145", "updated"),
    ]
    assert all(n.event_id for n in cloud) and len({n.key for n in cloud}) == 2


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"{not json", "not JSON"),
        (b'{"something": 1}', "neither"),
        (b'{"eventNotifications": [{"dataChangeEvent": {"entities": []}}]}', "realmId"),
        (
            b'{"eventNotifications": [{"realmId": "1", "dataChangeEvent": {"entities": [{}]}}]}',
            "entities[0].name",
        ),
        (b'[{"type": "other.thing", "id": "x"}]', "event [0].type"),
    ],
)
def test_a_signed_but_malformed_payload_is_refused_with_where(
    app: WatchApp, clock: Clock, body: bytes, where: str
) -> None:
    with pytest.raises(BadPayload, match=where.replace("[", r"\[").replace("]", r"\]")):
        parse(body)
    response = _post(app, body, sign(VERIFIER, body))
    assert response.status_code == 400 and _pending(app, clock) == 0


def test_notifications_for_another_company_are_not_queued(app: WatchApp, clock: Clock) -> None:
    body = json.dumps(legacy_payload("another-realm", EVENTS)).encode()
    assert _post(app, body, sign(VERIFIER, body)).status_code == 200
    assert _pending(app, clock) == 0


def test_changes_within_the_window_make_one_run_and_the_window_does_not_slide(
    clock: Clock,
) -> None:
    debouncer = Debouncer(3.0, clock)
    debouncer.add(REALM, ["a"])
    clock.now += 1.0
    debouncer.add(REALM, ["b", "a"])
    clock.now += 1.5
    debouncer.add(REALM, ["c"])
    assert debouncer.take_due() is None  # 2.5 s after the first change
    clock.now += 0.5
    due = debouncer.take_due()
    assert due is not None and due.changes == 3 and due.first_at == 100.0
    assert debouncer.take_due() is None and debouncer.next_due() is None
    debouncer.add(REALM, ["d"])  # a new window
    assert debouncer.next_due() == clock.now + 3.0
    debouncer.requeue(due, 2.0)  # a run that could not happen: again in 2 s, not at once
    clock.now += 0.1
    assert debouncer.take_due() is None
    clock.now += 2.9  # the open window (d) closes later than the retry: it decides
    again = debouncer.take_due()
    assert again is not None and again.changes == 4


def test_metrics_are_prometheus_text_and_health_answers(app: WatchApp) -> None:
    app.metrics.run_finished("webhook", "completed", {"Successful": 3, "Failed": 0}, 1700000000.0)
    app.metrics.calls(12, 0.5)
    response = Client(app).get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.get_data(as_text=True)
    for line in (
        "# TYPE tpsqbo_runs_total counter",
        'tpsqbo_runs_total{trigger="webhook",status="completed"} 1',
        'tpsqbo_records_total{status="Successful"} 3',
        "tpsqbo_qbo_api_calls_total 12",
        "tpsqbo_limiter_wait_seconds_total 0.500",
        "tpsqbo_last_success_timestamp_seconds 1700000000.000",
    ):
        assert line in text.splitlines()
    assert 'status="Failed"' not in text
    health = Client(app).get("/healthz")
    assert health.status_code == 200 and health.json is not None and health.json["ok"] is True
    app.health = lambda: {"ok": False, "last_error": "reconnect QBO"}
    assert Client(app).get("/healthz").status_code == 503
    assert Client(app).get("/elsewhere").status_code == 404
    assert Client(app).get("/webhooks").status_code == 405


def test_intervals() -> None:
    assert interval("15m", "--poll") == 900
    assert interval("30s", "--poll") == 30
    assert interval("daily", "--reconcile") == 86400
    assert interval("off", "--reconcile") == 0
    for bad in ("soon", "0m", "-5m"):
        with pytest.raises(UsageError, match="not an interval"):
            interval(bad, "--poll")


def test_json_logs_are_one_object_a_line_with_the_fields_given() -> None:
    stream = io.StringIO()
    handler = configure("json", stream)
    try:
        logging.getLogger("tpsqbo_engine.watch").info(
            "run %s", "completed", extra={"event": "run.finished", "run": 7}
        )
    finally:
        for name in ("tpsqbo_engine", "waitress"):
            logging.getLogger(name).removeHandler(handler)
    entry = json.loads(stream.getvalue().splitlines()[-1])
    assert entry["message"] == "run completed" and entry["event"] == "run.finished"
    assert entry["run"] == 7 and entry["level"] == "info"
    with pytest.raises(ValueError, match="text or json"):
        configure("xml")


def test_verify_needs_a_token() -> None:
    body = b"{}"
    assert verify(VERIFIER, body, sign(VERIFIER, body))
    assert not verify("", body, sign("", body))
