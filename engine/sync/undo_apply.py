"""Applying an undo plan like a sync: one run (phase `undo`), each write journaled before
the call and its link change, history row (status Undone) and outcome committed together
after it. A crash anywhere is recovered by running the same undo again: what an earlier
attempt finished is in the journal and skipped, and a write whose outcome was lost is
recognised by the record already being as the undo leaves it (engine/sync/undo.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tpsqbo_engine.connectors.qbo import wire
from tpsqbo_engine.connectors.qbo.errors import QboError
from tpsqbo_engine.connectors.qbo.queries import NAME_LISTS
from tpsqbo_engine.dotted import get_path, put_path
from tpsqbo_engine.errors import ConnectorError, FatalConnectorError
from tpsqbo_engine.state import StateStore
from tpsqbo_engine.sync import before_image
from tpsqbo_engine.sync.executor import Progress
from tpsqbo_engine.sync.fingerprint import PAYMENT_LINKS
from tpsqbo_engine.sync.lock import run_lock
from tpsqbo_engine.sync.plan import Operation
from tpsqbo_engine.sync.snapshot import TPS_RESOURCES
from tpsqbo_engine.sync.undo import (
    Step,
    UndoPlan,
    current_record,
    is_taken_back,
    journal_steps,
)
from tpsqbo_engine.sync.undo_compare import (
    BackupUnreadable,
    compare_with_backup,
    differing,
)

Record = dict[str, Any]
# What a full update does not send back: QBO's own stamps (Id and SyncToken are added).
_NOT_SENT = frozenset({"Id", "SyncToken", "MetaData", "domain", "sparse"})


@dataclass(frozen=True)
class UndoSummary:
    run_id: int
    undone: int  # the run taken back
    counts: dict[str, int]
    complete: bool  # every write of the run is taken back
    backup_check: list[str] = field(default_factory=list)  # the initial sync: QBO vs backup
    back_to_backup: bool | None = None  # what that check found; None: no check (not initial)
    # Why QBO was not compared with the backup (it cannot be read, or QBO could not be read
    # for the check): nothing then says the books are back.
    unchecked: str = ""

    @property
    def ok(self) -> bool:
        """Every write taken back and, for the initial sync, QBO back to the backup: what
        `undo` exits 0 on. A difference from the backup is a failure even when each write
        was taken back: the books are not as they were before the run; so is a check that
        could not be made: nothing then says they are."""
        return self.complete and self.back_to_backup is not False and not self.unchecked


def apply_undo(
    session: Any, undo: UndoPlan, reason: str = "", progress: Progress | None = None
) -> UndoSummary:
    state: StateStore = session.state
    target = int(undo.run["id"])
    with run_lock(state):
        run_id = state.start_run("undo", reason)
        state.db.table("runs").update(run_id, {"undoes": target})
        operations = undo.plan.operations
        with session.stopping(run_id):  # whatever stops it, the run is not left `running`
            for done, (op, step) in enumerate(zip(operations, undo.steps, strict=True), 1):
                _one(session, run_id, op, step, target)
                if progress is not None:
                    progress(done, len(operations))
        items = state.items(run_id)
        failed = any(i["status"] == "Failed" for i in items)
        complete = not any(i["status"] in ("Failed", "Warning") for i in items)
        with state.transaction():
            counts = state.finish_run(run_id, "partial" if failed else "completed")
            if complete:
                state.db.table("runs").update(target, {"status": "undone"})
    if not undo.initial:
        return UndoSummary(run_id, target, counts, complete)
    return UndoSummary(run_id, target, counts, complete, *_backup_check(session, undo, target))


def _backup_check(session: Any, undo: UndoPlan, target: int) -> tuple[list[str], bool | None, str]:
    """The initial sync's undo: QBO against the backup taken before it (the lines saying
    so, whether it is back to it, and why the check could not be made, if not)."""
    if not undo.backup:  # the initial sync was forced without one
        return [f"no backup was taken before run {target}: QBO is not compared with one"], None, ""
    why = undo.unreadable  # found when planning: not read again
    if not why:
        try:
            check = compare_with_backup(session, undo.backup, journal_steps(session.state, target))
        except BackupUnreadable as error:
            why = error.message
        except ConnectorError as error:
            why = f"QBO could not be read to compare it with the backup ({error.message})"
        else:
            return list(check.lines), check.back, ""
    # The writes are taken back and recorded (run N may be marked undone, so this undo
    # cannot be run again for the check): the summary is still owed, saying why the check
    # was not made and what to do instead.
    return [f"{why}: QBO is not compared with it; check the books against it by hand"], None, why


def _one(session: Any, run_id: int, op: Operation, step: Step, target: int) -> None:
    state: StateStore = session.state
    if op.action not in ("update", "void", "unlink"):
        state.record_item(run_id, op.target, op.mapping, "undo", op.level, op.message)
        return
    journal = state.intend(
        run_id, step.intent, step.kind, op.target, before_image.dumps(op.target, {})
    )
    try:
        # Each undo attempt is a new request: QBO answers a requestid it has seen with
        # its first answer, so a refusal put right since would be replayed.
        attempt = f"undo@{journal}"
        version = "" if op.action == "unlink" else _write(session, op, step, attempt)
        # A write's answer is not the proof: the record as QBO or TPS now gives it back is.
        after = None if op.action == "unlink" else current_record(session, op.target)
    except FatalConnectorError as fatal:
        _fail(state, run_id, op, journal, fatal.message)
        raise
    except UndoBlocked as blocked:
        _fail(state, run_id, op, journal, f"{blocked.message}; {_again(target)}", blocked.level)
        return
    except ConnectorError as error:
        _fail(state, run_id, op, journal, error.message)
        return
    if op.action != "unlink" and not is_taken_back(step, after):
        _fail(state, run_id, op, journal, _not_back(step, after, target), "Warning")
        return
    with state.transaction():
        _relink(state, step, version)
        state.record_item(run_id, op.target, op.mapping, "undo", "Undone", op.message)
        state.conclude(journal, "written", op.target.split(":", 1)[1], version)


def _not_back(step: Step, after: Record | None, target: int) -> str:
    if step.kind == "restore" and after is not None:
        fields = differing(step.fields, after)
        shown = "; ".join(
            f"{p} is {_short(get_path(after, p))}, was {_short(step.fields[p])}" for p in fields
        )
        return (
            f"restored in part: QBO kept {', '.join(fields)} of {step.written} ({shown}); "
            f"set them back by hand, then {_again(target)}"
        )
    wanted = {"delete": "gone or voided", "deactivate": "inactive", "void": "void"}
    state = wanted.get(step.kind, "as before")
    return f"the write was answered, but {step.written} is not {state}; {_again(target)}"


def _again(target: int) -> str:
    return f"run `tpsqbo-engine undo --run {target}` again"


def _short(value: Any) -> str:
    text = "absent" if value in (None, "") else wire.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _write(session: Any, op: Operation, step: Step, key: str) -> str:
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
        record = _restore(session.qbo, entity, ident, op, key)
    elif entity in NAME_LISTS:
        record = _deactivate(session.qbo, entity, ident, key)
    else:
        try:
            session.qbo.delete(entity, ident, key=key)
            return ""
        except QboError as refused:
            record = _void(session.qbo, entity, ident, refused, key)
    return str(record.get("SyncToken", ""))


def _restore(qbo: Any, entity: str, ident: str, op: Operation, key: str) -> Record:
    """Sends what the plan holds, not the journal read again: its body, as a sparse update.
    A body that clears a field (None: absent before the run) goes as a full update: QBO
    ignores a null in a sparse update, and a full update clears every writable field it
    leaves out (the domain notes, qbo-api.md section 1). That update is the record as QBO
    has it when sent (this undo's earlier steps may have moved it on: a payment it deleted),
    with each path the plan changes set from the body, or left out where the body clears
    it."""
    if all(get_path(op.body, path) is not None for path in op.diff):
        record: Record = qbo.update(entity, ident, op.body, key=key)
        return record
    whole = {k: v for k, v in qbo.read(entity, ident).items() if k not in _NOT_SENT}
    for path in op.diff:
        value = get_path(op.body, path)
        if value is None:
            _drop(whole, path)
        else:
            put_path(whole, path, value)
    # One attempt: re-sending a whole record over a change made meanwhile would erase it.
    restored: Record = qbo.update(entity, ident, whole, sparse=False, attempts=1, key=key)
    return restored


def _drop(target: Record, dotted: str) -> None:
    """Leaves `dotted` out, and an object left holding nothing but its Id with it."""
    head, _, rest = dotted.partition(".")
    if not rest:
        target.pop(head, None)
        return
    inner = target.get(head)
    if isinstance(inner, dict):
        _drop(inner, rest)
        if set(inner) <= {"Id"}:
            target.pop(head)


class UndoBlocked(ConnectorError):
    """QBO will neither delete nor void a transaction: what the firm must do first."""

    def __init__(self, message: str, level: str) -> None:
        super().__init__(message)
        self.level = level


def _deactivate(qbo: Any, entity: str, ident: str, key: str) -> Record:
    try:
        record: Record = qbo.deactivate(entity, ident, key=key)
        return record
    except QboError as refused:
        if entity != "Customer" or refused.fault.code != "6000":
            raise
        # QBO keeps a customer with a balance active: what is still open is what the
        # undo could not take back (listed on its own rows), or what others entered since.
        raise UndoBlocked(
            f"QBO does not make qbo.{entity}:{ident} inactive while it has a balance: "
            "take back or settle its open transactions in QBO (see this undo's other rows), "
            "then",
            "Warning",
        ) from refused


def _void(qbo: Any, entity: str, ident: str, refused: QboError, key: str) -> Record:
    """QBO refused the delete: the transaction is voided instead, if QBO lets it."""
    try:
        record: Record = qbo.void(entity, ident, key=key)
        return record
    except QboError as also:
        raise _blocked(qbo, entity, ident, refused, also) from also


def _blocked(qbo: Any, entity: str, ident: str, refused: QboError, also: QboError) -> UndoBlocked:
    written = f"qbo.{entity}:{ident}"
    codes = {refused.fault.code, also.fault.code}
    if "6540" in codes:
        return UndoBlocked(
            f"QBO neither deletes nor voids {written}: a deposit holds it; remove it from the "
            "deposit in QBO, then",
            "Warning",
        )
    try:
        links = qbo.read(entity, ident).get("LinkedTxn") or []
    except QboError:
        links = []
    payments = [
        f"{x.get('TxnType')} {x.get('TxnId')}" for x in links if x.get("TxnType") in PAYMENT_LINKS
    ]
    if "6000" in codes and payments:
        return UndoBlocked(
            f"QBO neither deletes nor voids {written}: {', '.join(payments)} now pays it "
            "(applied since the undo was planned); the firm decides: remove the payment, or "
            "unapply it from this transaction, in QBO, then",
            "Warning",
        )
    return UndoBlocked(
        f"QBO refused to delete {written} ({refused.fault.code} {refused.fault.message}) and "
        f"to void it ({also.fault.code} {also.fault.message}); see why in QBO, put it right, then",
        "Failed",
    )


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


def _fail(
    state: StateStore,
    run_id: int,
    op: Operation,
    journal: int,
    message: str,
    level: str = "Failed",
) -> None:
    """Not taken back: the next undo of the run tries it again."""
    with state.transaction():
        state.record_item(run_id, op.target, op.mapping, "undo", level, message)
        state.conclude(journal, "failed")
