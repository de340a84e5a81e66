"""A task killed before its run took the realm's lease (a worker killed, or stalled on a
volume that stopped answering, while it opened the firm) left the firm's previous record
standing: `fleet status` said `completed` for a run that had died. Its task now says it
started, and `fleet status` shows it `lost` once that start went unanswered for a lease's
life; the redelivered task then completes the firm."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tpsqbo_engine.cli import main
from tpsqbo_engine.fleet.coord import FirmRun, now_iso
from tpsqbo_engine.fleet.local_coord import LocalCoordinator
from tpsqbo_engine.fleet.redis_coord import RedisCoordinator

from .conftest import Firms, Workers

LEASE_TTL = 3.0
WORKER = ("--busy-wait", "0.5", "--lease-ttl", str(LEASE_TTL))


def _record(coordinator: RedisCoordinator) -> FirmRun:
    return {r.firm: r for r in coordinator.runs()}["alpha"]


def _status(broker: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["fleet", "status", "--broker", broker, "--format", "json"]) == 0
    [shown] = json.loads(capsys.readouterr().out)
    assert isinstance(shown, dict)
    return shown


def _stall_token_file(config: Path) -> Path:
    """The firm's saved connection becomes a pipe nobody writes: opening the firm hangs,
    as it does on a network volume that stopped answering."""
    tokens = config.parent / ".tpsqbo" / "qbo-tokens.json"
    kept = tokens.with_name("kept-tokens.json")
    tokens.rename(kept)
    os.mkfifo(tokens, 0o600)
    return kept


def test_a_task_killed_before_its_lease_is_shown_lost_not_as_the_last_outcome(
    firms: Firms, workers: Workers, capsys: pytest.CaptureFixture[str]
) -> None:
    firm = firms.make("alpha")
    coordinator = RedisCoordinator(workers.broker)
    workers.start("w1", *WORKER)
    argv = ["fleet", "run", str(firm.config), "--broker", workers.broker, "--attempts", "1"]
    assert main([*argv, "--backup-first", "--timeout", "90", "--format", "json"]) == 0
    assert _record(coordinator).status == "completed"
    kept = _stall_token_file(firm.config)
    assert main([*argv, "--no-wait"]) == 0
    deadline = time.monotonic() + 30
    while _record(coordinator).status == "completed" and time.monotonic() < deadline:
        time.sleep(0.1)
    started = _record(coordinator)
    assert started.status == "starting" and started.task, started
    workers.kill("w1")  # while it hangs opening the firm
    time.sleep(LEASE_TTL + 0.5)
    shown = _status(workers.broker, capsys)
    assert (shown["status"], shown["task"]) == ("lost", started.task)
    assert "before it took the realm's lease" in str(shown["error"])
    # The volume answers again; another worker gets the unacknowledged task and runs it.
    (firm.config.parent / ".tpsqbo" / "qbo-tokens.json").unlink()
    kept.rename(kept.with_name("qbo-tokens.json"))
    workers.start("w2", *WORKER, "--visibility-timeout", "1", "--restore-interval", "0.5")
    deadline = time.monotonic() + 60
    while _record(coordinator).status != "completed" and time.monotonic() < deadline:
        time.sleep(0.2)
    done = _record(coordinator)
    assert (done.status, done.task, done.worker[:3]) == ("completed", started.task, "w2@")


@pytest.mark.parametrize("broker", [True, False])
def test_a_start_is_shown_until_it_expires_unanswered(
    broker: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    where = (
        ["--broker", request.getfixturevalue("fresh_redis")]
        if broker
        else ["--coord", str(tmp_path / "fleet.db")]
    )
    coordinator = RedisCoordinator(where[1]) if broker else LocalCoordinator(tmp_path / "fleet.db")
    old = FirmRun("alpha", "alpha/tpsqbo.yaml", "completed", finished=now_iso(-60))
    assert coordinator.record(old)
    start = FirmRun("alpha", "alpha/tpsqbo.yaml", "starting", started=now_iso())
    assert coordinator.record(replace(start, expires=now_iso(0.3)))
    assert main(["fleet", "status", *where]) == 0
    assert capsys.readouterr().out.split()[:4] == ["alpha", "starting", "attempt", "1"]
    time.sleep(0.4)
    assert main(["fleet", "status", *where]) == 0
    assert capsys.readouterr().out.split()[:4] == ["alpha", "lost", "attempt", "1:"]
