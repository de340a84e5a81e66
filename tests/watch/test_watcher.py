"""The watcher against both emulators: an online payment reaches TPS through a webhook,
a lost webhook through the sweep, a crash loses and duplicates nothing, SIGTERM finishes
the run in flight."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer
from tpsqbo_engine.emulators.qbo.webhooks import legacy_payload, sign
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer
from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.executor import Executor
from tpsqbo_engine.sync.session import Session
from tpsqbo_engine.watch.demo import (
    open_session,
    payable_invoice,
    wait_idle,
    wait_until_paid,
    watching,
)
from tpsqbo_engine.watch.runs import run_trigger, tps_changed
from tpsqbo_engine.watch.watcher import Watcher, WatchOptions

Firm = tuple[Session, QboEmulatorServer, TpsEmulatorServer]


@pytest.fixture
def firm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Firm]:
    monkeypatch.setenv("TPSQBO_WEBHOOK_VERIFIER", "test-verifier")
    with demo_firm(tmp_path) as started:
        session = started[0]
        session.backup()
        session.sync(render_to=tmp_path / "invoices")
        yield started


def _options(session: Session, **changes: float) -> WatchOptions:
    values = {"debounce": 0.5, "poll": 0.0, "tps_poll": 0.0, "reconcile": 0.0, **changes}
    return WatchOptions(session.config.path, port=0, **values)  # type: ignore[arg-type]


def _pay(session: Session, folder: Path, skip: int = 0) -> str:
    invoice, link = payable_invoice(session, folder, skip)
    requests.post(link, params={"format": "json"}, timeout=10).raise_for_status()
    return invoice


def _online_payments(tps: TpsEmulatorServer) -> Counter[str]:
    return Counter(
        str(p.get("reference"))
        for p in tps.firm.table("payments").values()
        if p.get("source") == "qbo_online"
    )


def test_an_online_payment_reaches_tps_through_the_webhook_in_one_run(
    firm: Firm, tmp_path: Path
) -> None:
    session, qbo, tps = firm
    with watching(session, qbo, _options(session, debounce=2.0)) as watcher:
        wait_idle(watcher, 1)  # the run on start
        started = time.monotonic()
        first = _pay(session, tmp_path / "invoices")
        second = _pay(session, tmp_path / "invoices", skip=1)  # within the same window
        landed = wait_until_paid(session, second, timeout=30)
        assert landed is not None and landed - started < 10
        assert wait_until_paid(session, first, timeout=1) is not None
        wait_idle(watcher, 2)
        assert watcher.metrics.runs[("webhook", "completed")] == 1  # both payments, one run
        metrics = requests.get(f"http://127.0.0.1:{watcher.port}/metrics", timeout=5).text
        assert 'tpsqbo_runs_total{trigger="webhook",status="completed"} 1' in metrics
        assert 'tpsqbo_runs_total{trigger="start",status="completed"} 1' in metrics
        health = requests.get(f"http://127.0.0.1:{watcher.port}/healthz", timeout=5)
        assert health.status_code == 200 and health.json()["last_success"] > 0
        unsigned = requests.post(f"http://127.0.0.1:{watcher.port}/webhooks", data=b"{}", timeout=5)
        assert unsigned.status_code == 401
    assert sorted(_online_payments(tps).values()) == [1, 1]


def test_a_lost_webhook_is_caught_by_the_sweep(firm: Firm, tmp_path: Path) -> None:
    session, qbo, tps = firm
    with watching(session, qbo, _options(session, poll=2.0)) as watcher:
        wait_idle(watcher, 1)
        qbo.company.listeners.clear()  # every webhook from here on is lost
        time.sleep(0.5)  # what was already on its way has arrived
        delivered = sum(watcher.metrics.deliveries.values())
        sweeps = watcher.metrics.runs[("sweep", "completed")]
        invoice = _pay(session, tmp_path / "invoices")
        assert wait_until_paid(session, invoice, timeout=30) is not None
        assert sum(watcher.metrics.deliveries.values()) == delivered  # nothing announced it
        wait_idle(watcher, 2)
        assert watcher.metrics.runs[("sweep", "completed")] > sweeps
    assert list(_online_payments(tps).values()) == [1]


class _Crash(BaseException):
    """The watcher's process dying mid-run: nothing catches it."""


