"""The state store: one SQLite file per firm (sqlite-utils, WAL, the tables made by
state_schema.py).

    links      TPS id <-> QBO id per entity pair, with the versions and content hash last synced
    runs       one row per sync run: phase, status, counts, a forced run's reason
    run_items  every record's outcome in a run: Successful, Warning, Failed, Ignored, Excluded
    journal    a write's intent before the call, its outcome after, so a crash never
               causes a duplicate: an intent without an outcome is checked before any retry
    cursors    where the next incremental read starts, per system and entity
    ignores    records taken out of the sync by hand (undoable)
    backups    QBO snapshots taken by `tpsqbo-engine backup`

A cursor moves only in the transaction that records the work it covers. The sync writes its
journal, link and history rows a batch at a time (`write`, engine/state_rows.py).

Opening checks the file before trusting it: an empty file, a file that is not SQLite, a
database failing SQLite's quick check, or one without the engine's tables is refused with
how to restore the copy kept beside it (`state.db.1`, rotated before every run). The file,
its WAL and SHM, and the copy are 0600.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from tpsqbo_engine import signals, state_rows
from tpsqbo_engine.errors import StateError
from tpsqbo_engine.private import private_dir, private_file
from tpsqbo_engine.state_check import check_database, check_file, check_tables, refuse, rotated
from tpsqbo_engine.state_rows import STATUSES, Done, Intent, Item, Link, Outcome, now
from tpsqbo_engine.state_schema import migrations


def _companions(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


class StateStore:
    def __init__(self, path: Path) -> None:
        private_dir(path.parent)
        self.path = path
        existed = path.exists()
        if existed:
            check_file(path)
        try:
            for file in (path, *_companions(path)):
                if file == path or file.exists():
                    private_file(file)
            self.db = Database(path)
            self.db.enable_wal()
            # FULL: a commit is on disk before the next QBO call, so a write's intent
            # survives a power cut or an OS crash too, not only the process dying (which
            # NORMAL with WAL survives: it can take back the last commits after a power
            # cut, an intent with them, leaving QBO's requestid window and the natural-key
            # guards alone to prevent a duplicate). The sync commits once per QBO call (a
            # batch of up to 30 writes), so this is one fsync per call, small beside the call.
            self.db.execute("PRAGMA synchronous=FULL")
            check_database(self.db, path, existed)
            migrations.apply(self.db)
            check_tables(self.db, path)
            for file in _companions(path):
                if file.exists():
                    private_file(file)
        except StateError:
            raise
        except (sqlite3.Error, OSError) as exc:
            raise refuse(path, f"cannot be opened: {exc}") from None

    def keep_copy(self) -> Path:
        """Rotates the copy kept beside the state (one generation): a consistent snapshot
        through SQLite's backup API, written 0600 and then put in place."""
        copy = rotated(self.path)
        partial = copy.with_name(copy.name + ".partial")
        partial.unlink(missing_ok=True)
        private_file(partial)
        target = sqlite3.connect(partial)
        try:
            self.db.conn.backup(target)
        finally:
            target.close()
        partial.replace(copy)
        return copy

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with signals.transaction(), self.db.atomic():  # a held SIGTERM waits for the commit
            yield

    @contextmanager
    def _joined(self) -> Iterator[None]:
        """The caller's transaction when one is open (rows written with it, no savepoint),
        else one of its own."""
        if self.db.conn.in_transaction:
            with signals.transaction():
                yield
        else:
            with self.transaction():
                yield

    # Links --------------------------------------------------------------------------------
    def link(
        self,
        pair: str,
        tps_id: str,
        qbo_id: str,
        *,
        mapping: str,
        tps_version: str = "",
        qbo_version: str = "",
        content_hash: str = "",
    ) -> None:
        row = Link(pair, tps_id, qbo_id, mapping, tps_version, qbo_version, content_hash)
        with self._joined():
            state_rows.write(self.db.conn, 0, Done(links=[row]))

    def links(self, pair: str) -> list[dict[str, Any]]:
        return self._rows("select * from links where pair = ?", [pair])

    def links_of(self, pair: str, ids: Iterable[str]) -> list[dict[str, Any]]:
        """The pair's links whose TPS or QBO id is one of `ids`: looked up by index, so a
        run holds the links of what it reads, not every link the firm has."""
        return self.links_of_pairs([pair], ids)[pair]

    def links_of_pairs(
        self, pairs: Iterable[str], ids: Iterable[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """`links_of` for several pairs in one statement: the ids are parsed once, not once
        per pair and side (a run's ids are many: every id and short text it read)."""
        found: dict[str, list[dict[str, Any]]] = {pair: [] for pair in pairs}
        if not found:
            return found
        rows = self._rows(
            "with wanted(id) as (select value from json_each(?)), "
            "paired(pair) as (select value from json_each(?)) "
            "select * from links where pair in paired and tps_id in wanted "
            "union select * from links where pair in paired and qbo_id in wanted",
            [json.dumps(sorted(set(ids))), json.dumps(sorted(found))],
        )
        for row in rows:
            found[row["pair"]].append(row)
        return found

    def holds_history(self) -> bool:
        """Whether any link or run item is stored: without either, a plan has nothing to look
        up by the records' ids (a firm's first plan)."""
        row = self.db.conn.execute(
            "select exists(select 1 from links) or exists(select 1 from run_items)"
        ).fetchone()
        return bool(row[0])

    def qbo_versions(self, pair: str, qbo_ids: Iterable[str]) -> dict[str, str]:
        """The QBO version each linked record of `qbo_ids` was last synced at, in one
        statement (by index)."""
        wanted = json.dumps(sorted(set(qbo_ids)))
        rows = self.db.conn.execute(
            "select qbo_id, qbo_version from links where pair = ? and qbo_id in "
            "(select value from json_each(?))",
            [pair, wanted],
        )
        return {str(qbo_id): str(version) for qbo_id, version in rows}

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts, straight from the connection: sqlite-utils' table helpers look the
        table up in sqlite_master first, a statement or two more per call."""
        cursor = self.db.conn.execute(sql, args)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    # Runs ---------------------------------------------------------------------------------
    def start_run(self, phase: str, forced_reason: str = "") -> int:
        self.keep_copy()  # the last good state, for the hint a damaged file gets
        cursor = self.db.execute(
            "insert into runs (started_at, phase, status, forced_reason, counts) "
            "values (?, ?, 'running', ?, '{}')",
            [now(), phase, forced_reason],
        )
        return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, status: str) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for row in self._rows(
            "select status, count(*) n from run_items where run_id = ? group by status", [run_id]
        ):
            counts[row["status"]] = row["n"]
        self.db.execute(
            "update runs set finished_at = ?, status = ?, counts = ? where id = ?",
            [now(), status, json.dumps(counts), run_id],
        )
        return counts

    def record_item(
        self,
        run_id: int,
        record: str,
        mapping: str,
        action: str,
        status: str,
        message: str,
        rule: str = "",
        target: str = "",
    ) -> None:
        item = Item(record, mapping, action, status, message, rule, target)
        with self._joined():
            state_rows.write(self.db.conn, run_id, Done(items=[item]))

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        return self._rows("select * from runs order by id desc limit ?", [limit])

    def items(
        self, run_id: int | None = None, status: str | None = None, record: str | None = None
    ) -> list[dict[str, Any]]:
        clauses, args = [], []
        for column, value in (("run_id", run_id), ("status", status), ("record", record)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        return list(
            self.db.table("run_items").rows_where(
                " and ".join(clauses) or None, args, order_by="id"
            )
        )

    def left_out_initially(self, ids: Iterable[str] | None = None) -> dict[str, str]:
        """Records the initial sync excluded, with why; with `ids`, only records of those ids
        (the part after `entity:`), read row by row: the paid history the initial sync left
        out is most of a big firm's items."""
        sql = (
            "select i.record, i.message from run_items i join runs r on "
            "r.id = i.run_id where r.phase = 'initial' and i.status = "
            "'Excluded' and i.action != 'out-of-scope'"
        )
        return dict(self._of_ids(sql, ids))

    def left_out_with(self) -> dict[str, str]:
        """Records the initial sync left out with a record they refer to (a walk-in's invoice
        with its customer), and that record: once it is linked, they are looked at again."""
        sql = (
            "select i.record, i.message from run_items i join runs r on r.id = i.run_id "
            "where r.phase = 'initial' and i.status = 'Excluded' and i.action = 'exclude' "
            "and i.message like 'refers to %'"
        )
        return {
            record: message[len("refers to ") :].split(",", 1)[0]
            for record, message in self._of_ids(sql, None)
        }

    def reported_exclusions(self, ids: Iterable[str] | None = None) -> frozenset[str]:
        """Records an earlier completed run already reported as excluded or blocked; with
        `ids`, only records of those ids."""
        sql = (
            "select distinct i.record, '' from run_items i join runs r on "
            "r.id = i.run_id where i.action in ('exclude', 'block', 'out-of-scope') and "
            "r.status in ('completed', 'partial')"
        )
        return frozenset(record for record, _ in self._of_ids(sql, ids))

    def _of_ids(self, sql: str, ids: Iterable[str] | None) -> Iterator[tuple[str, str]]:
        """(record, text) rows of `sql`, those whose record's id is in `ids` when given."""
        wanted = None if ids is None else set(ids)
        for record, text in self.db.conn.execute(sql):
            if wanted is None or record.partition(":")[2] in wanted:
                yield str(record), str(text)

    def latest_failed(self) -> frozenset[str]:
        """Records whose latest outcome under one of the mappings writing them is Failed."""
        return frozenset(record for _, record in self.failing())

    def latest_reviews(self) -> frozenset[str]:
        """Records whose latest outcome is a review the firm settles outside the record (a
        pin, the other record renumbered): looked at again each run, so that takes effect."""
        return frozenset(row["record"] for row in self._latest(action="review"))

    def failing(self) -> frozenset[tuple[str, str]]:
        """(mapping, record) whose latest outcome under that mapping is Failed: a record two
        mappings write (an adjustment's credit memo and its application) fails or comes
        right under each apart."""
        return frozenset((row["mapping"], row["record"]) for row in self._latest(status="Failed"))

    def _latest(
        self, *, status: str | None = None, action: str | None = None
    ) -> list[dict[str, Any]]:
        """Each (mapping, record) whose latest history row has this status or this action
        (None matches nothing)."""
        return self._rows(
            "select mapping, record from run_items where id in "
            "(select max(id) from run_items group by mapping, record) "
            "and (status = ? or action = ?)",
            [status, action],
        )

    # Journal ------------------------------------------------------------------------------
    def write(self, run_id: int, done: Done, intents: list[Intent] | None = None) -> list[int]:
        """One transaction: what writes already made left (their outcomes, links and history
        rows), then the intents of the writes about to be made, committed before any of
        them is sent. Answers the intents' journal ids."""
        intents = intents or []
        with self._joined():
            ids = state_rows.write(self.db.conn, run_id, done, intents)
        # Concluded once committed: a SIGTERM meanwhile is held, not raised inside the
        # transaction (which would take the outcomes back); a held one is raised here.
        for outcome in done.outcomes:
            signals.write_concluded(outcome.journal)
        for journal in ids:
            signals.write_started(journal)
        return ids

    def intend(
        self, run_id: int, intent: str, operation: str, target: str, before: str = ""
    ) -> int:
        return self.write(run_id, Done(), [Intent(intent, operation, target, before)])[0]

    def conclude(
        self,
        journal_id: int,
        outcome: str,
        result_id: str = "",
        version: str = "",
        fingerprint: str = "",
    ) -> None:
        self.write(0, Done([Outcome(journal_id, outcome, result_id, version, fingerprint)]))

    def journal(self, run_id: int) -> list[dict[str, Any]]:
        return list(self.db.table("journal").rows_where("run_id = ?", [run_id], order_by="id"))

    def unfinished(self, intent: str) -> bool:
        """True when a write with this intent was started and its outcome never recorded."""
        rows = self.db.table("journal").rows_where("intent = ? and outcome = ''", [intent], limit=1)
        return any(True for _ in rows)

    def unfinished_intents(self) -> dict[str, state_rows.Unfinished]:
        """Every intent started and never concluded, with its open attempts: read once per
        run instead of once per write."""
        return state_rows.unfinished(self.db.conn)

    # Locks --------------------------------------------------------------------------------
    def take_lock(self, name: str, holder: str, alive: Callable[[str], bool]) -> str:
        """Takes the lock for `holder`; answers "" or the live holder that has it. A holder
        that is gone (`alive` says so: its process died) leaves no lock behind."""
        with self.transaction():
            rows = self._rows("select holder, taken_at from locks where name = ?", [name])
            row = rows[0] if rows else None
            if row is not None and row["holder"] != holder and alive(row["holder"]):
                return f"{row['holder']} since {row['taken_at']}"
            self.db.execute(
                "insert into locks (name, holder, taken_at) values (?, ?, ?) on conflict "
                "(name) do update set holder = excluded.holder, taken_at = excluded.taken_at",
                [name, holder, now()],
            )
        return ""

    def release_lock(self, name: str, holder: str) -> None:
        self.db.execute("delete from locks where name = ? and holder = ?", [name, holder])

    # Cursors, ignores, backups ----------------------------------------------------------------
    def cursor(self, name: str) -> str:
        rows = self._rows("select value from cursors where name = ?", [name])
        return str(rows[0]["value"]) if rows else ""

    def move_cursor(self, name: str, value: str, run_id: int) -> None:
        self.db.execute(  # in the caller's transaction when there is one
            "insert into cursors (name, value, run_id) values (?, ?, ?) on conflict (name) "
            "do update set value = excluded.value, run_id = excluded.run_id",
            [name, value, run_id],
        )

    def ignore(self, record: str, reason: str) -> None:
        self.db.table("ignores").upsert(
            {"record": record, "reason": reason, "created_at": now()}, pk="record"
        )

    def unignore(self, record: str) -> bool:
        found = bool(list(self.db.table("ignores").rows_where("record = ?", [record])))
        with self.transaction():
            self.db.table("ignores").delete_where("record = ?", [record])
            if found:
                self.db.table("reconsider").upsert({"record": record}, pk="record")
        return found

    def to_reconsider(self) -> set[str]:
        return {r["record"] for r in self._rows("select record from reconsider")}

    def reconsidered(self, records: set[str]) -> None:
        for record in records:
            self.db.execute("delete from reconsider where record = ?", [record])

    def ignored(self) -> dict[str, str]:
        return {r["record"]: r["reason"] for r in self._rows("select * from ignores")}

    def add_backup(self, path: Path, counts: dict[str, int]) -> None:
        self.db.table("backups").insert(
            {"taken_at": now(), "path": str(path), "counts": json.dumps(counts)}
        )

    def latest_backup(self) -> dict[str, Any] | None:
        rows = self._rows("select * from backups order by id desc limit 1")
        return rows[0] if rows else None
