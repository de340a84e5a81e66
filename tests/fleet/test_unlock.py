"""`tpsqbo-engine unlock`: a run lock left on another host is cleared once the user says
which holder it clears; a holder provably alive (its process on this host, or a live fleet
lease) never is, and a lock taken meanwhile by another run is left alone."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tpsqbo_engine.cli import main
from tpsqbo_engine.fleet.local_coord import LocalCoordinator
from tpsqbo_engine.fleet.redis_coord import RedisCoordinator
from tpsqbo_engine.state import StateStore
from tpsqbo_engine.sync import lock

from .conftest import Firms

ELSEWHERE = "worker-b:4242:987654"  # a manual sync killed on host worker-b
CONFIG = """kind: firm
firm: acme
rules: [tps-qbo-standard]
tps: {connection: http, base_url: 'http://127.0.0.1:9', token_env: TPS_TOKEN_ACME}
qbo: {environment: 'http://127.0.0.1:9/discovery', client_secret_env: QBO_SECRET_ACME}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "acme" / "tpsqbo.yaml"
    path.parent.mkdir()
    path.write_text(CONFIG, encoding="utf-8")
    return path


def _state(config: Path) -> StateStore:
    return StateStore(config.parent / ".tpsqbo" / "state.db")


def _hold(config: Path, holder: str) -> None:
    state = _state(config)
    try:
        assert state.take_lock(lock.RUN_LOCK, holder, lambda _: True) == ""
    finally:
        state.db.conn.close()


def _holders(config: Path) -> list[str]:
    state = _state(config)
    try:
        return [str(r[0]) for r in state.db.conn.execute("select holder from locks")]
    finally:
        state.db.conn.close()


def _unlock(config: Path, *args: str) -> int:
    return main(["unlock", "--config", str(config), *args])


@pytest.fixture
def dead_pid() -> int:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return gone.pid


