"""Batch calls and single writes in one realm budget: when the batch window is spent, the
rest of the minute's requests carry single writes instead of waiting."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tpsqbo_engine.connectors.qbo.batch import BatchOp, BatchResult
from tpsqbo_engine.connectors.qbo.limits import Limiter, Limits
from tpsqbo_engine.fleet.coord import Coordinator
from tpsqbo_engine.fleet.local_coord import LocalCoordinator
from tpsqbo_engine.fleet.redis_coord import RedisCoordinator
from tpsqbo_engine.sync.config import load_config
from tpsqbo_engine.sync.session import Session

from .conftest import Firms

# A 3-second "minute" with room for 2 batch calls and 60 requests (the per-second window
# left wide, as a loaded machine's scheduling could break a 50 ms one).
SPEC = "scale=20,minute=60,second=100,batch=2"


def test_writes_go_singly_while_the_batch_window_is_spent(firms: Firms) -> None:
    firm = firms.make("busy", limits=SPEC)
    qbo = Session(load_config(firm.config)).qbo
    qbo.limiter = Limiter(Limits.parse(SPEC))  # type: ignore[arg-type]
    ops = [BatchOp("Customer", {"DisplayName": f"Customer {n:03d}"}, f"c{n}") for n in range(90)]
    started = time.monotonic()
    results = qbo.batch(ops)
    elapsed = time.monotonic() - started
    assert [r.error for r in results] == [None] * 90
    assert len({r.record["Id"] for r in results if r.record}) == 90
    # Two batches of 30, then the last 30 one by one: no wait for the batch window.
    assert qbo.stats.batch_calls == 2 and qbo.stats.calls == 32
    assert elapsed < 3.0
    assert firm.qbo.emulator._throttle.refused == 0  # type: ignore[union-attr]
    names = [c["DisplayName"] for c in qbo.query("SELECT * FROM Customer MAXRESULTS 1000")]
    assert sorted(n for n in names if n.startswith("Customer ")) == [
        f"Customer {n:03d}" for n in range(90)
    ]


def test_a_batch_goes_again_as_soon_as_the_window_has_room(firms: Firms) -> None:
    firm = firms.make("patient", limits=SPEC)
    qbo = Session(load_config(firm.config)).qbo
    limiter = Limiter(Limits.parse(SPEC))  # type: ignore[arg-type]
    qbo.limiter = limiter
    qbo.batch([BatchOp("Customer", {"DisplayName": f"A {n}"}, f"a{n}") for n in range(60)])
    assert not limiter.batch_room()
    time.sleep(3.5)  # the window moved on
    assert limiter.batch_room()
    qbo.batch([BatchOp("Customer", {"DisplayName": f"B {n}"}, f"b{n}") for n in range(30)])
    assert qbo.stats.batch_calls == 3 and qbo.stats.calls == 3


@pytest.mark.parametrize("kept_in", ["process", "redis", "sqlite"])
def test_no_429_when_requests_arrive_late(
    firms: Firms, kept_in: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """QBO counts a call when it arrives; half of these arrive 150 ms after they were sent,
    three of the emulator's (scaled, 50 ms) seconds late, while two clients on the realm's
    one budget send ten at a time each. Counted until their answers came, none is refused."""
    spec = "scale=20,batch=0"  # the batch window closed: every write goes singly
    limits = Limits.parse(spec)
    assert limits is not None
    server = firms.qbo(spec, faults="slow=0.15%50")
    firm = firms.make("late", qbo=server, limits=spec)
    if kept_in == "redis":
        coordinator: Coordinator = RedisCoordinator(request.getfixturevalue("fresh_redis"))
    else:
        coordinator = LocalCoordinator(tmp_path / "fleet.db")
    shared = Limiter(limits)
    clients = [Session(load_config(firm.config)).qbo for _ in range(2)]
    for qbo in clients:
        qbo.limiter = shared if kept_in == "process" else coordinator.budget("r", limits)

    def write(n: int) -> list[BatchResult]:
        ops = [
            BatchOp("Customer", {"DisplayName": f"Late {n}-{i}"}, f"l{n}-{i}") for i in range(60)
        ]
        return clients[n].batch(ops)

    with ThreadPoolExecutor(2) as pool:
        results = [r for rs in pool.map(write, range(2)) for r in rs]
    assert [r.error for r in results] == [None] * 120
    assert sum(q.stats.calls for q in clients) == 120
    assert sum(q.stats.retries for q in clients) == 0
    assert server.emulator._throttle.refused == 0  # type: ignore[union-attr]


def test_single_writes_go_ten_at_a_time(firms: Firms) -> None:
    """Each answer takes 0.2 s: one at a time, 30 writes would take 6 s; ten at a time,
    about 0.6 s, and never more than ten in flight (the emulator refuses none)."""
    spec = "scale=20,batch=0"
    limits = Limits.parse(spec)
    assert limits is not None
    server = firms.qbo(spec, faults="slow=0.2")
    qbo = Session(load_config(firms.make("slow", qbo=server, limits=spec).config)).qbo
    qbo.limiter = Limiter(limits)
    ops = [BatchOp("Customer", {"DisplayName": f"Slow {n:02d}"}, f"s{n}") for n in range(30)]
    started = time.monotonic()
    results = qbo.batch(ops)
    elapsed = time.monotonic() - started
    assert [r.error for r in results] == [None] * 30
    assert [r.record["DisplayName"] for r in results if r.record] == [
        op.body["DisplayName"] for op in ops
    ]
    assert elapsed < 3.0
    assert server.emulator._throttle.refused == 0  # type: ignore[union-attr]
