"""A run killed mid-way (its `running` record left behind) is shown as lost once its lease
expired, and the firm's later outcomes replace it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tpsqbo_engine.cli import main
from tpsqbo_engine.fleet.coord import Coordinator, FirmRun, now_iso
from tpsqbo_engine.fleet.embedded import EmbeddedFleet, RetryPolicy
from tpsqbo_engine.fleet.firms import Firm
from tpsqbo_engine.fleet.local_coord import LocalCoordinator


def _running(coordinator: Coordinator, ttl: float) -> FirmRun:
    lease = coordinator.try_lease("9130", "worker-b:4242", ttl)
    assert lease is not None
    run = FirmRun("acme", "acme/tpsqbo.yaml", "running", "9130", started=now_iso())
    run = FirmRun(**{**run.__dict__, "worker": lease.owner, "token": lease.token})
    assert coordinator.record(run)
    return run


def test_a_killed_run_s_record_gives_way_once_its_lease_expired(
    coordinator: Coordinator, tmp_path: Path
) -> None:
    _running(coordinator, 0.05)  # the run is killed: its lease is never renewed
    time.sleep(0.1)
    config = tmp_path / "acme" / "tpsqbo.yaml"
    config.parent.mkdir()
    config.write_text("kind: firm\nfirm: [acme\n", encoding="utf-8")  # broken since
    fleet = EmbeddedFleet(coordinator, policy=RetryPolicy(attempts=1))
    [outcome] = fleet.run([Firm("acme", config)])
    [recorded] = coordinator.runs()
    assert recorded.status == outcome.status == "failed"
    assert "tpsqbo.yaml" in recorded.error


def test_a_live_run_s_record_is_not_replaced_by_a_waiting_one(coordinator: Coordinator) -> None:
    _running(coordinator, 60)
    waiting = FirmRun("acme", "acme/tpsqbo.yaml", "waiting", "9130")
    assert not coordinator.record(waiting)
    assert [r.status for r in coordinator.runs()] == ["running"]


def test_status_shows_a_run_whose_lease_is_gone_as_lost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    coord = tmp_path / "fleet.db"
    coordinator = LocalCoordinator(coord)
    _running(coordinator, 0.01)
    time.sleep(0.05)
    assert main(["fleet", "status", "--coord", str(coord), "--format", "json"]) == 0
    [run] = json.loads(capsys.readouterr().out)
    assert run["status"] == "lost" and "lease" in run["error"]
    assert main(["fleet", "status", "--coord", str(coord)]) == 0
    assert capsys.readouterr().out.split()[:2] == ["acme", "lost"]
