"""The rows a sync writes to the state, written many at a time with prepared statements.

A sync writes four rows per record: the journal's intent before the call, and after it the
journal's outcome, the link and the history row. `write` puts a batch of them in the
caller's transaction with prepared statements (`executemany`), so a batch of 30 QBO writes
costs one commit instead of ninety, and no statement looks the table up first (as
sqlite-utils' table helpers do).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

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
    outcome: str  # written, failed, stale
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


_CONCLUDE = (
    "update journal set outcome = ?, result_id = ?, result_version = ?, "
    "result_fingerprint = ?, finished_at = ? where id = ?"
)
_LINK = (
    "insert into links (pair, tps_id, qbo_id, tps_version, qbo_version, content_hash, "
    "mapping, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (pair, tps_id) do "
    "update set qbo_id = excluded.qbo_id, tps_version = excluded.tps_version, "
    "qbo_version = excluded.qbo_version, content_hash = excluded.content_hash, "
    "mapping = excluded.mapping, updated_at = excluded.updated_at"
)
_ITEM = (
    "insert into run_items (run_id, record, mapping, action, status, message, rule, target, "
    "at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INTENT = (
    "insert into journal (run_id, intent, operation, target, started_at, outcome, before) "
    "values (?, ?, ?, ?, ?, '', ?)"
)
_UNFINISHED = (
    "select intent, min(started_at) as first from journal where intent in "
    "(select intent from journal where outcome = '') group by intent"
)


def write(
    conn: sqlite3.Connection, run_id: int, done: Done, intents: Sequence[Intent] = ()
) -> list[int]:
    """Writes `done` and then `intents` inside the caller's transaction; answers the
    journal ids the intents got, in order."""
    stamp = now()
    conn.executemany(
        _CONCLUDE,
        [
            (o.outcome, o.result_id, o.version, o.fingerprint, stamp, o.journal)
            for o in done.outcomes
        ],
    )
    conn.executemany(
        _LINK,
        [(*_link_values(k), stamp) for k in done.links],
    )
    conn.executemany(
        _ITEM,
        [
            (run_id, i.record, i.mapping, i.action, i.status, i.message, i.rule, i.target, stamp)
            for i in done.items
        ],
    )
    # One execution each, as executemany would (the statement is prepared once, from the
    # connection's cache), but each answers the journal id its row got.
    return [
        int(
            conn.execute(
                _INTENT, (run_id, i.intent, i.operation, i.target, stamp, i.before)
            ).lastrowid
            or 0
        )
        for i in intents
    ]


def _link_values(k: Link) -> tuple[str, ...]:
    return (k.pair, k.tps_id, k.qbo_id, k.tps_version, k.qbo_version, k.content_hash, k.mapping)


def unfinished(conn: sqlite3.Connection) -> dict[str, str]:
    """Every intent some run started and never recorded the outcome of, with when it was
    first attempted (how far back a lost answer is looked for)."""
    return {str(row[0]): str(row[1]) for row in conn.execute(_UNFINISHED)}