def test_a_watcher_that_dies_mid_run_misses_nothing_and_writes_nothing_twice(
    firm: Firm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, qbo, tps = firm
    real = Executor._commit

    def die(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise _Crash  # the write reached TPS; its link and history did not

    cloud = "cloudevents"  # the format Intuit is moving to, end to end
    with pytest.raises(_Crash), watching(session, qbo, _options(session), cloud) as watcher:
        wait_idle(watcher, 1)
        monkeypatch.setattr(Executor, "_commit", die)
        paid = [_pay(session, tmp_path / "invoices", skip=n) for n in (0, 1)]
        watcher.stopping.wait(30)  # the thread dies; `watching` hands the crash over
    monkeypatch.setattr(Executor, "_commit", real)
    assert _online_payments(tps)  # the crash came after TPS had the payment
    # Restarted: its run on start finds the payments by CDC; TPS's idempotency keys
    # and the journal keep them single.
    with watching(session, qbo, _options(session)) as watcher:
        wait_idle(watcher, 1)
    assert all(wait_until_paid(session, i, timeout=1) is not None for i in paid)
    assert sorted(_online_payments(tps).values()) == [1, 1]
    assert session.plan()[0].writes() == []


def test_the_watcher_refuses_a_firm_with_no_sync_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TPSQBO_WEBHOOK_VERIFIER", "test-verifier")
    with demo_firm(tmp_path) as (session, _, _), pytest.raises(UsageError, match="no sync yet"):
        Watcher(_options(session), open_session).serve()
    monkeypatch.delenv("TPSQBO_WEBHOOK_VERIFIER")
    with pytest.raises(UsageError, match="TPSQBO_WEBHOOK_VERIFIER"):
        Watcher(_options(session), open_session)


def test_tps_poll_runs_only_when_tps_changed_and_reconcile_is_a_run_with_a_report(
    firm: Firm,
) -> None:
    session, _, tps = firm
    assert not tps_changed(session)
    assert not run_trigger(session, "tps-poll").synced  # nothing asked of QBO
    client = next(iter(tps.firm.table("clients").values()))
    session.tps.update("clients", client["id"], {"phone": "555-0199"}, version=client["version"])
    assert tps_changed(session)
    assert run_trigger(session, "tps-poll").synced
    assert not tps_changed(session) or session.plan()[0].writes() == []
    outcome = run_trigger(session, "reconcile")
    run = session.state.runs(1)[0]
    assert run["id"] == outcome.run_id and run["phase"] == "reconcile"
    (summary,) = [i for i in session.state.items(outcome.run_id) if i["record"] == "reconcile"]
    assert summary["status"] == "Successful" and "0 with a difference" in summary["message"]
    assert (session.config.workdir / "reports" / f"reconcile-{outcome.run_id}.html").is_file()


def test_demo_watch_prints_when_the_payment_lands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tpsqbo_engine.cli import main

    pack = tmp_path / "pack"  # --rules reaches the firm the watcher syncs
    pack.mkdir()
    (pack / "pack.yaml").write_text(
        "kind: pack\nid: watched\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"
    )
    run = tmp_path / "run"
    assert main(["demo", "--watch", "--workdir", str(run), "--rules", str(pack)]) == 0
    assert f"rules: [{json.dumps(str(pack.resolve()))}]" in (run / "tpsqbo.yaml").read_text()
    lines = capsys.readouterr().out.splitlines()
    landed = next(line for line in lines if "TPS shows" in line)
    assert "(debounce 3 s)" in landed
    assert float(landed.split(": ")[1].split(" s after")[0]) < 10


def test_sigterm_finishes_the_run_in_flight_and_exits_0(firm: Firm, tmp_path: Path) -> None:
    session, qbo, _ = firm
    env = {**os.environ, "TPSQBO_WEBHOOK_VERIFIER": "test-verifier"}
    watcher = subprocess.Popen(
        [sys.executable, "-m", "tpsqbo_engine", "watch", "-c", str(session.config.path),
         "--port", "0", "--debounce", "0.2", "--poll", "off", "--tps-poll", "off",
         "--reconcile", "off", "--log-format", "json"],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert watcher.stderr is not None
        events = []
        for line in watcher.stderr:
            events.append(json.loads(line))
            if events[-1].get("event") == "run.finished":
                break
        # A slow QBO keeps the next run in flight; SIGTERM arrives during it.
        requests.post(
            f"{qbo.base_url}/__emulator__/faults",
            json={"spec": "slow=0.3@1"},
            headers={"Authorization": f"Bearer {qbo.emulator.admin_token}"},
            timeout=5,
        ).raise_for_status()
        client = next(iter(session.tps.records("clients")))
        session.tps.update(
            "clients", client["id"], {"phone": "555-0100"}, version=client["version"]
        )
        port = next(e["port"] for e in events if e.get("event") == "watch.start")
        body = json.dumps(
            legacy_payload(session.qbo.realm_id, [("Customer", "1", "Update", "now")])
        ).encode()
        requests.post(
            f"http://127.0.0.1:{port}/webhooks", data=body,
            headers={"intuit-signature": sign("test-verifier", body)}, timeout=5,
        )  # fmt: skip
        deadline, in_flight = time.monotonic() + 20, False
        while time.monotonic() < deadline and not in_flight:
            metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            in_flight = "tpsqbo_run_in_progress 1" in metrics.splitlines()
            time.sleep(0.02)
        assert in_flight
        # A delivery during the run is answered at once: the work waits for the next run.
        started = time.monotonic()
        again = requests.post(
            f"http://127.0.0.1:{port}/webhooks", data=body,
            headers={"intuit-signature": sign("test-verifier", body + b" ")}, timeout=5,
        )  # fmt: skip
        assert again.status_code == 401 and time.monotonic() - started < 1.0
        started = time.monotonic()
        other = json.dumps(legacy_payload(session.qbo.realm_id, [("Item", "3", "Update", "t")]))
        answered = requests.post(
            f"http://127.0.0.1:{port}/webhooks", data=other.encode(),
            headers={"intuit-signature": sign("test-verifier", other.encode())}, timeout=5,
        )  # fmt: skip
        assert answered.status_code == 200 and time.monotonic() - started < 1.0
        watcher.send_signal(signal.SIGTERM)
        assert watcher.wait(timeout=60) == 0
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
        if watcher.stderr is not None:
            watcher.stderr.close()
    runs = session.state.runs(5)
    assert [r["status"] for r in runs[:3]] == ["completed"] * 3  # initial, start, webhook
    written = {i["record"] for i in session.state.items(runs[0]["id"], "Successful")}
    assert f"tps.Client:{client['id']}" in written  # the run in flight was finished


class _ClosedUnderIt:
    """A server whose sockets were closed by another thread while its loop waited on them."""

    def run(self) -> None:
        raise OSError(9, "Bad file descriptor")


def test_the_http_loop_ends_quietly_only_when_the_watcher_closed_it() -> None:
    import threading

    from tpsqbo_engine.watch.watcher import _serve

    closing = threading.Event()
    with pytest.raises(OSError):
        _serve(_ClosedUnderIt(), closing)  # while serving: a failure, reported
    closing.set()
    _serve(_ClosedUnderIt(), closing)  # after the watcher closed it: expected
