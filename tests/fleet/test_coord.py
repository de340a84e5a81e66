"""Leases, fencing, budgets and run records, in Redis and in SQLite alike."""

from __future__ import annotations

import threading
import time

import pytest

from tests.windows import Spans, crowded
from tpsqbo_engine.connectors.qbo.limits import Budget, Limiter, Limits
from tpsqbo_engine.errors import RetriableConnectorError
from tpsqbo_engine.fleet.coord import (
    Coordinator,
    FirmRun,
    Lease,
    LeaseLost,
    Schedule,
    wait_for_room,
)
from tpsqbo_engine.fleet.runner import FencedBudget


def test_one_lease_per_realm_and_a_growing_token(coordinator: Coordinator) -> None:
    first = coordinator.try_lease("realm-1", "w1", 30)
    assert first is not None and coordinator.holds(first)
    assert coordinator.try_lease("realm-1", "w2", 30) is None
    other = coordinator.try_lease("realm-2", "w2", 30)
    assert other is not None
    coordinator.release(first)
    assert not coordinator.holds(first)
    again = coordinator.try_lease("realm-1", "w2", 30)
    assert again is not None and again.token > first.token


def test_a_stalled_run_is_fenced_off_after_its_lease_is_taken_over(
    coordinator: Coordinator,
) -> None:
    stalled = coordinator.try_lease("realm-1", "w1", 0.3)
    assert stalled is not None
    time.sleep(0.4)  # the worker stalled: no renewal, the lease expired
    assert not coordinator.renew(stalled, 0.3)
    taker = coordinator.try_lease("realm-1", "w2", 30)
    assert taker is not None and taker.token > stalled.token
    # The stalled run wakes up: its next request is refused before it is sent.
    with pytest.raises(LeaseLost):
        FencedBudget(None, coordinator, stalled).acquire(batch=False)
    FencedBudget(None, coordinator, taker).acquire(batch=True)
    # And what it records is refused too, since a newer token has written.
    fresh = FirmRun("f", "c", "running", "realm-1", token=taker.token)
    assert coordinator.record(fresh)
    assert not coordinator.record(FirmRun("f", "c", "completed", "realm-1", token=stalled.token))
    assert [r.status for r in coordinator.runs()] == ["running"]
    # A record outside any lease (waiting) never hides a running one.
    assert not coordinator.record(FirmRun("f", "c", "waiting", "realm-1"))
    assert coordinator.record(FirmRun("f", "c", "completed", "realm-1", token=taker.token))
    assert coordinator.record(FirmRun("f", "c", "waiting", "realm-1"))


def test_renewal_keeps_a_live_run_s_lease(coordinator: Coordinator) -> None:
    lease = coordinator.try_lease("realm-1", "w1", 0.4)
    assert lease is not None
    for _ in range(4):
        time.sleep(0.2)
        assert coordinator.renew(lease, 0.4)
    assert coordinator.holds(lease)
    assert coordinator.try_lease("realm-1", "w2", 0.4) is None
    assert not coordinator.renew(Lease("realm-1", "w2", lease.token), 0.4)


def test_schedules(coordinator: Coordinator) -> None:
    coordinator.set_schedule(Schedule("a", "/a/tpsqbo.yaml", 60))
    coordinator.set_schedule(Schedule("b", "/b/tpsqbo.yaml", 3600))
    [a, b] = coordinator.schedules()
    assert a.due(time.time()) and b.every == 3600
    coordinator.mark_enqueued("a", time.time())
    assert not coordinator.schedules()[0].due(time.time())
    assert coordinator.remove_schedule("b") and not coordinator.remove_schedule("b")
    assert [s.firm for s in coordinator.schedules()] == ["a"]


