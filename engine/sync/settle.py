"""Where the next run's QBO read starts after a run that wrote a lot.

The next run asks CDC what changed since this run began, and CDC answers with this run's own
writes too, a thousand to an answer: after an initial sync of 15,000 records the next run
spent fifteen calls reading back its own work. When a run writes more than one CDC answer's
worth, it checks at the end, with a few counts, that QBO holds exactly its own writes and
nothing else new: then the next run starts after them. Otherwise (anything else changed,
created or deleted meanwhile, or a write whose outcome is unknown) it starts where this run
began, as always.

What the counts cannot see: a person editing, while the run writes, a record the run itself
wrote earlier in that run. That edit is then read when the record next changes, or by
`sync --whole`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tpsqbo_engine.connectors.qbo import wire
from tpsqbo_engine.connectors.qbo.client import CDC_CAP, QboClient
from tpsqbo_engine.errors import ConnectorError
from tpsqbo_engine.sync.plan import Plan
from tpsqbo_engine.sync.snapshot import INACTIVE_LISTS

Record = dict[str, Any]


def qbo_writes(plan: Plan) -> dict[str, int]:
    """QBO entity -> how many writes the plan makes to it."""
    counts: dict[str, int] = {}
    for op in plan.writes():
        written = op.record if op.reverse else op.target
        if written.startswith("qbo."):
            entity = written.split(":", 1)[0].split(".", 1)[1]
            counts[entity] = counts.get(entity, 0) + 1
    return counts


def _active(entity: str) -> str:
    return "Active IN (true, false)" if entity in INACTIVE_LISTS else ""


def _where(*parts: str) -> str:
    return " AND ".join(p for p in parts if p)


@dataclass
class Settle:
    """Started before the run's first write (`begin`); `end` says where the next run's CDC
    starts, and why."""

    qbo: QboClient
    started: str  # the run's QBO cursor: when its reads began
    watched: list[str]  # every QBO entity the run reads through CDC
    totals: dict[str, int] = field(default_factory=dict)
    seen: dict[str, set[str]] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)
    quiet: bool = False
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def begin(
        cls, qbo: QboClient, started: str, watched: list[str], writes: dict[str, int]
    ) -> Settle | None:
        """Worth it only when the writes (QBO entity -> how many) fill more than one CDC
        answer."""
        if not started or sum(writes.values()) < CDC_CAP or not watched:
            return None
        settle = cls(qbo, started, sorted(set(watched) | set(writes)))
        try:
            # Nothing may have changed between the reads and the first write.
            settle.quiet = not any(qbo.cdc(settle.watched, datetime.fromisoformat(started)))
            settle.totals = {e: qbo.count(e, _active(e)) for e in sorted(writes)}
        except ConnectorError:
            settle.quiet = False
        return settle

    def written(self, entity: str, record: Record, action: str) -> None:
        stamp = str((record.get("MetaData") or {}).get("LastUpdatedTime", ""))
        try:
            if datetime.fromisoformat(stamp) < datetime.fromisoformat(self.started):
                return  # read, not written (a link with nothing to change)
        except ValueError:
            self.quiet = False  # a write without a time: nothing can be proven
            return
        self.seen.setdefault(entity, set()).add(str(record.get("Id")))
        if action == "create":
            self.created[entity] = self.created.get(entity, 0) + 1

    def end(self) -> tuple[str, str]:
        """(where the next run's CDC starts, what to say about it)."""
        if not self.quiet:
            return self.started, ""
        # QBO stamps to the second: the next read starts at the next whole second, after
        # the last write's stamp, and the counts are made once that second has begun, so a
        # change by anyone else before it is counted and one after it is read next run.
        moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        self.sleep(max((moment - datetime.now(UTC)).total_seconds(), 0.0) + 0.01)
        now = moment.isoformat(timespec="seconds")
        try:
            other = self._others()
        except ConnectorError:
            return self.started, ""
        if other:
            return self.started, (
                f"QBO changed while the run wrote ({other}): the next run reads this run's "
                "writes back with the rest"
            )
        total = sum(len(ids) for ids in self.seen.values())
        return now, f"the next run's QBO read starts after this run's {total:,} writes"

    def _others(self) -> str:
        """What QBO holds besides this run's own writes since it began, or ''."""
        since = wire.quote(self.started)
        for entity in sorted(set(self.totals) | set(self.seen)):
            if entity not in self.totals:
                return f"{entity} written unplanned"
            changed = self.qbo.count(
                entity, _where(_active(entity), f"MetaData.LastUpdatedTime >= {since}")
            )
            if changed != len(self.seen.get(entity, ())):
                mine = len(self.seen.get(entity, ()))
                return f"{changed} {entity} record(s) changed, {mine} of them by the run"
            total = self.qbo.count(entity, _active(entity))
            if total != self.totals[entity] + self.created.get(entity, 0):
                return (
                    f"{entity}: {total} now, {self.totals[entity]} before and "
                    f"{self.created.get(entity, 0)} created"
                )
        unwritten = [e for e in self.watched if e not in self.totals]
        if unwritten and any(self.qbo.cdc(unwritten, datetime.fromisoformat(self.started))):
            return "records it did not write"
        return ""
