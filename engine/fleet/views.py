"""What `fleet status` and `fleet run` show: one row per firm, from its last run record and
its schedule.

A `running` record whose realm lease is gone is shown `lost` (its run was killed before it
could record an outcome), and so is a `starting` one past its expiry (its task died while
opening the firm, before it took the realm's lease) and an embedded fleet's `retrying` or
`waiting` one whose `fleet run` lease is gone (nothing will try it again); a scheduled
firm with no record is shown `never run`; a scheduled firm whose last run is older than two
of its periods is `overdue` (its schedule stopped firing: no beat, cron in the wrong
directory, no workers).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from tpsqbo_engine.fleet.coord import Coordinator, FirmRun, Schedule

LOST = (
    "its run ended without recording an outcome (its lease expired: the worker was killed "
    "or stalled); the next run of this firm replaces this record"
)
LOST_PENDING = (
    "the fleet run that was to try it again ended first (it was killed); the next run of "
    "this firm replaces this record"
)
LOST_STARTING = (
    "its task ended while opening the firm, before it took the realm's lease (the worker was "
    "killed or stalled); the next run of this firm replaces this record"
)
NEVER_RUN = "never run"


@dataclass(frozen=True)
class Row:
    run: FirmRun
    schedule: Schedule | None = None
    overdue: bool = False

    def to_dict(self) -> dict[str, Any]:
        every = self.schedule.every if self.schedule else None
        return {**asdict(self.run), "every": every, "overdue": self.overdue}


def rows(coordinator: Coordinator, *, only: dict[str, str] | None = None) -> list[Row]:
    """Every firm with a run or a schedule; with `only` (firm name: config), those firms,
    run or not."""
    now = time.time()
    runs = {r.firm: _alive(coordinator, r, now) for r in coordinator.runs()}
    schedules = {s.firm: s for s in coordinator.schedules()}
    configs = {s.firm: s.config for s in schedules.values()} | (only or {})
    names = sorted(only if only is not None else set(runs) | set(schedules))
    found = []
    for name in names:
        schedule = schedules.get(name)
        run = runs.get(name) or FirmRun(name, configs.get(name, ""), NEVER_RUN)
        found.append(Row(run, schedule, _overdue(run, schedule, now)))
    return found


def _alive(coordinator: Coordinator, run: FirmRun, now: float) -> FirmRun:
    if run.status in ("retrying", "waiting") and run.keeper:
        if coordinator.lease_held(run.keeper, run.keeper_token):
            return run
        return replace(run, status="lost", error=LOST_PENDING)
    if run.status == "starting" and run.expires:
        if datetime.fromisoformat(run.expires).timestamp() < now:
            return replace(run, status="lost", error=LOST_STARTING)
        return run
    if run.status != "running" or coordinator.lease_held(run.realm, run.token):
        return run
    return replace(run, status="lost", error=LOST)


def _overdue(run: FirmRun, schedule: Schedule | None, now: float) -> bool:
    if schedule is None:
        return False
    stamp = run.finished or run.started
    last = datetime.fromisoformat(stamp).timestamp() if stamp else schedule.last
    return bool(last) and now - last > 2 * schedule.every


def line(run: FirmRun) -> str:
    counts = ", ".join(f"{n} {k}" for k, n in run.counts.items() if n)
    if run.calls:
        calls = f"{run.calls} QBO calls, {run.throttled} throttled"
        counts = f"{counts}; {calls}" if counts else calls
    extra = f": {run.error}" if run.error else (f" ({counts})" if counts else "")
    if run.status == NEVER_RUN:
        return f"{run.firm:24} {run.status}"
    # A permanent failure stops at its first attempt: say why there were no more (a record
    # from an older engine may know only that it was not retried).
    why = f": {run.not_retried}" if run.not_retried else ""
    tried = f"attempt {run.attempt}" + (f" (not retried{why})" if run.permanent else "")
    return f"{run.firm:24} {run.status:9} {tried}{extra}"


def status_line(row: Row, now: datetime) -> str:
    shown = f"{line(row.run)}  [{age(row.run, now)}]"
    if row.schedule is not None:
        shown += f"  every {span(row.schedule.every)}"
        shown += ", OVERDUE" if row.overdue else ""
    return shown


def age(run: FirmRun, now: datetime) -> str:
    stamp = run.finished or run.started
    if not stamp:
        return "-"
    return span((now - datetime.fromisoformat(stamp)).total_seconds()) + " ago"


def span(seconds: float) -> str:
    whole = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole >= size:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def next_due(schedules: list[Schedule], now: float) -> str:
    """`FIRM in 12m`: the scheduled firm due soonest."""
    first = min(schedules, key=lambda s: s.last + s.every)
    return f"{first.firm} in {span(max(first.last + first.every - now, 0))}"