def test_one_budget_shared_by_many_callers_holds_the_realm_s_windows(
    coordinator: Coordinator,
) -> None:
    """Eight callers (threads here, workers in production) draw on one realm's budget; when
    the budget admitted each call is judged against the service's windows (tests/windows.py:
    robust to a busy machine delaying a thread, yet catching a budget that admits too many)."""
    limits = Limits(per_minute=60, per_second=10, batch_per_minute=8, scale=10)  # 6 s minute
    spans = Spans()

    def caller(n: int) -> None:
        budget = coordinator.budget("realm-1", limits)
        for i in range(12):
            budget.finished(spans.timed(budget.acquire, batch=i % 6 == 0))

    started = time.monotonic()
    threads = [threading.Thread(target=caller, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(spans.calls) == 96 and len(spans.batches) == 16
    assert not crowded(spans.calls, limits.per_second + 1, limits.second)
    assert not crowded(spans.calls, limits.per_minute + 1, limits.minute)
    assert not crowded(spans.batches, limits.batch_per_minute + 1, limits.minute)
    # 96 calls with 16 batch calls at 8 per (scaled) minute: at least a minute of waiting.
    assert time.monotonic() - started >= limits.minute


def test_a_budget_wait_sleeps_until_admitted_and_gives_up_at_its_limit() -> None:
    answers = iter([(0.01, ""), (0.02, ""), (0.0, "t1")])
    waited, ticket = wait_for_room(lambda: next(answers), limit=5)
    assert waited == pytest.approx(0.03) and ticket == "t1"
    with pytest.raises(RetriableConnectorError, match="no room for 1 s") as raised:
        wait_for_room(lambda: (0.4, ""), limit=1)
    assert "other runs on this realm" in raised.value.hint


def _budgets(coordinator: Coordinator, limits: Limits) -> list[Budget]:
    return [coordinator.budget("realm-1", limits), Limiter(limits)]


def _one_call(budget: Budget) -> None:
    budget.finished(budget.acquire(batch=False))


def test_a_call_counts_until_its_answer_and_a_window_after(coordinator: Coordinator) -> None:
    """QBO counts a call when it arrives, which the client cannot see: the budget counts it
    from admission to answer, then as if it arrived with its answer. A slow call keeps its
    place in the second's window as long as it is in flight."""
    limits = Limits(per_minute=100, per_second=2, batch_per_minute=100, scale=10)  # 0.1 s
    for budget in _budgets(coordinator, limits):
        first, second = budget.acquire(batch=False), budget.acquire(batch=False)
        time.sleep(limits.second * 3)  # both still in flight, long past their second
        third = threading.Thread(target=_one_call, args=(budget,))
        third.start()
        third.join(limits.second * 2)
        assert third.is_alive()  # held: two calls in flight fill the second
        answered = time.monotonic()  # before: the answer is stamped no earlier than this
        budget.finished(first)
        third.join(5)
        assert not third.is_alive()
        # Admitted only once the first call's answer had aged a whole (client) second.
        assert time.monotonic() - answered >= limits.second
        budget.finished(second)


def test_batch_calls_in_flight_fill_the_batch_window(coordinator: Coordinator) -> None:
    limits = Limits(per_minute=100, per_second=100, batch_per_minute=2, scale=60)  # 1 s
    for budget in _budgets(coordinator, limits):
        tickets = [budget.acquire(batch=True), budget.acquire(batch=True)]
        assert not budget.batch_room()
        time.sleep(limits.minute * 1.5)
        assert not budget.batch_room()  # still in flight: still counted
        for ticket in tickets:
            budget.finished(ticket)
        assert not budget.batch_room()  # answered just now: counted a minute more
        time.sleep(limits.minute * 1.2)
        assert budget.batch_room()


def test_a_fenced_budget_frees_its_ticket_when_the_lease_is_lost(
    coordinator: Coordinator,
) -> None:
    limits = Limits(per_minute=100, per_second=1, batch_per_minute=10, scale=2)  # 0.5 s
    lease = coordinator.try_lease("realm-1", "w1", 30)
    assert lease is not None
    fenced = FencedBudget(coordinator.budget("realm-1", limits), coordinator, lease)
    coordinator.release(lease)
    with pytest.raises(LeaseLost):
        fenced.acquire(batch=False)
    time.sleep(limits.second * 1.1)
    started = time.monotonic()
    # A call never finished would hold the second's one place for MAX_FLIGHT (minutes).
    coordinator.budget("realm-1", limits).acquire(batch=False)
    assert time.monotonic() - started < limits.second
