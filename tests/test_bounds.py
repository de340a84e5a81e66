"""The bounds docs/security.md promises (§6 answers, §9 stopping), pinned to the documented
numbers rather than to the code's own constants: the TPS client's retry policy as shipped,
QBO and TPS paging, batch resend rounds and the SIGTERM grace period.

Where reaching a bound for real would take minutes (10,000 QBO pages, 100,000 TPS pages), the
loop is driven to a small bound patched in, and a separate test pins the shipped number."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.hostile.canned import QBO_BASE, TPS_BASE, Answer, Canned, qbo_client
from tpsqbo_engine import signals
from tpsqbo_engine.connectors.qbo import batch, queries
from tpsqbo_engine.connectors.qbo.auth import QboAuth
from tpsqbo_engine.connectors.qbo.batch import BatchOp
from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.qbo.errors import QboRetriableError
from tpsqbo_engine.connectors.qbo.tokens import Tokens, TokenStore
from tpsqbo_engine.connectors.qbo.transport import QBO_RETRY, THROTTLE_WINDOW
from tpsqbo_engine.connectors.tps import client as tps
from tpsqbo_engine.connectors.tps.client import TpsClient, TpsFatalError, TpsRetriableError
from tpsqbo_engine.state import StateStore

SECURITY = (Path(__file__).resolve().parents[1] / "docs" / "security.md").read_text()
SECURITY = " ".join(SECURITY.split())  # the promises wrap across lines


def _tps(*answers: Answer) -> tuple[TpsClient, Canned, list[float]]:
    """A TPS client as the engine builds it (its own default retry policy)."""
    sleeps: list[float] = []
    client = TpsClient(TPS_BASE, "token", sleep=sleeps.append)
    adapter = Canned(*answers)
    client.session.mount(TPS_BASE, adapter)
    return client, adapter, sleeps


# TPS retries: 5 attempts, no wait longer than 20 s -------------------------------------------


def test_the_documented_tps_retry_numbers() -> None:
    assert re.search(r"retries \(\d+ attempts for QBO, 5 for TPS\)", SECURITY)
    assert re.search(r"\(\d+ s for QBO, 20 s for TPS\)", SECURITY)
    policy = TpsClient(TPS_BASE, "token").retry
    assert (policy.attempts, policy.backoff, policy.max_backoff) == (5, 0.5, 20.0)


def test_a_tps_server_asking_for_an_hour_is_asked_5_times_waiting_20_s_between() -> None:
    client, adapter, sleeps = _tps(Answer(503, "busy", "text/plain", {"Retry-After": "3600"}))
    with pytest.raises(TpsRetriableError, match=r"HTTP 503"):
        list(client.records("clients"))
    assert len(adapter.sent) == 5
    assert sleeps == [20.0, 20.0, 20.0, 20.0]


def test_a_tps_retry_after_under_the_ceiling_is_waited_as_asked() -> None:
    busy = Answer(429, "{}", headers={"Retry-After": "7"})
    client, adapter, sleeps = _tps(busy, Answer(body='{"data": [{"id": "c1", "name": "A"}]}'))
    assert [r["id"] for r in client.records("clients")] == ["c1"]
    assert sleeps == [7.0] and len(adapter.sent) == 2


def test_tps_backs_off_from_half_a_second_doubling_under_20_s() -> None:
    client, adapter, sleeps = _tps(Answer(502, "bad gateway", "text/plain"))
    with pytest.raises(TpsRetriableError, match=r"HTTP 502"):
        list(client.records("clients"))
    assert len(adapter.sent) == 5 and len(sleeps) == 4
    bounds = [0.5, 1.0, 2.0, 4.0]  # full jitter: each wait anywhere up to its bound
    assert all(0 <= wait <= bound for wait, bound in zip(sleeps, bounds, strict=True)), sleeps


# QBO retries: 6 attempts, no wait longer than 120 s, 3 minutes of waits in all ----------------


def _qbo(tmp_path: Path, *answers: Answer) -> tuple[QboClient, Canned, list[float]]:
    """A QBO client as the engine builds it (its own default retry policy)."""
    store = TokenStore(tmp_path / "tokens.json")
    far = time.time() + 3600
    store.save(Tokens("123", QBO_BASE, "sandbox", "app", "access", far, "refresh", far))
    sleeps: list[float] = []
    client = QboClient(QboAuth(store, "secret"), sleep=sleeps.append)
    adapter = Canned(*answers)
    client.session.mount(QBO_BASE, adapter)
    return client, adapter, sleeps


def test_the_documented_qbo_retry_numbers() -> None:
    assert "retries (6 attempts for QBO, 5 for TPS)" in SECURITY
    assert "(120 s for QBO, 20 s for TPS)" in SECURITY
    assert "one QBO call waits 3 minutes at most in all" in SECURITY
    assert "Intuit: wait 60 s" in SECURITY
    assert THROTTLE_WINDOW == 60.0
    assert (QBO_RETRY.attempts, QBO_RETRY.max_backoff, QBO_RETRY.max_waited) == (6, 120.0, 180.0)


def test_a_qbo_server_asking_for_an_hour_waits_the_ceiling_within_the_total(
    tmp_path: Path,
) -> None:
    busy = Answer(503, "busy", "text/plain", {"Retry-After": "3600"})
    client, adapter, sleeps = _qbo(tmp_path, busy)
    with pytest.raises(QboRetriableError, match=r"503"):
        client.query("SELECT * FROM Customer")
    assert sleeps == [120.0]  # a second wait of 120 s would pass the 180 s of waits in all
    assert len(adapter.sent) == 2


# Paging: QBO 10,000 pages, TPS 100,000 -------------------------------------------------------


def test_the_shipped_paging_bounds_are_the_documented_ones() -> None:
    assert "QBO paging (10,000 pages)" in SECURITY
    assert "100,000 pages at most" in SECURITY
    assert queries.MAX_PAGES == 10_000
    assert tps.MAX_PAGES == 100_000


def test_qbo_paging_that_never_ends_is_an_error_after_exactly_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries, "MAX_PAGES", 3)
    monkeypatch.setattr(queries, "PAGE_SIZE", 2)  # every answer below is a full page
    full = Answer(body=json.dumps({"QueryResponse": {"Customer": [{"Id": "1"}, {"Id": "2"}]}}))
    client, adapter, _ = qbo_client(tmp_path, full)
    read: list[dict[str, Any]] = []
    with pytest.raises(QboRetriableError, match="more than 3 pages of Customer"):
        read.extend(client.query_all("Customer"))
    assert len(adapter.sent) == 3 and len(read) == 6
    starts = [str(sent.body).split("STARTPOSITION ")[1].split()[0] for sent in adapter.sent]
    assert starts == ["1", "3", "5"]


class FreshTokens(Canned):
    """A TPS list whose every page is full and points to a next page never seen before."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.answers = [
            Answer(body=json.dumps({"data": [], "next_page_token": f"t{len(self.sent)}"}))
        ]
        return super().send(request, **kwargs)


