"""A real worker killed mid-run, as if on another machine: `fleet status` shows its run lost
once its lease expired, and the firm's next run takes its state lock over and completes."""

from __future__ import annotations

import json
import socket
import time

import pytest

from tests.fleet.conftest import wait_for
from tpsqbo_engine.cli import main
from tpsqbo_engine.fleet.redis_coord import RedisCoordinator
from tpsqbo_engine.sync import lock
from tpsqbo_engine.sync.config import load_config
from tpsqbo_engine.sync.firmfiles import open_state

from .conftest import Firms, Workers

LEASE_TTL = 3.0
WORKER = ("--busy-wait", "0.5", "--lease-ttl", str(LEASE_TTL))


def test_a_run_killed_on_another_machine_is_shown_lost_then_taken_over(
    firms: Firms, workers: Workers, capsys: pytest.CaptureFixture[str]
) -> None:
    slow = firms.qbo(faults="slow=2@2")  # every 2nd request takes two seconds: a long run
    firm = firms.make("slowpoke", qbo=slow)
    coordinator = RedisCoordinator(workers.broker)
    workers.start("w1", *WORKER)
    argv = ["fleet", "run", str(firm.config), "--broker", workers.broker, "--backup-first"]
    assert main([*argv, "--no-wait"]) == 0
    first = wait_for(coordinator, "slowpoke", {"running"}, 30)
    time.sleep(1.5)  # well into the run
    workers.kill("w1")
    # What that run left in the firm's state, as written on a machine of its own.
    state = open_state(load_config(firm.config).state)
    [row] = state._rows("select holder from locks where name = ?", [lock.RUN_LOCK])
    holder = str(row["holder"])
    assert holder.startswith(f"fleet:{first.realm}:{first.token}:{socket.gethostname()}:")
    elsewhere = holder.replace(socket.gethostname(), "worker-b", 1)
    state.db.execute("update locks set holder = ? where name = ?", [elsewhere, lock.RUN_LOCK])
    state.db.conn.close()
    capsys.readouterr()
    time.sleep(LEASE_TTL + 0.5)  # its lease expires unrenewed
    assert main(["fleet", "status", "--broker", workers.broker, "--format", "json"]) == 0
    [shown] = json.loads(capsys.readouterr().out)
    assert (shown["status"], shown["token"]) == ("lost", first.token)
    workers.start("w2", *WORKER)
    assert main([*argv, "--attempts", "1", "--timeout", "90", "--format", "json"]) == 0
    [done] = json.loads(capsys.readouterr().out)
    assert (done["status"], done["error"]) == ("completed", "")
    assert done["worker"].startswith("w2@") and done["token"] > first.token
