"""The state store's tables (engine/state.py), made and changed by numbered migrations
(sqlite-utils): each runs once per state file, in order, recorded under its function's name,
so a change to the tables is a new migration, never an edit of one a state may have run."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("tpsqbo-engine")


@migrations()
def m001_initial(db: Database) -> None:
    db.table("links").create(
        {
            "pair": str,
            "tps_id": str,
            "qbo_id": str,
            "tps_version": str,
            "qbo_version": str,
            "content_hash": str,
            "mapping": str,
            "updated_at": str,
        },
        pk=("pair", "tps_id"),
    )
    db.table("links").create_index(["pair", "qbo_id"], unique=True)
    db.table("runs").create(
        {
            "id": int,
            "started_at": str,
            "finished_at": str,
            "phase": str,
            "status": str,
            "forced_reason": str,
            "counts": str,
        },
        pk="id",
    )
    db.table("run_items").create(
        {
            "id": int,
            "run_id": int,
            "record": str,
            "mapping": str,
            "action": str,
            "status": str,
            "message": str,
            "rule": str,
            "target": str,
            "at": str,
        },
        pk="id",
        foreign_keys=[("run_id", "runs")],
    )
    db.table("run_items").create_index(["run_id", "status"])
    db.table("run_items").create_index(["record"])
    db.table("journal").create(
        {
            "id": int,
            "run_id": int,
            "intent": str,
            "operation": str,
            "target": str,
            "started_at": str,
            "outcome": str,
            "result_id": str,
            "finished_at": str,
        },
        pk="id",
    )
    db.table("journal").create_index(["intent"])
    db.table("cursors").create({"name": str, "value": str, "run_id": int}, pk="name")
    db.table("ignores").create({"record": str, "reason": str, "created_at": str}, pk="record")
    db.table("backups").create({"id": int, "taken_at": str, "path": str, "counts": str}, pk="id")


@migrations()
def m002_reconsider(db: Database) -> None:
    # Records the next incremental run must read even if they did not change (unignored).
    db.table("reconsider").create({"record": str}, pk="record")


@migrations()
def m003_undo_and_locks(db: Database) -> None:
    # Each write's before-image and the version it left, so `undo` can restore and can tell
    # whether anyone changed the record since; which run an undo run takes back; run locks.
    db.table("journal").add_column("before", str)
    db.table("journal").add_column("result_version", str)
    db.table("runs").add_column("undoes", int)
    db.table("locks").create({"name": str, "holder": str, "taken_at": str}, pk="name")


@migrations()
def m004_journal_fingerprint(db: Database) -> None:
    # What a QBO write left apart from QBO's own bookkeeping (engine/sync/fingerprint.py), so
    # `undo` does not take a payment applied since for a change by someone.
    db.table("journal").add_column("result_fingerprint", str)


@migrations()
def m005_run_notes(db: Database) -> None:
    # What a run says about how it read: a mirror rebuilt, chunks, where the next read starts.
    # (A state made while this migration was called m005_mirror has the column already.)
    if "notes" not in db.table("runs").columns_dict:
        db.table("runs").add_column("notes", str)
