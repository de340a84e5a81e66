"""The QBO client against the emulator over real loopback HTTP, on good days and bad."""

from __future__ import annotations

import stat
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from tests import ports
from tests.qbo.conftest import FAST, Api, save_tokens
from tests.windows import Spans, crowded
from tpsqbo_engine.connectors.qbo.auth import QboAuth
from tpsqbo_engine.connectors.qbo.batch import BatchOp
from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.qbo.connect import ConnectSettings, connect
from tpsqbo_engine.connectors.qbo.errors import (
    QboSkippableError,
    ReconnectRequired,
    StaleObjectError,
)
from tpsqbo_engine.connectors.qbo.limits import Limiter, Limits
from tpsqbo_engine.connectors.qbo.queries import NaturalKey
from tpsqbo_engine.connectors.qbo.tokens import TokenStore
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer


def _count(api: Api, entity: str, where: str) -> int:
    body = api.query(f"select count(*) from {entity} where {where}").json()
    return int(body["QueryResponse"]["totalCount"])


def _invoice_body(client: QboClient, doc_number: str, amount: str = "150.00") -> dict:
    customer = client.query("select * from Customer where DisplayName = 'Red Rock Diner'")[0]
    item = client.query("select * from Item where Name = 'Bookkeeping'")[0]
    return {
        "CustomerRef": {"value": customer["Id"]},
        "DocNumber": doc_number,
        "PrivateNote": f"sync:tps:invoice:{doc_number}",
        "Line": [
            {
                "Amount": Decimal(amount),
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {
                    "ItemRef": {"value": item["Id"]},
                    "Qty": 1,
                    "UnitPrice": Decimal(amount),
                },
            }
        ],
    }


def test_money_comes_back_as_decimal(client: QboClient) -> None:
    invoice = client.query("select * from Invoice where DocNumber = '1004'")[0]
    assert invoice["Balance"] == Decimal("140.0") and isinstance(invoice["TotalAmt"], Decimal)


def test_query_all_pages_through_everything(
    client: QboClient, qbo_server: QboEmulatorServer
) -> None:
    seeded = len(qbo_server.company.table("Customer"))
    for n in range(1100):
        qbo_server.company.create("Customer", {"DisplayName": f"Paged {n:04d}"})
    before = client.stats.calls
    names = [c["DisplayName"] for c in client.query_all("Customer")]
    assert len(names) == 1100 + seeded and len(set(names)) == 1100 + seeded
    assert client.stats.calls - before == 2


def test_a_lost_response_is_retried_without_a_duplicate(client: QboClient, api: Api) -> None:
    body = _invoice_body(client, "T-100")
    api.faults("commit-timeout#1")
    created = client.create("Invoice", body, key="inv-T-100")
    assert created["DocNumber"] == "T-100" and client.stats.retries == 1
    assert _count(api, "Invoice", "DocNumber = 'T-100'") == 1


def test_the_natural_key_guard_covers_an_ignored_requestid(client: QboClient, api: Api) -> None:
    body = _invoice_body(client, "T-101")
    api.faults("commit-timeout#1,ignore-requestid")
    created = client.create(
        "Invoice", body, key="inv-T-101", guard=NaturalKey("DocNumber", "T-101")
    )
    assert _count(api, "Invoice", "DocNumber = 'T-101'") == 1
    assert client.stats.guard_hits == 1 and created["DocNumber"] == "T-101"


def test_the_private_note_marker_guard(client: QboClient, api: Api) -> None:
    api.faults("commit-timeout#1,ignore-requestid")
    customer = client.query("select * from Customer where DisplayName = 'Red Rock Diner'")[0]
    body = {
        "CustomerRef": {"value": customer["Id"]},
        "TotalAmt": Decimal("10.00"),
        "PrivateNote": "sync:tps:payment:p-77",
    }
    client.create(
        "Payment", body, key="pay-77", guard=NaturalKey("PrivateNote", "sync:tps:payment:p-77")
    )
    payments = client.query("select * from Payment")
    assert sum("p-77" in str(p.get("PrivateNote")) for p in payments) == 1


@pytest.mark.parametrize("fault", ["throttle#2", "throttle-xml#1", "5xx#2", "slow=3#1"])
def test_transient_failures_are_retried(client: QboClient, api: Api, fault: str) -> None:
    api.faults(fault)
    assert client.preferences()["SalesFormsPrefs"]["ETransactionPaymentEnabled"] is True
    assert client.stats.retries >= 1


def test_validation_faults_are_skippable_with_code_and_tid(client: QboClient) -> None:
    with pytest.raises(QboSkippableError) as failure:
        client.create("Customer", {"DisplayName": "Amy's Bird Sanctuary"}, key="dup")
    assert failure.value.fault.code == "6240"
    assert failure.value.fault.intuit_tid


