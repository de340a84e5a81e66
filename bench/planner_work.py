"""The planner's own work, around the values (deciding, matching, scopes, references,
operations, the cycle collector), against the way it did that work before, in the same run.

    python bench/planner_work.py [--firm large:2000] [--runs 3]

Both emulators run in this process; reading them is not timed, nor is what the session
reads from its state for the plan (links, history). The planner (`Planner.plan` on the
input the session makes) decides every record of `--firm` for an initial sync, `--runs`
times each way, the ways taking turns, and the least CPU time of each way is kept:
  now:    as the engine plans;
  before: what the plan keeps is set aside from the cycle collector only as each mapping
          ends (not every SET_ASIDE_EVERY records), and every create's diff is made as it
          is planned (not when first read).
Both ways make the same plan (checked). Then one more run, each part timed on its own,
splits the planner's time: the field values (`desired`), the content hash, the mappings'
`when` and the exclusions (their expressions and the record's scope), the cycle collector,
and the rest, the planner's own work.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tpsqbo_engine.sync import planned_writes, planner, session
from tpsqbo_engine.sync.compare import flatten
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.plan import Plan
from tpsqbo_engine.sync.plan_input import PlanInput
from tpsqbo_engine.sync.planner import Planner


def plan_input(firm: session.Session) -> PlanInput:
    """The input the session gives the planner for an initial sync of what it reads."""
    seen: list[PlanInput] = []

    class Seen(Planner):
        def __init__(self, given: PlanInput) -> None:
            seen.append(given)
            super().__init__(given)

    with patched(session, "Planner", Seen):
        firm.plan(firm.snapshot())
    return seen[0]


@contextmanager
def patched(module: Any, name: str, value: Any) -> Iterator[None]:
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


def eager_diff(body: dict[str, Any]) -> dict[str, list[Any]]:
    return {path: [None, value] for path, value in flatten(body).items()}


@contextmanager
def before() -> Iterator[None]:
    with (
        patched(planner, "SET_ASIDE_EVERY", sys.maxsize),
        patched(planned_writes, "NewRecordDiff", eager_diff),
    ):
        yield


class Collector:
    """CPU time the cycle collector spends, from its own callbacks."""

    def __init__(self) -> None:
        self.spent = 0.0
        self._started = 0.0

    def __call__(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.spent += time.process_time() - self._started

    @contextmanager
    def watching(self) -> Iterator[None]:
        self.spent = 0.0
        gc.callbacks.append(self)
        try:
            yield
        finally:
            gc.callbacks.remove(self)


def timed_plan(given: PlanInput, collector: Collector) -> tuple[float, float, Plan]:
    """(CPU seconds, of which the collector's, the plan)."""
    gc.collect()
    with collector.watching():
        started = time.process_time()
        made = Planner(given).plan()
        spent = time.process_time() - started
    return spent, collector.spent, made


def compare_ways(given: PlanInput, runs: int) -> None:
    collector = Collector()
    now: list[tuple[float, float]] = []
    then: list[tuple[float, float]] = []
    plans: dict[str, Plan] = {}
    for _ in range(runs):
        with before():
            spent, collecting, plans["before"] = timed_plan(given, collector)
        then.append((spent, collecting))
        spent, collecting, plans["now"] = timed_plan(given, collector)
        now.append((spent, collecting))
    if plans["now"].operations != plans["before"].operations:
        raise SystemExit("the two ways planned differently")
    best_now, best_then = min(now), min(then)
    count = len(plans["now"].operations)
    print(f"  {count:,} operations, {len(plans['now'].writes()):,} writes, the same both ways")
    print(
        f"  before: {best_then[0]:.3f} s CPU (cycle collector {best_then[1]:.3f} s); "
        f"all runs {', '.join(f'{s:.3f}' for s, _ in then)}"
    )
    print(
        f"  now:    {best_now[0]:.3f} s CPU (cycle collector {best_now[1]:.3f} s); "
        f"all runs {', '.join(f'{s:.3f}' for s, _ in now)}"
    )
    print(f"  now / before: {best_now[0] / best_then[0]:.2f}x")


class Parts:
    """CPU time inside some functions, each timed where the planner calls it."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def wrap(self, owner: Any, name: str, label: str) -> Callable[..., Any]:
        inner = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                self.spent[label] = self.spent.get(label, 0.0) + time.process_time() - started

        return timed


def split(given: PlanInput) -> None:
    parts, collector = Parts(), Collector()
    places = [
        (planner, "desired", "field values (desired)"),
        (planned_writes, "content_hash", "content hash"),
        (planner, "wanted", "when: (expression, scope)"),
        (Planner, "_excluded", "exclusions (expressions)"),
    ]
    with (
        patched(places[0][0], places[0][1], parts.wrap(*places[0])),
        patched(places[1][0], places[1][1], parts.wrap(*places[1])),
        patched(places[2][0], places[2][1], parts.wrap(*places[2])),
        patched(places[3][0], places[3][1], parts.wrap(*places[3])),
    ):
        spent, collecting, _ = timed_plan(given, collector)
    print(f"  split (one run, each part timed, {spent:.3f} s CPU with the timers):")
    for label, seconds in parts.spent.items():
        print(f"    {label:28s} {seconds:.3f} s")
    print(f"    {'cycle collector':28s} {collecting:.3f} s")
    rest = spent - sum(parts.spent.values()) - collecting
    print(f"    {'the rest: the planner':28s} {rest:.3f} s (the timers' own cost included)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firm", default="large:2000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as folder,
        demo_firm(Path(folder), tps_seed=args.firm) as (
            firm,
            _,
            _,
        ),
    ):
        given = plan_input(firm)
        print(f"{args.firm}: the planner's CPU time, least of {args.runs} runs each way")
        compare_ways(given, args.runs)
        split(given)


if __name__ == "__main__":
    main()
