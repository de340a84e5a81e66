"""The fleet on real Celery workers (subprocesses) and a real Redis, all on 127.0.0.1."""

from __future__ import annotations

import json
import time

import pytest

from tests.fleet.conftest import wait_for
from tpsqbo_engine.cli import main
from tpsqbo_engine.fleet.coord import FirmRun
from tpsqbo_engine.fleet.redis_coord import RedisCoordinator
from tpsqbo_engine.sync.config import load_config
from tpsqbo_engine.sync.session import Session

from .conftest import Firms, Workers, overlaps

# Small windows that two runs back to back would overrun without one shared budget. The
# per-second window is left wide: scaled to 50 ms, a loaded machine's scheduling alone
# could break it (tests/fleet/test_coord.py checks that window).
TIGHT = "scale=20,minute=40,second=100,batch=4"
FAST_WORKER = ("--busy-wait", "0.5", "--lease-ttl", "3")


def test_two_workers_share_realms_one_run_at_a_time_one_budget_and_skip_the_poisoned(
    firms: Firms, workers: Workers, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = firms.qbo(limits=TIGHT)
    for name in ("alpha", "bravo", "charlie"):
        firms.make(name, qbo=shared, limits=TIGHT)
    firms.make("delta")
    firms.make("poisoned", tps_token="not-the-token")
    workers.start("w1", *FAST_WORKER)
    workers.start("w2", *FAST_WORKER)
    argv = ["fleet", "run", str(firms.root), "--broker", workers.broker, "--backup-first"]
    argv += ["--attempts", "2", "--backoff", "0.5", "--timeout", "90", "--format", "json"]
    code = main(argv)
    runs = {r["firm"]: FirmRun(**r) for r in json.loads(capsys.readouterr().out)}
    assert code == 1, runs
    assert {n: r.status for n, r in runs.items()} == {
        "alpha": "completed",
        "bravo": "completed",
        "charlie": "completed",
        "delta": "completed",
        "poisoned": "failed",
    }
    assert runs["poisoned"].attempt == 2 and "TPS" in runs["poisoned"].error
    on_shared = [runs[n] for n in ("alpha", "bravo", "charlie")]
    assert len({r.realm for r in on_shared}) == 1
    assert overlaps(on_shared) == []
    assert len({r.token for r in on_shared}) == 3
    assert {r.worker.split("@")[0] for r in runs.values()} == {"w1", "w2"}
    # The three runs make more calls than a 3 s window of 40 allows: only the shared budget
    # keeps them all in.
    assert shared.emulator._throttle.refused == 0  # type: ignore[union-attr]
    assert all(r.throttled == 0 for r in runs.values())
    assert sum(r.calls for r in on_shared) > 40

    assert main(["fleet", "status", "--broker", workers.broker, "--format", "json"]) == 0
    shown = {r["firm"]: r["status"] for r in json.loads(capsys.readouterr().out)}
    assert shown == {n: r.status for n, r in runs.items()}


def test_a_killed_worker_s_firm_completes_on_another_worker(
    firms: Firms, workers: Workers, capsys: pytest.CaptureFixture[str]
) -> None:
    slow = firms.qbo(faults="slow=2@2")  # every 2nd request takes two seconds: a long run
    firm = firms.make("slowpoke", qbo=slow)
    coordinator = RedisCoordinator(workers.broker)
    options = (*FAST_WORKER, "--visibility-timeout", "4", "--restore-interval", "1")
    workers.start("w1", *options)
    argv = ["fleet", "run", str(firm.config), "--broker", workers.broker, "--backup-first"]
    assert main([*argv, "--no-wait"]) == 0
    assert capsys.readouterr().out == "1 firm(s) queued; `tpsqbo-engine fleet status` shows them\n"
    first = wait_for(coordinator, "slowpoke", {"running"}, 30)
    assert first.worker.startswith("w1@")
    time.sleep(1.5)  # well into the run
    workers.kill("w1")  # the whole machine, as far as the fleet can tell
    workers.start("w2", *options)
    done = wait_for(coordinator, "slowpoke", {"completed", "partial", "failed"}, 60)
    assert done.status == "completed", done
    assert done.worker.startswith("w2@") and done.token > first.token
    # The rerun finished the job without doing anything twice.
    session = Session(load_config(firm.config))
    assert session.plan()[0].writes() == []
    invoices = session.qbo.query("SELECT * FROM Invoice MAXRESULTS 1000")
    numbers = [i["DocNumber"] for i in invoices]
    assert numbers and len(numbers) == len(set(numbers))


def test_beat_enqueues_the_scheduled_firms(
    firms: Firms, workers: Workers, capsys: pytest.CaptureFixture[str]
) -> None:
    firm = firms.make("regular")
    Session(load_config(firm.config)).backup()  # what `tpsqbo-engine backup` does
    argv = ["fleet", "schedule", str(firm.config), "--every", "2s", "--broker", workers.broker]
    assert main(argv) == 0
    workers.start("w1", *FAST_WORKER, "--beat", "--tick", "0.5")
    coordinator = RedisCoordinator(workers.broker)
    first = wait_for(coordinator, "regular", {"completed"}, 45)
    assert first.counts["Successful"] > 0
    # Every 2 s again: the next runs are ongoing syncs with nothing to write.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        latest = {r.firm: r for r in coordinator.runs()}["regular"]
        if latest.run_id > first.run_id and latest.status == "completed":
            break
        time.sleep(0.3)
    assert latest.run_id > first.run_id and latest.counts["Successful"] == 0


def test_without_workers_fleet_run_gives_up_at_its_timeout(
    firms: Firms, fresh_redis: str, capsys: pytest.CaptureFixture[str]
) -> None:
    firm = firms.make("lonely")
    argv = ["fleet", "run", str(firm.config), "--broker", fresh_redis, "--timeout", "1"]
    assert main(argv) == 2
    assert "did not finish within 1 s" in capsys.readouterr().err
