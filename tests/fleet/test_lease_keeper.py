"""The lease keeper rides out a coordinator that fails to answer a renewal, and stops the
run's writes once the lease is really gone."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from tests.fleet.local_redis import running_redis
from tpsqbo_engine.fleet.coord import Lease, LeaseLost
from tpsqbo_engine.fleet.local_coord import LocalCoordinator
from tpsqbo_engine.fleet.redis_coord import RedisCoordinator
from tpsqbo_engine.fleet.runner import FencedBudget, LeaseKeeper


class Blips(LocalCoordinator):
    """Its renewals fail (as Redis's do while it stalls) `failing` times, then work."""

    def __init__(self, path: Path, failing: int) -> None:
        super().__init__(path)
        self.failing, self.renewals = failing, 0

    def renew(self, lease: Lease, ttl: float) -> bool:
        self.renewals += 1
        if self.failing > 0:
            self.failing -= 1
            raise TimeoutError("Timeout reading from socket")
        return super().renew(lease, ttl)


def test_a_failed_renewal_is_tried_again_within_the_lease_s_life(tmp_path: Path) -> None:
    coordinator = Blips(tmp_path / "fleet.db", failing=2)
    lease = coordinator.try_lease("realm-1", "worker-a", 1.2)
    assert lease is not None
    keeper = LeaseKeeper(coordinator, lease, 1.2, retry=0.05)
    try:
        time.sleep(3.0)  # two and a half lives of the lease
        assert coordinator.holds(lease)
        assert keeper.valid() and keeper.failed_renewals == 2
        assert coordinator.renewals >= 5
        FencedBudget(None, coordinator, lease, keeper).acquire(batch=False)
    finally:
        keeper.stop()


def test_a_lease_never_renewed_stops_the_run_before_its_next_write(tmp_path: Path) -> None:
    coordinator = Blips(tmp_path / "fleet.db", failing=1000)
    lease = coordinator.try_lease("realm-1", "worker-a", 0.3)
    assert lease is not None
    keeper = LeaseKeeper(coordinator, lease, 0.3, retry=0.02)
    try:
        time.sleep(0.5)
        assert not keeper.valid()
        with pytest.raises(LeaseLost):
            FencedBudget(None, coordinator, lease, keeper).acquire(batch=False)
    finally:
        keeper.stop()


def test_a_lease_taken_over_ends_the_keeping(tmp_path: Path) -> None:
    coordinator = LocalCoordinator(tmp_path / "fleet.db")
    lease = coordinator.try_lease("realm-1", "worker-a", 3.0)
    assert lease is not None
    keeper = LeaseKeeper(coordinator, lease, 3.0)
    try:
        coordinator.release(lease)
        assert coordinator.try_lease("realm-1", "worker-b", 60) is not None
        deadline = time.monotonic() + 2.5  # before the lease would have expired anyway
        while keeper.valid() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not keeper.valid()  # the renewal at 1 s was refused
    finally:
        keeper.stop()


def test_the_lease_outlives_a_real_redis_stall_around_a_renewal(tmp_path: Path) -> None:
    """Redis frozen (SIGSTOP) across a renewal, back before the lease would expire: the
    keeper renews once it answers, and nobody else gets the realm."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed: `apt-get install redis-server`")
    with running_redis(server, tmp_path) as url:
        coordinator = RedisCoordinator(f"{url}?socket_timeout=0.3&socket_connect_timeout=0.3")
        pid = int(coordinator.redis.info("server")["process_id"])
        lease = coordinator.try_lease("realm-1", "worker-a", 6.0)  # renewed at 2 s, 4 s...
        assert lease is not None
        keeper = LeaseKeeper(coordinator, lease, 6.0, retry=0.1)
        try:
            time.sleep(1.5)
            os.kill(pid, signal.SIGSTOP)
            try:
                time.sleep(2.5)  # the renewal at 2 s times out
            finally:
                os.kill(pid, signal.SIGCONT)
            time.sleep(3.5)  # past the lease's first expiry (6 s)
            assert keeper.failed_renewals >= 1
            assert keeper.valid() and coordinator.holds(lease)
            assert coordinator.try_lease("realm-1", "worker-b", 6.0) is None
        finally:
            keeper.stop()
