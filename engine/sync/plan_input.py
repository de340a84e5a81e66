"""What the planner (engine/sync/planner.py) is given: the rules, both systems' records,
the state's links, and what earlier runs decided of the records."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tpsqbo_engine.ruleset.model import RuleSet
from tpsqbo_engine.sync.snapshot import Snapshot


@dataclass(frozen=True)
class LinkRow:
    tps_id: str
    qbo_id: str
    content_hash: str = ""
    tps_version: str = ""
    qbo_version: str = ""
    mapping: str = ""


@dataclass
class PlanInput:
    rules: RuleSet
    snapshot: Snapshot
    links: Mapping[str, list[LinkRow]]  # pair -> rows
    phase: str = "initial"
    ignored: Mapping[str, str] = field(default_factory=dict)
    # (mapping, source id) -> target id, or "new"
    pins: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # Records the initial sync left out (record -> reason): out while the reason holds.
    left_out: Mapping[str, str] = field(default_factory=dict)
    # Records already reported as excluded in an earlier run.
    reported: frozenset[str] = frozenset()
    # (mapping, record) whose latest outcome was Failed: one the rules now leave with nothing
    # to write (what failed was put right) says so, or it would be listed as failed for good.
    failed: frozenset[tuple[str, str]] = frozenset()
    # The run's clock: the plan's time and `today()` in rules (pack tests fix it).
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # A chunk of a big firm's initial sync: the records of the whole read, which a match key
    # may find to name in a review (another customer's invoice of the number), never link.
    elsewhere: Snapshot | None = None
