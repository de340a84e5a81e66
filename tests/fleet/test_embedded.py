"""The embedded fleet: no broker, a pool of threads, leases and budgets in SQLite."""

from __future__ import annotations

import contextvars
import json
from pathlib import Path

import pytest

from tpsqbo_engine.cli import main
from tpsqbo_engine.connectors.tps import sheetio
from tpsqbo_engine.fleet import embedded
from tpsqbo_engine.fleet.coord import Coordinator, FirmRun
from tpsqbo_engine.fleet.embedded import EmbeddedFleet, RetryPolicy
from tpsqbo_engine.fleet.firms import Firm, load_fleet
from tpsqbo_engine.fleet.local_coord import LocalCoordinator

from .conftest import Firms, overlaps


def test_fleet_run_syncs_every_firm_one_run_per_realm_and_reports_the_poisoned(
    firms: Firms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = firms.qbo(limits="scale=20,second=100")
    firms.make("alpha", qbo=shared, limits="scale=20,second=100")
    firms.make("bravo", qbo=shared, limits="scale=20,second=100")
    firms.make("charlie")
    # Its TPS token is wrong: every run of it fails.
    firms.make("poisoned", tps_token="not-the-token")
    coord = tmp_path / "fleet.db"
    argv = ["fleet", "run", str(firms.root), "--coord", str(coord), "--backup-first"]
    argv += ["--threads", "3"]
    code = main([*argv, "--attempts", "2", "--backoff", "0.2", "--format", "json"])
    runs = {r["firm"]: FirmRun(**r) for r in json.loads(capsys.readouterr().out)}
    assert code == 1  # one firm failed
    assert {n: r.status for n, r in runs.items()} == {
        "alpha": "completed",
        "bravo": "completed",
        "charlie": "completed",
        "poisoned": "failed",
    }
    assert runs["poisoned"].attempt == 2 and "TPS" in runs["poisoned"].error
    assert runs["alpha"].counts["Successful"] > 0
    assert runs["alpha"].realm == runs["bravo"].realm != runs["charlie"].realm
    assert overlaps([runs["alpha"], runs["bravo"]]) == []
    assert runs["bravo"].token != runs["alpha"].token
    assert shared.emulator._throttle.refused == 0  # type: ignore[union-attr]

    assert main(["fleet", "status", "--coord", str(coord), "--format", "json"]) == 0
    shown = {r["firm"]: r["status"] for r in json.loads(capsys.readouterr().out)}
    assert shown == {n: r.status for n, r in runs.items()}
    assert main(["fleet", "status", "--coord", str(coord)]) == 0
    text = capsys.readouterr().out
    assert "poisoned" in text and "failed" in text and "ago]" in text


def test_a_realm_that_stays_busy_is_reported_not_waited_on_forever(
    firms: Firms, tmp_path: Path
) -> None:
    firm = firms.make("stuck")
    coordinator = LocalCoordinator(tmp_path / "fleet.db")
    held = coordinator.try_lease(firm.qbo.company.realm_id, "elsewhere", 60)
    assert held is not None
    fleet = EmbeddedFleet(coordinator, policy=RetryPolicy(busy_wait=0.1, busy_waits=3))
    [run] = fleet.run(load_fleet([firm.config]))
    assert run.status == "failed" and "stayed busy through 3 waits" in run.error
    assert coordinator.holds(held)  # nothing touched the other run's lease


def test_the_root_encoding_reaches_the_fleet_s_pool_threads(
    firms: Firms, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `tpsqbo-engine --encoding cp1252 fleet run ...`: the firms run in pool threads, which
    # start with an empty context unless the fleet hands them the command's.
    seen: list[str] = []

    def recording_run(firm: Firm, coordinator: Coordinator, **_: object) -> FirmRun:
        seen.append(sheetio._command_line.get())
        return FirmRun(firm.name, str(firm.config), "completed")

    monkeypatch.setattr(embedded, "run_firm", recording_run)
    firms.make("alpha")
    firms.make("bravo")
    argv = ["--encoding", "cp1252", "fleet", "run", str(firms.root)]
    argv += ["--coord", str(tmp_path / "fleet.db"), "--threads", "2"]
    assert contextvars.copy_context().run(main, argv) == 0
    assert seen == ["cp1252", "cp1252"]