def test_tps_paging_that_never_ends_is_an_error_after_exactly_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tps, "MAX_PAGES", 3)
    client = TpsClient(TPS_BASE, "token", sleep=pytest.fail)
    adapter = FreshTokens(Answer())
    client.session.mount(TPS_BASE, adapter)
    with pytest.raises(TpsFatalError, match="the clients list did not end after 3 pages"):
        list(client.records("clients"))
    assert len(adapter.sent) == 3
    tokens = [requests.utils.urlparse(s.url).query for s in adapter.sent]
    assert "page_token" not in tokens[0]
    assert "page_token=t0" in tokens[1] and "page_token=t1" in tokens[2]


# Batch answers leaving items out: sent again, 3 rounds in all --------------------------------


def test_a_batch_answer_leaving_items_out_is_sent_3_times_in_all(tmp_path: Path) -> None:
    assert "sent again at most 3 rounds" in SECURITY
    assert batch.BATCH_ROUNDS == 3
    left_out = Answer(body='{"BatchItemResponse": [{"bId": "b99"}]}')
    client, adapter, _ = qbo_client(tmp_path, left_out)
    ops = [BatchOp("Customer", {"DisplayName": f"C{n}"}, key=f"c{n}") for n in range(2)]
    results = client.batch(ops)
    assert len(adapter.sent) == 3
    assert [r.record for r in results] == [None, None]
    assert "left out Customer c0 3 times" in str(results[0].error)
    assert "left out Customer c1 3 times" in str(results[1].error)


# SIGTERM during a write: held, and raised anyway after 20 s ----------------------------------


def test_a_held_sigterm_waits_the_documented_20_s_at_most(tmp_path: Path) -> None:
    assert "it is held until that commit, and raised anyway after 20 s" in SECURITY
    assert signals.GRACE_SECONDS == 20.0
    store = StateStore(tmp_path / "state.db")
    run = store.start_run("incremental")
    with signals.installed():
        journal = store.intend(run, "create:c1", "create", "qbo.Customer")
        os.kill(os.getpid(), signal.SIGTERM)  # held: the write is open
        grace = signals._grace
        assert grace is not None and grace.interval == 20.0  # the timer the hold started
        with pytest.raises(signals.Terminated), store.transaction():
            store.conclude(journal, "written", "58")
    grace.join(1)
    assert not grace.is_alive()
