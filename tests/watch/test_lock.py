"""One run at a time per firm: the lock in the state."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tpsqbo_engine.state import StateStore
from tpsqbo_engine.sync.lock import RUN_LOCK, RunLocked, holder_alive, run_lock, this_holder


def _held_by(state: StateStore, pid: int) -> None:
    assert state.take_lock(RUN_LOCK, f"{socket.gethostname()}:{pid}", lambda _: True) == ""


def test_a_run_is_refused_while_a_live_process_holds_the_lock(tmp_path: Path) -> None:
    state = StateStore(tmp_path / "state.db")
    _held_by(state, os.getppid())  # another process on this host, alive
    with pytest.raises(RunLocked, match="in progress") as refused, run_lock(state):
        pass
    assert str(os.getppid()) in refused.value.holder


def test_a_lock_left_by_a_killed_process_is_taken_over_and_released_after(
    tmp_path: Path,
) -> None:
    state = StateStore(tmp_path / "state.db")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    _held_by(state, gone.pid)
    assert not holder_alive(f"{socket.gethostname()}:{gone.pid}")
    with run_lock(state):
        rows = list(state.db.table("locks").rows)
        assert rows[0]["holder"] == this_holder()
    assert list(state.db.table("locks").rows) == []


def test_a_lock_held_on_another_host_is_respected() -> None:
    assert holder_alive("some-other-host:1")


def test_a_live_process_that_reused_the_holders_pid_does_not_keep_the_lock() -> None:
    host, pid, started = this_holder().split(":")
    assert started  # Linux tells when a process started
    assert holder_alive(this_holder())
    assert not holder_alive(f"{host}:{pid}:{int(started) + 1}")