@pytest.fixture
def live_process() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_a_lock_on_another_host_is_shown_and_kept_without_the_user_s_word(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _hold(config, ELSEWHERE)
    state = _state(config)
    with pytest.raises(lock.RunLocked) as refused, lock.run_lock(state):
        pass
    state.db.conn.close()
    assert "tpsqbo-engine unlock" in refused.value.hint
    assert _unlock(config) == 2
    shown = capsys.readouterr()
    assert f"held by:  {ELSEWHERE}" in shown.out and "since:    20" in shown.out
    assert "another host (worker-b)" in shown.out and shown.out.rstrip().endswith("kept")
    assert f"--holder {ELSEWHERE}" in shown.err
    assert _holders(config) == [ELSEWHERE]


def test_the_exact_holder_as_shown_clears_it_and_the_firm_runs_again(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _hold(config, ELSEWHERE)
    assert _unlock(config, "--holder", "worker-b:4242:1") == 1  # not the one shown
    assert "nothing was removed" in capsys.readouterr().err
    assert _holders(config) == [ELSEWHERE]
    assert _unlock(config, "--holder", ELSEWHERE, "--format", "json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["holder"], shown["host"], shown["this_host"]) == (ELSEWHERE, "worker-b", False)
    assert (shown["process"], shown["lease"], shown["cleared"]) == ("unknown", None, True)
    assert _holders(config) == []
    state = _state(config)
    with lock.run_lock(state):  # the next run goes ahead
        assert _holders(config) == [lock.this_holder()]
    state.db.conn.close()


def test_yes_clears_another_host_s_lock(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _hold(config, ELSEWHERE)
    assert _unlock(config, "--yes") == 0
    assert capsys.readouterr().out.rstrip().endswith("cleared")
    assert _holders(config) == []


def test_a_live_process_on_this_host_is_never_cleared(
    config: Path, live_process: subprocess.Popen[bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    holder = f"{socket.gethostname()}:{live_process.pid}:{lock._started(live_process.pid)}"
    _hold(config, holder)
    assert _unlock(config, "--yes", "--holder", holder, "--format", "json") == 1
    shown = capsys.readouterr()
    assert (json.loads(shown.out)["process"], json.loads(shown.out)["cleared"]) == ("alive", False)
    assert f"its process {live_process.pid} is alive on this host" in shown.err
    assert _holders(config) == [holder]


def test_a_dead_process_on_this_host_is_cleared_without_asking(
    config: Path, dead_pid: int, capsys: pytest.CaptureFixture[str]
) -> None:
    _hold(config, f"{socket.gethostname()}:{dead_pid}:1")
    assert _unlock(config) == 0
    assert f"{dead_pid} on this host, gone" in capsys.readouterr().out
    assert _holders(config) == []


def test_a_fleet_run_s_lock_is_kept_while_its_lease_lives(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    coord = tmp_path / "fleet.db"
    lease = LocalCoordinator(coord).try_lease("9130", "worker-b:4242", 60)
    assert lease is not None
    holder = f"fleet:9130:{lease.token}:{ELSEWHERE}"
    _hold(config, holder)
    assert _unlock(config, "--yes") == 2  # its lease cannot be checked without its fleet
    assert "--broker" in capsys.readouterr().err
    assert _unlock(config, "--yes", "--coord", str(coord)) == 1
    assert "live fleet lease on realm 9130" in capsys.readouterr().err
    assert _holders(config) == [holder]
    LocalCoordinator(coord).release(lease)
    assert _unlock(config, "--coord", str(coord)) == 2  # gone, but on another host: ask
    capsys.readouterr()
    assert _unlock(config, "--holder", holder, "--coord", str(coord), "-f", "json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["fleet_realm"], shown["lease"], shown["cleared"]) == ("9130", "gone", True)
    assert _holders(config) == []


def test_a_lock_taken_meanwhile_by_another_run_is_left_alone(config: Path) -> None:
    _hold(config, ELSEWHERE)
    state = _state(config)
    seen = lock.held_lock(state)
    assert seen is not None and seen.holder.text == ELSEWHERE
    state.db.conn.execute("update locks set holder = 'worker-c:7:1'")  # the next run took it
    state.db.conn.commit()
    assert not lock.remove(state, seen)
    state.db.conn.close()
    assert _holders(config) == ["worker-c:7:1"]


def test_no_lock_no_state(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _unlock(config, "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["held"] is False
    assert not (config.parent / ".tpsqbo").exists()  # nothing made for a firm never run
    assert _unlock(config, "--format", "yaml") == 2


def test_a_sync_killed_on_another_host_no_longer_locks_its_firm_out(
    firms: Firms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slow = firms.qbo(faults="slow=2@2")  # every 2nd request takes two seconds: a long run
    firm = firms.make("acme", qbo=slow)
    assert main(["backup", "--config", str(firm.config)]) == 0
    command = [sys.executable, "-m", "tpsqbo_engine", "sync", "--config", str(firm.config)]
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _holders(firm.config) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait(10)
    [holder] = _holders(firm.config)
    assert holder.startswith(f"{socket.gethostname()}:{run.pid}:")
    # As the killed run's host wrote it, seen from this one.
    elsewhere = holder.replace(socket.gethostname(), "worker-b", 1)
    state = _state(firm.config)
    with state.transaction():
        state.db.conn.execute("update locks set holder = ?", [elsewhere])
    state.db.conn.close()
    capsys.readouterr()
    assert main(["sync", "--config", str(firm.config)]) == 1
    assert "`tpsqbo-engine unlock`" in capsys.readouterr().err
    assert _unlock(firm.config, "--holder", elsewhere) == 0
    assert main(["sync", "--config", str(firm.config), "--format", "json"]) == 0
    assert _holders(firm.config) == []


def test_a_fleet_run_s_lease_is_asked_of_its_broker(
    config: Path, fresh_redis: str, capsys: pytest.CaptureFixture[str]
) -> None:
    coordinator = RedisCoordinator(fresh_redis)
    lease = coordinator.try_lease("9130", "worker-b:4242", 60)
    assert lease is not None
    holder = f"fleet:9130:{lease.token}:{ELSEWHERE}"
    _hold(config, holder)
    assert _unlock(config, "--holder", holder, "--broker", fresh_redis) == 1
    assert "live fleet lease on realm 9130" in capsys.readouterr().err
    coordinator.release(lease)
    assert _unlock(config, "--holder", holder, "--broker", fresh_redis) == 0
    assert "lease:    realm 9130, token 1, gone" in capsys.readouterr().out
    assert _holders(config) == []
    _hold(config, holder)
    assert _unlock(config, "--yes", "--broker", "redis://127.0.0.1:1/0") == 2
    assert "cannot reach the broker" in capsys.readouterr().err


def test_a_live_fleet_run_here_is_kept_without_asking_its_fleet(
    config: Path, live_process: subprocess.Popen[bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    pid = live_process.pid
    holder = f"fleet:9130:5:{socket.gethostname()}:{pid}:{lock._started(pid)}"
    _hold(config, holder)
    assert _unlock(config, "--yes") == 1  # no broker or coord file needed to say so
    assert f"its process {pid} is alive on this host" in capsys.readouterr().err
    assert _holders(config) == [holder]
