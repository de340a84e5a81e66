"""The planner leaves Python's cycle collector on while it plans (other threads of the
process rely on it, and a template failing per record leaves cycles behind), with what was
there before the plan set aside from its collections, and sets nothing aside after."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from tpsqbo_engine.emulators.tps.seed import seeded_firm
from tpsqbo_engine.resources import rules_dir
from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.sync.plan_input import PlanInput
from tpsqbo_engine.sync.planner import Planner
from tpsqbo_engine.sync.snapshot import TPS_RESOURCES, Snapshot


def _planner() -> Planner:
    firm = seeded_firm("demo")
    snapshot = Snapshot(tps={e: dict(firm.table(r)) for e, r in TPS_RESOURCES.items()})
    return Planner(PlanInput(load_ruleset(rules_dir()), snapshot, {}, phase="initial"))


def _decisions() -> int:
    """How many records a plan of the demo firm decides."""
    planner = _planner()
    decide, count = planner._decide, [0]

    def counted(*args: Any) -> Any:
        count[0] += 1
        return decide(*args)

    planner._decide = counted  # type: ignore[method-assign]
    planner.plan()
    return count[0]


def _watched(planner: Planner, seen: list[tuple[bool, int]]) -> None:
    """Records, at each decision, whether the collector is on and how much is set aside.
    `gc.get_freeze_count` walks everything set aside, which in a test process is the whole
    suite's heap (half a million objects, 50 ms a walk): it is read at the first eight
    decisions, every eighth and the last, not at all 270; the collector's state at every one."""
    decide, last = planner._decide, _decisions() - 1

    def watched(*args: Any) -> Any:
        n = len(seen)
        walk = n < 8 or n % 8 == 0 or n == last
        seen.append((gc.isenabled(), gc.get_freeze_count() if walk else -1))
        return decide(*args)

    planner._decide = watched  # type: ignore[method-assign]


def _counts(seen: list[tuple[bool, int]]) -> list[int]:
    """The freeze counts read, in order; the first eight are every decision's."""
    return [count for _, count in seen if count >= 0]


def test_the_collector_runs_while_planning_over_what_came_after_the_snapshot() -> None:
    planner = _planner()
    seen: list[tuple[bool, int]] = []
    _watched(planner, seen)
    collections: list[str] = []

    def count(phase: str, _info: dict[str, int]) -> None:
        collections.append(phase)

    gc.callbacks.append(count)
    try:
        assert gc.isenabled() and gc.get_freeze_count() == 0
        assert planner.plan().writes()
    finally:
        gc.callbacks.remove(count)
    assert seen and all(enabled for enabled, _ in seen)
    assert seen[-1][1] >= 0 and len(_counts(seen)) > len(seen) // 8
    assert all(frozen > 0 for frozen in _counts(seen))  # the snapshot is set aside
    assert "start" in collections  # cycles made while planning are collected as it goes
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_nothing_stays_set_aside_when_a_plan_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    planner = _planner()

    def broken(*_args: Any) -> Any:
        raise RuntimeError("a broken rule")

    monkeypatch.setattr(planner, "_decide", broken)
    with pytest.raises(RuntimeError):
        planner.plan()
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_collector_paused_by_the_caller_stays_paused() -> None:
    gc.disable()
    try:
        assert _planner().plan().writes()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_what_the_plan_keeps_is_set_aside_as_it_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tpsqbo_engine.sync.planner.SET_ASIDE_EVERY", 5)
    planner = _planner()
    seen: list[tuple[bool, int]] = []
    _watched(planner, seen)
    plan = planner.plan()
    frozen = _counts(seen)
    assert seen[-1][1] == frozen[-1]
    # the sixth record sees more set aside than the fifth: what the first five made
    assert frozen[5] > frozen[4] + 5
    assert frozen[-1] > frozen[0] + len(plan.operations)
    assert gc.isenabled() and gc.get_freeze_count() == 0
