"""Applying an undo plan like a sync: one run (phase `undo`), each write journaled before
the call and its link change, history row (status Undone) and outcome committed together
after it. A crash anywhere is recovered by running the same undo again: what an earlier
attempt finished is in the journal and skipped, and a write whose outcome was lost is
recognised by the record already being as the undo leaves it (engine/sync/undo.py)."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tpsqbo_engine.connectors.qbo import wire
from tpsqbo_engine.connectors.qbo.errors import QboError
from tpsqbo_engine.connectors.qbo.queries import NAME_LISTS
from tpsqbo_engine.errors import ConnectorError, FatalConnectorError
from tpsqbo_engine.state import StateStore
from tpsqbo_engine.sync.executor import Progress
from tpsqbo_engine.sync.lock import run_lock
from tpsqbo_engine.sync.plan import Operation
from tpsqbo_engine.sync.snapshot import TPS_RESOURCES
from tpsqbo_engine.sync.undo import Step, UndoPlan

Record = dict[str, Any]


@dataclass(frozen=True)
class UndoSummary:
    run_id: int
    undone: int  # the run taken back
    counts: dict[str, int]
    complete: bool  # every write of the run is taken back
    backup_check: list[str] = field(default_factory=list)  # the initial sync: QBO vs backup


def apply_undo(
    session: Any, undo: UndoPlan, reason: str = "", progress: Progress | None = None
) -> UndoSummary:
    state: StateStore = session.state
    target = int(undo.run["id"])
    with run_lock(state):
        run_id = state.start_run("undo", reason)
        state.db.table("runs").update(run_id, {"undoes": target})
        operations = undo.plan.operations
        for done, (op, step) in enumerate(zip(operations, undo.steps, strict=True), 1):
            _one(session, run_id, op, step)
            if progress is not None:
                progress(done, len(operations))
        items = state.items(run_id)
        failed = any(i["status"] == "Failed" for i in items)
        complete = not any(i["status"] in ("Failed", "Warning") for i in items)
        with state.transaction():
            counts = state.finish_run(run_id, "partial" if failed else "completed")
            if complete:
                state.db.table("runs").update(target, {"status": "undone"})
    check = compare_with_backup(session, undo.backup) if undo.initial and undo.backup else []
    return UndoSummary(run_id, target, counts, complete, check)


def _one(session: Any, run_id: int, op: Operation, step: Step) -> None:
    state: StateStore = session.state
    if op.action not in ("update", "void", "unlink"):
        state.record_item(run_id, op.target, op.mapping, "undo", op.level, op.message)
        return
    journal = state.intend(
        run_id, step.intent, step.kind, op.target, wire.dumps({"written": op.target})
    )
    try:
        version = "" if op.action == "unlink" else _write(session, op, step)
    except FatalConnectorError as fatal:
        _fail(state, run_id, op, journal, fatal.message)
        raise
    except ConnectorError as error:
        _fail(state, run_id, op, journal, error.message)
        return
    with state.transaction():
        _relink(state, step, version)
        state.record_item(run_id, op.target, op.mapping, "undo", "Undone", op.message)
        state.conclude(journal, "written", op.target.split(":", 1)[1], version)


def _write(session: Any, op: Operation, step: Step) -> str:
    """Takes one write back; answers the record's version after (empty when deleted)."""
    qualified, ident = op.target.split(":", 1)
    system, entity = qualified.split(".", 1)
    if system == "tps":
        current = session.tps.get(TPS_RESOURCES[entity], ident)  # --force: the version now
        changes = op.body if op.action == "update" else {"status": "void"}
        record = session.tps.update(
            TPS_RESOURCES[entity], ident, changes, version=int(current["version"])
        )
        return str(record.get("version", ""))
    if op.action == "update":
        record = session.qbo.update(entity, ident, op.body)
    elif entity in NAME_LISTS:
        record = session.qbo.deactivate(entity, ident)
    else:
        try:
            session.qbo.delete(entity, ident)
            return ""
        except QboError:
            record = session.qbo.void(entity, ident)  # QBO refused the delete: void it
    return str(record.get("SyncToken", ""))


def _relink(state: StateStore, step: Step, version: str) -> None:
    """A link the run made goes; a restored record's link is marked for the next run to
    decide again (its content hash no longer says what is in the target)."""
    qualified, ident = step.written.split(":", 1)
    side = qualified.split(".", 1)[0]
    links = state.db.table("links")
    where, args = f"mapping = ? and {side}_id = ?", [step.mapping, ident]
    if step.linked:
        links.delete_where(where, args)
        return
    for row in links.rows_where(where, args):
        links.update((row["pair"], row["tps_id"]), {f"{side}_version": version, "content_hash": ""})


def _fail(state: StateStore, run_id: int, op: Operation, journal: int, message: str) -> None:
    with state.transaction():
        state.record_item(run_id, op.target, op.mapping, "undo", "Failed", message)
        state.conclude(journal, "failed")


def compare_with_backup(session: Any, backup: dict[str, Any]) -> list[str]:
    """After the initial sync is undone: does QBO hold the same active records as the
    backup taken before it? Lines saying so, or naming each difference."""
    kept: dict[str, set[str]] = {}
    with gzip.open(Path(backup["path"]), "rt", encoding="utf-8") as handle:
        for line in handle:
            entry = json.loads(line)
            record = entry["record"]
            ids = kept.setdefault(entry["entity"], set())
            if _active(record):
                ids.add(str(record["Id"]))
    differences = []
    for entity, before in sorted(kept.items()):
        where = "Active IN (true, false)" if entity in NAME_LISTS else ""
        now = {str(r["Id"]) for r in session.qbo.query_all(entity, where) if _active(r)}
        if now - before:
            differences.append(f"{entity}: not in the backup: {', '.join(sorted(now - before))}")
        if before - now:
            differences.append(
                f"{entity}: in the backup, not now: {', '.join(sorted(before - now))}"
            )
    if differences:
        return [f"QBO differs from the backup of {backup['taken_at']}:", *differences]
    return [
        f"QBO is back to the backup taken before the initial sync ({backup['taken_at']}, "
        f"{backup['path']}): the same active records in {len(kept)} entities"
    ]


def _active(record: Record) -> bool:
    return record.get("Active", True) is not False and record.get("TxnStatus") != "Voided"
