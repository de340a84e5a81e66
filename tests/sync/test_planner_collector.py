"""The planner pauses Python's cycle collector while it plans, and leaves it as it was."""

from __future__ import annotations

import gc

from tpsqbo_engine.emulators.tps.seed import seeded_firm
from tpsqbo_engine.resources import rules_dir
from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.sync.planner import PlanInput, Planner
from tpsqbo_engine.sync.snapshot import TPS_RESOURCES, Snapshot


def _planner() -> Planner:
    firm = seeded_firm("demo")
    snapshot = Snapshot(tps={e: dict(firm.table(r)) for e, r in TPS_RESOURCES.items()})
    return Planner(PlanInput(load_ruleset(rules_dir()), snapshot, {}, phase="initial"))


def test_the_collector_is_paused_while_planning_and_restored_after() -> None:
    planner = _planner()
    seen: list[bool] = []
    decide = planner._decide

    def watched(*args: object) -> object:
        seen.append(gc.isenabled())
        return decide(*args)  # type: ignore[arg-type]

    planner._decide = watched  # type: ignore[method-assign]
    assert gc.isenabled()
    assert planner.plan().writes()
    assert seen and not any(seen)
    assert gc.isenabled()


def test_a_collector_paused_by_the_caller_stays_paused() -> None:
    gc.disable()
    try:
        assert _planner().plan().writes()
        assert not gc.isenabled()
    finally:
        gc.enable()
