"""One firm that cannot start (a secret not in the environment, a broken config) is that
firm's failure, recorded and named; the other firms go on."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tpsqbo_engine.cli import main
from tpsqbo_engine.fleet import tasks
from tpsqbo_engine.fleet.coord import FirmRun
from tpsqbo_engine.fleet.redis_coord import RedisCoordinator

from .conftest import Firms, Workers


@pytest.mark.parametrize("missing", ["TPS_TOKEN_BRAVO", "QBO_SECRET_BRAVO"])
def test_a_firm_missing_a_secret_fails_alone(
    missing: str,
    firms: Firms,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    firms.make("alpha")
    bravo = firms.make("bravo")
    firms.make("charlie")
    monkeypatch.delenv(missing)  # a new firm whose env file was not loaded
    coord = tmp_path / "fleet.db"
    args = ["fleet", "run", str(firms.root), "--coord", str(coord), "--threads", "1"]
    code = main([*args, "--backup-first", "--attempts", "1", "--format", "json"])
    runs = {r["firm"]: r for r in json.loads(capsys.readouterr().out)}
    assert code == 1
    assert (runs["alpha"]["status"], runs["charlie"]["status"]) == ("completed", "completed")
    assert runs["bravo"]["status"] == "failed"
    assert missing in runs["bravo"]["error"] and str(bravo.config) in runs["bravo"]["error"]
    assert main(["fleet", "status", "--coord", str(coord)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["alpha", "completed"],
        ["bravo", "failed"],
        ["charlie", "completed"],
    ]


def test_on_a_worker_a_firm_that_cannot_start_is_recorded_failed(
    firms: Firms, fresh_redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bravo = firms.make("bravo")
    monkeypatch.delenv("TPS_TOKEN_BRAVO")
    coordinator = RedisCoordinator(fresh_redis)
    yesterday = FirmRun("bravo", str(bravo.config), "completed", finished="2026-11-26T10:05")
    assert coordinator.record(yesterday)
    task = SimpleNamespace(
        app=SimpleNamespace(conf=SimpleNamespace(broker_url=fresh_redis)),
        request=SimpleNamespace(hostname="worker-a@local", id="task-1"),
    )
    # No retry (the namespace has no `task.retry`): a missing secret cannot come by waiting.
    job = tasks.Job("bravo", str(bravo.config), attempts=3)
    outcome = tasks._sync_firm(task, tasks.WorkerSettings(), job)
    assert outcome["status"] == "failed" and "TPS_TOKEN_BRAVO" in outcome["error"]
    assert (outcome["attempt"], outcome["permanent"], outcome["task"]) == (1, True, "task-1")
    [run] = coordinator.runs()
    assert (run.status, run.error, run.permanent) == ("failed", outcome["error"], True)


def test_fleet_run_on_workers_reports_the_firm_that_cannot_start(
    firms: Firms,
    workers: Workers,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    firms.make("alpha")
    bravo = firms.make("bravo")
    coordinator = RedisCoordinator(workers.broker)
    yesterday = FirmRun("bravo", str(bravo.config), "completed", finished="2026-11-26T10:05")
    assert coordinator.record(yesterday)
    workers.env.pop("TPS_TOKEN_BRAVO")  # not in the workers' environment
    monkeypatch.delenv("TPS_TOKEN_BRAVO")
    workers.start("w1", "--busy-wait", "0.5", "--lease-ttl", "3")
    argv = ["fleet", "run", str(firms.root), "--broker", workers.broker, "--backup-first"]
    # Retried, bravo would wait 30 s and then 60 s before it is reported.
    started = time.monotonic()
    code = main(
        [*argv, "--attempts", "3", "--backoff", "30", "--timeout", "90", "--format", "json"]
    )
    runs = {r["firm"]: r for r in json.loads(capsys.readouterr().out)}
    assert code == 1
    assert runs["alpha"]["status"] == "completed"
    assert (runs["bravo"]["status"], runs["bravo"]["attempt"]) == ("failed", 1)
    assert runs["bravo"]["permanent"] is True and runs["bravo"]["task"]
    assert "TPS_TOKEN_BRAVO" in runs["bravo"]["error"]
    assert time.monotonic() - started < 30