def test_a_stale_sync_token_is_reread_and_the_change_applied_again(
    client: QboClient, api: Api
) -> None:
    customer = api.create("Customer", {"DisplayName": "Busy Desk"})
    real_read = client.read
    calls = []

    def read_then_someone_else_edits(entity: str, ident: str, **kw: str) -> dict:
        record = real_read(entity, ident, **kw)
        if not calls:
            api.post(
                "customer",
                {
                    "Id": ident,
                    "SyncToken": record["SyncToken"],
                    "sparse": True,
                    "Notes": "edited in QBO",
                },
            )
        calls.append(ident)
        return record

    client.read = read_then_someone_else_edits  # type: ignore[method-assign]
    updated = client.update("Customer", customer["Id"], {"CompanyName": "Busy Desk Ltd"})
    assert len(calls) == 2
    assert updated["Notes"] == "edited in QBO" and updated["CompanyName"] == "Busy Desk Ltd"


def test_stale_too_often_gives_up(client: QboClient, api: Api) -> None:
    customer = api.create("Customer", {"DisplayName": "Always Stale"})
    stale = dict(customer)
    client.read = lambda *a, **k: stale  # type: ignore[method-assign]
    api.post("customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Notes": "x"})
    with pytest.raises(StaleObjectError):
        client.update("Customer", customer["Id"], {"Notes": "mine"})


@pytest.mark.qbo(refresh_rotation=0)
def test_an_expired_access_token_is_refreshed_and_the_rotation_saved(
    client: QboClient, api: Api, tmp_path: Path
) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    before = store.load()
    api.faults("expire-token#1")
    assert client.company_info()["Country"] == "US"
    after = store.load()
    assert after.refresh_token != before.refresh_token
    assert after.access_token != before.access_token
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


@pytest.mark.qbo(refresh_rotation=0)
def test_a_superseded_refresh_token_asks_to_reconnect_and_writes_nothing(
    client: QboClient, api: Api, qbo_server: QboEmulatorServer, tmp_path: Path
) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    tokens = store.load()
    from tests.qbo.conftest import token_grant

    token_grant(qbo_server, tokens.refresh_token)  # another installation rotated it
    qbo_server.oauth.expire_access_tokens()
    with pytest.raises(ReconnectRequired) as failure:
        client.create("Customer", {"DisplayName": "Never Written"}, key="nw")
    assert "tpsqbo-engine connect" in failure.value.hint
    assert qbo_server.company.find_by("Customer", "DisplayName", "Never Written") is None
    assert tokens.refresh_token not in repr(tokens)


def test_void_delete_and_deactivate(client: QboClient, api: Api) -> None:
    invoice = client.create("Invoice", _invoice_body(client, "T-200"), key="T-200")
    assert client.void("Invoice", invoice["Id"])["TotalAmt"] == 0
    other = client.create("Invoice", _invoice_body(client, "T-201"), key="T-201")
    assert client.delete("Invoice", other["Id"])["Invoice"]["status"] == "Deleted"
    customer = client.create("Customer", {"DisplayName": "Short Lived"}, key="sl")
    assert client.deactivate("Customer", customer["Id"])["Active"] is False


def test_batch_packs_thirty_to_a_call_and_reports_each_item(client: QboClient) -> None:
    ops = [BatchOp("Customer", {"DisplayName": f"Batched {n:02d}"}, key=f"c{n}") for n in range(64)]
    ops.append(BatchOp("Customer", {"DisplayName": "Amy's Bird Sanctuary"}, key="dup"))
    before = client.stats.batch_calls
    results = client.batch(ops)
    assert client.stats.batch_calls - before == 3
    assert [r.record["DisplayName"] for r in results[:64] if r.record] == [
        f"Batched {n:02d}" for n in range(64)
    ]
    assert isinstance(results[64].error, QboSkippableError)


def test_a_lost_batch_response_creates_no_duplicates(client: QboClient, api: Api) -> None:
    ops = [
        BatchOp(
            "Invoice",
            _invoice_body(client, f"B-{n}"),
            key=f"B-{n}",
            guard=NaturalKey("DocNumber", f"B-{n}"),
        )
        for n in range(5)
    ]
    api.faults("commit-timeout#1,ignore-requestid")
    results = client.batch(ops)
    assert all(r.record for r in results) and client.stats.guard_hits == 5
    assert _count(api, "Invoice", "DocNumber LIKE 'B-%'") == 5


