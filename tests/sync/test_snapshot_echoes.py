"""An echo of the engine's own write is let go only when it is a record's latest state:
an older change to the same record must not survive as the record's state."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from tpsqbo_engine.connectors.qbo.transport import CallStats
from tpsqbo_engine.sync.snapshot import Record, Snapshot, _read_changes


class _Qbo:
    """Answers a CDC read with the given rows, filtered by `keep` as the client does."""

    def __init__(self, rows: list[Record]) -> None:
        self.rows = rows
        self.stats = CallStats()

    def cdc(
        self,
        entities: list[str],
        since: datetime,
        keep: Callable[[list[tuple[str, Record]]], list[bool]],
    ) -> dict[str, list[Record]]:
        answer = [("Invoice", r) for r in self.rows]
        return {"Invoice": [r for (_, r), held in zip(answer, keep(answer), strict=True) if held]}


class _WroteVersionOne:
    """The engine wrote version 1."""

    def __call__(self, entity: str, record: Record) -> bool:
        return bool(record["SyncToken"] == "1")

    def learn(self, rows: Iterable[tuple[str, Record]]) -> None:
        pass


def _row(token: str, when: str) -> Record:
    return {"Id": "7", "SyncToken": token, "MetaData": {"LastUpdatedTime": when}}


def _read(rows: list[Record]) -> dict[str, Record]:
    snapshot = Snapshot()
    qbo: Any = _Qbo(rows)

    _read_changes(snapshot, qbo, ["Invoice"], datetime.now(UTC), set(), None, _WroteVersionOne())
    return snapshot.qbo["Invoice"]


def test_an_older_change_does_not_survive_its_newer_echo() -> None:
    rows = [_row("0", "2026-11-26T10:00:00Z"), _row("1", "2026-11-26T11:00:00Z")]
    assert _read(rows) == {}
    assert _read(list(reversed(rows))) == {}


def test_a_change_made_after_the_echo_is_kept() -> None:
    rows = [_row("1", "2026-11-26T11:00:00Z"), _row("2", "2026-11-26T12:00:00Z")]
    assert _read(rows) == {"7": rows[1]}
