"""A fleet run takes over the firm's run lock from a fleet run whose realm lease is gone
(killed on another machine), and only from such a one."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tpsqbo_engine.cli import main
from tpsqbo_engine.fleet.local_coord import LocalCoordinator
from tpsqbo_engine.state import StateStore
from tpsqbo_engine.sync import lock
from tpsqbo_engine.sync.config import load_config
from tpsqbo_engine.sync.firmfiles import open_state

from .conftest import Firms

# What `this_holder()` writes for a fleet run on host worker-b holding realm R's lease token 1.
KILLED_ELSEWHERE = "fleet:{realm}:1:worker-b:4242:987654"


def _hold_lock(config: Path, holder: str) -> None:
    state = open_state(load_config(config).state)
    try:
        assert state.take_lock(lock.RUN_LOCK, holder, lambda h: True) == ""
    finally:
        state.db.conn.close()


def _lock_holders(state: StateStore) -> list[str]:
    return [str(r["holder"]) for r in state._rows("select holder from locks", [])]


def test_a_fleet_run_killed_on_another_host_does_not_lock_its_firm_out(
    firms: Firms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alpha = firms.make("alpha")
    realm = str(9130000000000000 + firms.realms)  # as Firms.qbo gives it
    _hold_lock(alpha.config, KILLED_ELSEWHERE.format(realm=realm))
    coord = tmp_path / "fleet.db"
    # The dead run's lease: token 1, long expired; this run gets token 2.
    assert LocalCoordinator(coord).try_lease(realm, "worker-b:4242", 0.01) is not None
    args = ["fleet", "run", str(firms.root), "--coord", str(coord), "--backup-first"]
    code = main([*args, "--attempts", "1", "--format", "json"])
    [run] = json.loads(capsys.readouterr().out)
    assert (code, run["status"], run["error"]) == (0, "completed", "")
    assert run["token"] == 2
    state = open_state(load_config(alpha.config).state)
    assert _lock_holders(state) == []  # released after the run
    state.db.conn.close()


def test_other_hosts_holders_are_respected_unless_their_lease_is_gone() -> None:
    live = {("9130", 3)}
    fleet_lease = lock.FleetLease("9130", 4, lambda realm, token: (realm, token) in live)
    manual_elsewhere = "worker-b:4242:987654"
    token = lock.FLEET_LEASE.set(fleet_lease)
    try:
        assert lock.this_holder().startswith("fleet:9130:4:")
        assert lock.holder_alive(manual_elsewhere)  # a manual sync there: can't tell, wait
        assert lock.holder_alive("fleet:9130:3:worker-b:4242:987654")  # its lease lives
        assert not lock.holder_alive("fleet:9130:2:worker-b:4242:987654")  # its lease gone
        assert not lock.holder_alive("fleet:7777:9:worker-b:4242:987654")  # another realm's
    finally:
        lock.FLEET_LEASE.reset(token)
    # Outside a fleet run nothing asks the coordinator: another host's holder is respected.
    assert lock.holder_alive("fleet:9130:2:worker-b:4242:987654")
    assert not lock.this_holder().startswith("fleet:")


def test_a_manual_run_takes_over_a_killed_fleet_run_s_lock_on_this_host() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    here = socket.gethostname()
    assert not lock.holder_alive(f"fleet:9130:2:{here}:{gone.pid}:1")
    assert lock.holder_alive(f"fleet:9130:2:{here}:{os.getpid()}:{lock._started(os.getpid())}")
