"""An embedded `fleet run` killed while a firm waited for its next attempt: nothing will
try that firm again, so `fleet status` shows it `lost` once the fleet run's own lease
expired, not `retrying` for ever."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tpsqbo_engine.cli import main
from tpsqbo_engine.fleet.coord import FirmRun
from tpsqbo_engine.fleet.embedded import EmbeddedFleet, RetryPolicy
from tpsqbo_engine.fleet.firms import Firm
from tpsqbo_engine.fleet.local_coord import LocalCoordinator

from .conftest import Firms
from .test_checklist_failures import _unreachable_tps


def _record(coord: Path) -> FirmRun | None:
    runs = LocalCoordinator(coord).runs() if coord.is_file() else []
    return runs[0] if runs else None


def test_a_killed_embedded_fleet_s_retrying_firm_is_shown_lost(
    firms: Firms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    firm = firms.make("bravo")
    _unreachable_tps(firm.config)  # fails (a connection error) and waits to try again
    coord = tmp_path / "fleet.db"
    argv = ["fleet", "run", str(firm.config), "--coord", str(coord), "--backoff", "600"]
    command = [sys.executable, "-m", "tpsqbo_engine", *argv]
    env = {**os.environ, **firms.env}
    run = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while (found := _record(coord)) is None or found.status != "retrying":
            assert time.monotonic() < deadline and run.poll() is None, found
            time.sleep(0.2)
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait(10)
    # Its lease lives for the default lease time (60 s): let it lapse here instead.
    with LocalCoordinator(coord)._write() as db:
        db.execute("UPDATE leases SET expires = 0")
    capsys.readouterr()
    assert main(["fleet", "status", "--coord", str(coord), "--format", "json"]) == 0
    [shown] = json.loads(capsys.readouterr().out)
    assert shown["status"] == "lost" and "was to try it again" in shown["error"], shown


def test_a_live_embedded_fleet_s_retrying_firm_is_shown_retrying(
    firms: Firms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    firm = firms.make("bravo")
    _unreachable_tps(firm.config)
    coord = tmp_path / "fleet.db"
    shown: list[str] = []

    def report(run: FirmRun) -> None:
        if run.status == "retrying":
            assert main(["fleet", "status", "--coord", str(coord)]) == 0
            shown.append(capsys.readouterr().out)

    fleet = EmbeddedFleet(
        LocalCoordinator(coord), policy=RetryPolicy(attempts=2, backoff=0.1), report=report
    )
    [done] = fleet.run([Firm("bravo", firm.config)])
    assert (done.status, done.attempt) == ("failed", 2)
    assert [s.split()[:2] for s in shown] == [["bravo", "retrying"]]