def test_cdc_keeps_reading_past_a_saturated_answer(
    client: QboClient, qbo_server: QboEmulatorServer
) -> None:
    from datetime import UTC, datetime, timedelta

    since = datetime.now(UTC) - timedelta(seconds=2)
    for n in range(1500):
        qbo_server.company.create("Customer", {"DisplayName": f"Tide {n:04d}"})
    changes = client.cdc(["Customer", "Invoice"], since)
    tide = {c["DisplayName"] for c in changes["Customer"] if c["DisplayName"].startswith("Tide")}
    assert len(tide) == 1500


def test_cdc_that_is_always_saturated_ends_in_an_error(
    client: QboClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that answers every CDC call with 1,000 ever newer changes is not followed
    for ever: after a bounded number of answers the read stops with a clear error."""
    from datetime import UTC, datetime, timedelta

    from tpsqbo_engine.connectors.qbo import client as client_module
    from tpsqbo_engine.connectors.qbo.errors import QboRetriableError

    monkeypatch.setattr(client_module, "MAX_PAGES", 3)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    calls = []

    def saturated(method: str, path: str, **kwargs: object) -> dict[str, object]:
        calls.append(path)
        base = start + timedelta(hours=len(calls))
        rows = [
            {
                "Id": str(n),
                "MetaData": {"LastUpdatedTime": (base + timedelta(seconds=n)).isoformat()},
            }
            for n in range(1000)
        ]
        return {"CDCResponse": [{"QueryResponse": [{"Customer": rows}]}]}

    monkeypatch.setattr(client, "call", saturated)
    with pytest.raises(QboRetriableError, match="saturated"):
        client.cdc(["Customer"], start)
    assert len(calls) == 3


@pytest.mark.qbo(limits="scale=2")
def test_the_client_limiter_keeps_under_the_service_limits(
    qbo_server: QboEmulatorServer, tmp_path: Path
) -> None:
    """Judged by when the limiter admitted each call against the service's windows: the
    service counts a call when it arrives, which on a busy machine can be later than the
    limiter let it go by more than the client's margin at these scaled seconds. The second
    is scaled to 500 ms, not 50: ten calls take far less even on a loaded machine, so the
    window always has to hold the rest back."""
    store = save_tokens(qbo_server, tmp_path / "tokens.json")
    limits = Limits.parse("scale=2")
    assert limits is not None
    limiter, spans = Limiter(limits), Spans()

    class Recorded:
        def acquire(self, *, batch: bool) -> str:
            return spans.timed(limiter.acquire, batch=batch)

        def finished(self, ticket: str) -> None:
            limiter.finished(ticket)

        def batch_room(self) -> bool:
            return limiter.batch_room()

    paced = QboClient(
        QboAuth(store, qbo_server.oauth.client_secret), limiter=Recorded(), retry=FAST
    )
    for _ in range(30):
        paced.preferences()
    assert len(spans.calls) == paced.stats.calls == 30 + paced.stats.retries
    assert limiter.waited > 0  # 30 calls at 10 a second: the second window had to hold them
    assert not crowded(spans.calls, limits.per_second + 1, limits.second)


def test_the_limiter_waits_when_a_window_is_full() -> None:
    limiter = Limiter(Limits(per_minute=3, per_second=100, batch_per_minute=100, scale=60))
    for _ in range(3):
        limiter.finished(limiter.acquire(batch=False))
    assert limiter.waited == 0
    limiter.acquire(batch=False)  # the fourth call of the (one-second) minute must wait
    assert limiter.waited > 0


def test_connect_runs_the_oauth_flow_through_a_loopback_redirect(
    qbo_server: QboEmulatorServer, tmp_path: Path
) -> None:
    token_file = tmp_path / "conn" / "tokens.json"
    tokens = connect(
        ConnectSettings(
            qbo_server.oauth.client_id,
            qbo_server.oauth.client_secret,
            qbo_server.discovery_url,
            ports.REDIRECT,
            token_file,
        ),
        announce=lambda url: requests.get(url, timeout=10),
        timeout=10,
    )
    assert tokens.realm_id == qbo_server.company.realm_id
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    client = QboClient(QboAuth(TokenStore(token_file), qbo_server.oauth.client_secret), retry=FAST)
    assert client.company_info()["CompanyName"] == "Sandbox Company US 1"


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("scale=0", "scale must be a number above 0"),
        ("scale=-2", "scale must be a number above 0"),
        ("scale=nan", "scale must be a number above 0"),
        ("scale=1,minute=0", "minute and second must be above 0"),
        ("scale=1,batch=-1", "batch 0 or more"),
        ("scale=1x", "not a number"),
    ],
)
def test_limits_the_client_cannot_keep_are_refused_wherever_they_come_from(
    spec: str, why: str
) -> None:
    # The firm config and `emulate --limits` say so located; any other caller gets the same.
    with pytest.raises(ValueError, match=why):
        Limits.parse(spec)
    assert Limits.parse("scale=1,batch=0") is not None  # every write singly: allowed
