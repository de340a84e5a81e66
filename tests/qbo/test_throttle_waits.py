"""A throttled call waits as QBO asks: its one-minute window (Intuit: wait 60 s after a 429),
or what a Retry-After says, bounded per wait and in all. The waits are recorded, not slept."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.canned import Answer, qbo_client
from tests.qbo.conftest import save_tokens
from tpsqbo_engine.connectors.qbo.auth import QboAuth
from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.qbo.errors import QboRetriableError
from tpsqbo_engine.connectors.qbo.limits import Limiter, Limits
from tpsqbo_engine.connectors.qbo.transport import QBO_RETRY, THROTTLE_WINDOW
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer

THROTTLED_JSON = Answer(429, '{"Fault": {"Error": [{"code": "3001", "Message": "Throttled"}]}}')
CUSTOMERS = Answer(body='{"QueryResponse": {"Customer": [{"Id": "1"}]}}')


@pytest.mark.qbo(limits="minute=5")
def test_a_throttle_waits_out_the_minute(qbo_server: QboEmulatorServer, tmp_path: Path) -> None:
    """As the session builds its client (the default policy); another process has spent the
    realm's minute, and the recording sleep lets no time pass, so every answer is a 429."""
    sleeps: list[float] = []
    store = save_tokens(qbo_server, tmp_path / "tokens.json")
    client = QboClient(QboAuth(store, qbo_server.oauth.client_secret), sleep=sleeps.append)
    for _ in range(5):
        client.company_info()
    with pytest.raises(QboRetriableError, match="3001"):
        client.company_info()
    assert sleeps and all(wait == THROTTLE_WINDOW for wait in sleeps)
    assert sum(sleeps) >= 60.0  # the window could have let it through
    assert sum(sleeps) <= QBO_RETRY.max_waited  # and the waiting ends


def test_a_throttle_that_clears_after_the_window_is_read(tmp_path: Path) -> None:
    client, adapter, sleeps = qbo_client(tmp_path, THROTTLED_JSON, CUSTOMERS)
    client.retry = QBO_RETRY
    assert client.query("SELECT * FROM Customer") == [{"Id": "1"}]
    assert sleeps == [THROTTLE_WINDOW] and len(adapter.sent) == 2


def test_the_xml_throttle_waits_the_window_too(tmp_path: Path) -> None:
    xml = Answer(
        429,
        '<IntuitResponse><Fault><Error code="3001"><Message>message=ThrottleExceeded'
        "</Message></Error></Fault></IntuitResponse>",
        "application/xml",
    )
    client, _, sleeps = qbo_client(tmp_path, xml, CUSTOMERS)
    client.retry = QBO_RETRY
    assert client.query("SELECT * FROM Customer") == [{"Id": "1"}]
    assert sleeps == [THROTTLE_WINDOW]


def test_a_retry_after_is_waited_as_asked_up_to_two_windows(tmp_path: Path) -> None:
    asked = Answer(429, THROTTLED_JSON.body, headers={"Retry-After": "7"})
    client, _, sleeps = qbo_client(tmp_path, asked, CUSTOMERS)
    client.retry = QBO_RETRY
    client.query("SELECT * FROM Customer")
    assert sleeps == [7.0]
    too_long = Answer(429, THROTTLED_JSON.body, headers={"Retry-After": "3600"})
    client, _, sleeps = qbo_client(tmp_path, too_long)
    client.retry = QBO_RETRY
    with pytest.raises(QboRetriableError):
        client.query("SELECT * FROM Customer")
    assert sleeps == [2 * THROTTLE_WINDOW]  # a second would take the waits past 3 minutes


def test_other_failures_still_back_off_briefly(tmp_path: Path) -> None:
    client, adapter, sleeps = qbo_client(tmp_path, Answer(502, "bad gateway", "text/plain"))
    client.retry = QBO_RETRY
    with pytest.raises(QboRetriableError, match="502"):
        client.query("SELECT * FROM Customer")
    assert len(adapter.sent) == QBO_RETRY.attempts
    assert sum(sleeps) <= sum(QBO_RETRY.backoff * 2**n for n in range(len(sleeps)))


def test_a_scaled_budget_waits_its_scaled_minute(tmp_path: Path) -> None:
    """`limits: scale=N` (benchmarks, the emulator's scaled windows) shortens the minute."""
    limits = Limits.parse("scale=20")
    assert limits is not None
    client, _, sleeps = qbo_client(tmp_path, THROTTLED_JSON, CUSTOMERS)
    paced = QboClient(client.auth, limiter=Limiter(limits), sleep=sleeps.append)
    paced.session = client.session
    assert paced.query("SELECT * FROM Customer") == [{"Id": "1"}]
    assert sleeps == [THROTTLE_WINDOW / 20]
