"""The rows a sync writes to the state, written many at a time with prepared statements.

A sync writes four rows per record: the journal's intent before the call, and after it the
journal's outcome, the link and the history row. `write` puts a batch of them in the
caller's transaction, each kind of row in one statement, so a batch of 30 QBO writes costs
one commit instead of ninety and a handful of statements instead of 120, and no statement
looks the table up first (as sqlite-utils' table helpers do).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

STATUSES = ("Successful", "Warning", "Failed", "Ignored", "Excluded", "Undone")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Intent:
    """A write about to be made: what `undo` needs (`before`) and the key a retry reuses."""

    intent: str
    operation: str
    target: str
    before: str = ""


@dataclass(frozen=True)
class Outcome:
    journal: int
    # written, failed, stale; resumed: an open attempt a later one carried on and concluded
    outcome: str
    result_id: str = ""
    version: str = ""
    fingerprint: str = ""


@dataclass(frozen=True)
class Link:
    pair: str
    tps_id: str
    qbo_id: str
    mapping: str
    tps_version: str = ""
    qbo_version: str = ""
    content_hash: str = ""


@dataclass(frozen=True)
class Item:
    """A record's outcome in a run, as history shows it."""

    record: str
    mapping: str
    action: str
    status: str
    message: str
    rule: str = ""
    target: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(self.status)


@dataclass
class Done:
    """What writes already made left to record; committed together."""

    outcomes: list[Outcome] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.outcomes or self.links or self.items)


# Each kind of row goes in one statement per batch: a multi-row VALUES list (SQLite runs a
# statement per row with executemany). At most CHUNK rows a statement keeps the host
# parameters under 999, SQLite's limit before 3.32.
CHUNK = 100
# One statement for a batch's outcomes: a row-value UPDATE (SQLite 3.15) from a VALUES list,
# not UPDATE ... FROM (3.33), so the SQLite of Ubuntu 20.04 (3.31) runs it.
_CONCLUDE = (
    "with v (id, outcome, result_id, result_version, result_fingerprint, finished_at) as "
    "(values {values}) update journal set (outcome, result_id, result_version, "
    "result_fingerprint, finished_at) = (select outcome, result_id, result_version, "
    "result_fingerprint, finished_at from v where v.id = journal.id) "
    "where journal.id in (select id from v)"
)
_LINK = (
    "insert into links (pair, tps_id, qbo_id, tps_version, qbo_version, content_hash, "
    "mapping, updated_at) values {values} on conflict (pair, tps_id) do "
    "update set qbo_id = excluded.qbo_id, tps_version = excluded.tps_version, "
    "qbo_version = excluded.qbo_version, content_hash = excluded.content_hash, "
    "mapping = excluded.mapping, updated_at = excluded.updated_at"
)
_ITEM = (
    "insert into run_items (run_id, record, mapping, action, status, message, rule, target, "
    "at) values {values}"
)
_INTENT = (
    "insert into journal (run_id, intent, operation, target, started_at, outcome, before) "
    "values {values}"
)
# An open attempt followed by a written one of the same write was carried on by it (a state
# from before attempts were settled with the outcome of the attempt that resumed them).
_UNFINISHED = (
    "select intent, id, started_at from journal as j where outcome = '' and not exists "
    "(select 1 from journal as k where k.intent = j.intent and k.id > j.id "
    "and k.outcome = 'written') order by id"
)


def write(
    conn: sqlite3.Connection, run_id: int, done: Done, intents: Sequence[Intent] = ()
) -> list[int]:
    """Writes `done` and then `intents` inside the caller's transaction; answers the
    journal ids the intents got, in order."""
    stamp = now()
    outcomes = [
        (o.journal, o.outcome, o.result_id, o.version, o.fingerprint, stamp) for o in done.outcomes
    ]
    _many(conn, _CONCLUDE, outcomes)
    _many(conn, _LINK, [(*_link_values(k), stamp) for k in done.links])
    items = [
        (run_id, i.record, i.mapping, i.action, i.status, i.message, i.rule, i.target, stamp)
        for i in done.items
    ]
    _many(conn, _ITEM, items)
    rows = [(run_id, i.intent, i.operation, i.target, stamp, "", i.before) for i in intents]
    return _many(conn, _INTENT, rows)


def _many(conn: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> list[int]:
    """Runs `sql` with its VALUES list holding `rows`, CHUNK rows a statement; answers the
    rowids an INSERT gave them, in order (for other statements, nothing to use)."""
    ids: list[int] = []
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        row = "(" + ", ".join("?" * len(chunk[0])) + ")"
        # Only placeholders are formatted in: the values are bound.
        statement = sql.format(values=", ".join([row] * len(chunk)))
        last = conn.execute(statement, [v for r in chunk for v in r]).lastrowid or 0
        # SQLite gives each new row the largest rowid plus one, so one statement's rows
        # have consecutive ids in the order of its VALUES, the last one's answered.
        ids += range(last - len(chunk) + 1, last + 1)
    return ids


def _link_values(k: Link) -> tuple[str, ...]:
    return (k.pair, k.tps_id, k.qbo_id, k.tps_version, k.qbo_version, k.content_hash, k.mapping)


@dataclass(frozen=True)
class Unfinished:
    """The attempts of a write started and never concluded: the first one's journal id names
    the attempt a resumed run carries on (its requestid / Idempotency-Key), and its start is
    how far back a lost answer is looked for."""

    journals: tuple[int, ...]
    started: str


def unfinished(conn: sqlite3.Connection) -> dict[str, Unfinished]:
    """Every intent some run started and never recorded the outcome of, with its open
    attempts, oldest first."""
    found: dict[str, Unfinished] = {}
    for intent, journal, started in conn.execute(_UNFINISHED):
        earlier = found.get(str(intent))
        found[str(intent)] = (
            Unfinished((*earlier.journals, int(journal)), earlier.started)
            if earlier is not None
            else Unfinished((int(journal),), str(started))
        )
    return found
