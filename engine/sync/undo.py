"""`tpsqbo-engine undo --run N`: what run N wrote, taken back, planned first.

Each write of run N is in the journal with its before-image and the version it left
(engine/sync/executor.py). From those, for every record run N wrote:

    created in QBO       a transaction is deleted (voided where QBO refuses the delete),
                         a customer or item is made inactive (QBO deletes no name-list record)
    created in TPS       voided
    updated              its fields are restored to the values they had before (one
                         absent before is cleared; paid history the initial sync read
                         without its lines gets them from the backup: undo_compare.py)
    linked               the link is removed (and any fields it changed are restored)
    updated, no field    nothing to take back (runs before planned writes knew that text
                         differing only in case or spaces is no change); its link stays
    voided               listed: a void cannot be taken back

A record whose version is no longer the one run N left was changed since, by someone or by
a later run: it is not touched but listed, unless `--force` names it. A QBO record moved on
only by QBO's bookkeeping (a payment applied to it since: Balance, LinkedTxn, SyncToken) is
not "changed" (engine/sync/fingerprint.py); but a transaction run N created that a payment
now pays is listed for the firm to decide, never deleted under the payment. A write journaled
without a version is judged by that fingerprint alone; with neither, the record is listed as
one undo cannot tell about, not as changed. Applying is done by
engine/sync/undo_apply.py, which reads each record back and calls it Undone only when
`is_taken_back` says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tpsqbo_engine.connectors.qbo.errors import QboError
from tpsqbo_engine.connectors.qbo.queries import NAME_LISTS
from tpsqbo_engine.dotted import get_path, put_path
from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.state import StateStore
from tpsqbo_engine.sync import before_image
from tpsqbo_engine.sync.fingerprint import PAYMENT_LINKS, fingerprint
from tpsqbo_engine.sync.plan import Operation, Plan
from tpsqbo_engine.sync.planner import version_of
from tpsqbo_engine.sync.snapshot import TPS_RESOURCES
from tpsqbo_engine.sync.undo_compare import (
    BackupUnreadable,
    check_readable,
    differing,
    whole_lists,
)
from tpsqbo_engine.sync.voids import is_void

Record = dict[str, Any]
# QBO deletes no name-list record: it makes it inactive.
TPS_VOIDABLE = frozenset({"Invoice", "Payment", "Adjustment", "FinanceCharge"})
NOT_FOUND = "610"


class UndoRefused(UsageError):
    pass


@dataclass(frozen=True)
class Step:
    """One write of run N and how to take it back."""

    journal_id: int
    mapping: str
    source: str  # the record run N synced from
    written: str  # the record run N wrote, "qbo.Invoice:238"
    kind: str  # delete | deactivate | void | restore | unlink | nothing | final | manual
    fields: dict[str, Any] = field(default_factory=dict)  # before-values by dotted path
    left_version: str = ""
    linked: bool = False  # run N made the link: it goes too
    left_fingerprint: str = ""  # QBO writes: the record as left, QBO's bookkeeping aside
    unknown: tuple[str, ...] = ()  # fields whose before-value is known neither way

    @property
    def intent(self) -> str:
        return f"undo:{self.journal_id}"


@dataclass
class UndoPlan:
    run: dict[str, Any]
    plan: Plan
    steps: list[Step]  # one per operation of the plan
    backup: dict[str, Any] | None = None  # for the initial sync: the backup taken before it
    unreadable: str = ""  # why that backup cannot be read, when it cannot

    @property
    def initial(self) -> bool:
        return bool(self.run["phase"] == "initial")


def target_run(state: StateStore, run_id: int) -> dict[str, Any]:
    """Run N, if it can be undone; else a clear refusal."""
    run = next(state.db.table("runs").rows_where("id = ?", [run_id]), None)
    if run is None:
        raise UndoRefused(f"there is no run {run_id}", hint="see `tpsqbo-engine history`")
    if run["phase"] == "undo":
        raise UndoRefused(
            f"run {run_id} is itself an undo (of run {run['undoes']}); an undo is not undone",
            hint="to write those records again, fix the rules and run `tpsqbo-engine sync`",
        )
    if run["phase"] == "reconcile":
        raise UndoRefused(f"run {run_id} was a reconciliation: it wrote nothing")
    if run["status"] == "undone":
        raise UndoRefused(f"run {run_id} was already undone", hint="see `tpsqbo-engine history`")
    if run["status"] == "running" and not run["finished_at"]:
        raise UndoRefused(
            f"run {run_id} has not finished", hint="let it finish (or run `sync` to complete it)"
        )
    return run


def plan_undo(session: Any, run_id: int, force: frozenset[str] = frozenset()) -> UndoPlan:
    run = target_run(session.state, run_id)
    done = undone_already(session.state, run_id)
    steps = [s for s in reversed(journal_steps(session.state, run_id)) if s.journal_id not in done]
    unknown = force - {s.written for s in steps}
    if unknown:
        raise UndoRefused(
            f"--force names {', '.join(sorted(unknown))}, which run {run_id} did not write",
            hint=f"see `tpsqbo-engine undo --run {run_id} --plan` for the records it wrote",
        )
    # Payments run N made itself are taken back before what they pay (steps run in reverse).
    own = {s.written.split(".", 1)[1] for s in steps if s.kind == "delete"}
    current = {s.written: current_record(session, s.written) for s in steps}
    backup = _backup_before(session.state, run) if run["phase"] == "initial" else None
    unreadable = ""
    if run["phase"] == "initial":
        try:
            check_readable(backup)
            steps = whole_lists(steps, backup, current)
        except BackupUnreadable as error:  # its lists are then known neither way
            unreadable = error.message
            steps = whole_lists(steps, None, current)
    operations = [
        _decide(step, current[step.written], run_id, step.written in force, own) for step in steps
    ]
    plan = Plan("undo", operations, "")
    return UndoPlan(run, plan, steps, backup, unreadable)


def journal_steps(state: StateStore, run_id: int) -> list[Step]:
    """Every write run N made, in order, with its before-image."""
    rows = [r for r in state.journal(run_id) if r["outcome"] == "written"]
    if any(not r["before"] for r in rows):
        raise UndoRefused(
            f"run {run_id} was made before the journal kept before-images; it cannot be undone",
            hint="restore from the backup taken before it (`tpsqbo-engine backup` files)",
        )
    return [_step(r) for r in rows]


def undone_already(state: StateStore, run_id: int) -> set[int]:
    """Run N's journal rows an earlier undo (one that was interrupted, or that left
    records for the firm to decide) already took back."""
    rows = state.db.query(
        "select j.intent from journal j join runs r on r.id = j.run_id "
        "where r.phase = 'undo' and r.undoes = ? and j.outcome = 'written'",
        [run_id],
    )
    return {int(row["intent"].split(":")[1]) for row in rows}


def _step(row: dict[str, Any]) -> Step:
    try:
        before = before_image.loads(row["before"])
    except before_image.UnreadableImage as exc:
        raise UndoRefused(
            f"the journal's before-image of write {row['id']} ({row['target']}) cannot be "
            f"read: {exc}",
            hint="restore the state file from its copy (state.db.1), or restore from a backup",
        ) from None
    written = str(before["written"])
    if ":" not in written:  # a create: the id came back from the write
        written = f"{written}:{row['result_id']}"
    mapping, rest = row["intent"].split(":", 1)
    source = ":".join(rest.split(":")[:2])
    system, entity = written.split(":", 1)[0].split(".", 1)
    fields = dict(before["fields"])
    operation = row["operation"]
    if operation == "create":
        if system == "qbo":
            kind = "deactivate" if entity in NAME_LISTS else "delete"
        else:
            kind = "void" if entity in TPS_VOIDABLE else "manual"
    elif operation == "void":
        kind = "final"
    elif fields:
        kind = "restore"
    else:  # a link with no field to set, or an update that changed nothing (older runs)
        kind = "unlink" if operation == "link" else "nothing"
    return Step(
        row["id"],
        mapping,
        source,
        written,
        kind,
        fields,
        str(row["result_version"] or ""),
        operation in ("create", "link"),
        str(row.get("result_fingerprint") or ""),
    )


def current_record(session: Any, written: str) -> Record | None:
    """The record as it is now; None if it is gone."""
    qualified, ident = written.split(":", 1)
    system, entity = qualified.split(".", 1)
    if system == "tps":
        record: Record = session.tps.get(TPS_RESOURCES[entity], ident)
        return record
    try:
        found: Record = session.qbo.read(entity, ident)
    except QboError as error:
        if error.fault.code == NOT_FOUND:
            return None
        raise
    return found


def is_taken_back(step: Step, current: Record | None) -> bool:
    if step.kind == "delete":
        return current is None or is_void(current)
    if current is None:
        return step.kind not in ("restore",)
    if step.kind == "deactivate":
        return current.get("Active") is False
    if step.kind == "void":
        return current.get("status") == "void"
    if step.kind == "restore":
        return not differing(step.fields, current)
    return False


def _decide(
    step: Step,
    current: Record | None,
    run_id: int,
    forced: bool,
    own: frozenset[str] | set[str] = frozenset(),
) -> Operation:
    qualified = step.written.split(":", 1)[0]
    now = version_of(qualified, current)

    def listed(message: str) -> Operation:
        return _op(step, "review", level="Warning", message=message)

    if step.kind == "final":
        return listed(f"run {run_id} voided {step.written}: a void cannot be taken back")
    if step.kind == "manual":
        return listed(f"TPS has no void for {qualified}: remove {step.written} by hand")
    if step.kind == "nothing":
        return _op(
            step,
            "nothing",
            level="Undone",
            message=f"run {run_id} changed nothing in {step.written}: nothing to take back",
        )
    if is_taken_back(step, current) or step.kind == "unlink":
        gone = "is gone" if current is None else "is already as it was before"
        message = f"{step.written} {gone}" if step.kind != "unlink" else "linked by the run"
        # Only a link the run made goes; a record it updated keeps the link it had.
        then = "the link is removed" if step.linked else "nothing to write"
        return _op(step, "unlink", level="Undone", message=f"{message}; {then}")
    if current is None:
        return listed(f"{step.written} is gone since run {run_id}: nothing to restore")
    if step.unknown:
        return listed(
            f"not touched: run {run_id} read {step.written} as paid history, without its "
            f"{', '.join(step.unknown)}, and the backup taken before the run does not hold it "
            "(or cannot be read), "
            "so what it was cannot be restored; set it back by hand in QBO"
        )
    payments = [p for p in _paid_by(step, current) if p.replace(" ", ":") not in own]
    if payments:
        # QBO refuses to delete a transaction a payment is applied to, and voiding it would
        # leave the payment as an unapplied credit: that is the firm's call, not undo's.
        return listed(
            f"paid since run {run_id} by {', '.join(payments)}: deleting it would orphan the "
            "payment; the firm decides (remove or re-apply the payment in QBO, then undo again)"
        )
    since = _since(step, current, now, run_id)
    if since and not forced:
        return listed(
            f"{since}: not touched; to take it back anyway: --force {step.written} --reason '...'"
        )
    return _write_op(step, current, now, since if forced else "")


def _since(step: Step, current: Record, now: str, run_id: int) -> str:
    """Why the record may not be as run N left it; "" when it is. A new version is a change
    unless only QBO's own bookkeeping (a payment applied, changed or removed since) moved it
    on. A journal row with no version (a run's answer that carried none) proves nothing by
    versions: the record's content is compared with the fingerprint run N kept of it, and
    with neither, undo says it cannot tell rather than calling the record changed."""
    kept = bool(step.left_fingerprint)
    if step.left_version:
        if now == step.left_version or (kept and fingerprint(current) == step.left_fingerprint):
            return ""
        return f"changed since run {run_id} (version {now}, the run left {step.left_version})"
    if kept:
        if fingerprint(current) == step.left_fingerprint:
            return ""
        return (
            f"changed since run {run_id} (run {run_id} kept no version of it, and its "
            "content is no longer what the run left)"
        )
    return (
        f"run {run_id} kept neither a version of {step.written} nor its content as the run "
        "left it, so undo cannot tell whether it changed since"
    )


def _paid_by(step: Step, current: Record) -> list[str]:
    """The QBO payments now applied to a transaction run N created."""
    if step.kind != "delete" or not step.written.startswith("qbo."):
        return []
    return [
        f"{link.get('TxnType')} {link.get('TxnId')}"
        for link in current.get("LinkedTxn") or []
        if isinstance(link, dict) and link.get("TxnType") in PAYMENT_LINKS
    ]


def _op(step: Step, action: str, **values: Any) -> Operation:
    return Operation(step.mapping, step.source, action, step.written, **values)


def _write_op(step: Step, current: Record, now: str, forced: str) -> Operation:
    """`forced`: why the record is not known to be as run N left it, when --force names it."""
    note = f" (forced: {forced})" if forced else ""
    if step.kind == "restore":
        body: Record = {}
        for path, value in step.fields.items():
            put_path(body, path, value)
        return _op(
            step,
            "update",
            body=body,
            diff={p: [get_path(current, p), v] for p, v in step.fields.items()},
            target_version=now,
            message=f"restore {len(step.fields)} field(s) of {step.written}{_cleared(step)}{note}",
        )
    verb = {"delete": "delete", "deactivate": "make inactive", "void": "void"}[step.kind]
    return _op(step, "void", target_version=now, message=f"{verb} {step.written}{note}")


def _cleared(step: Step) -> str:
    """Fields absent before run N: a full update of the record clears them."""
    cleared = [path for path, value in step.fields.items() if value is None]
    if not cleared:
        return ""
    how = (
        ": a full update of the record as QBO has it then"
        if step.written.startswith("qbo.")
        else ""
    )
    return f" (clearing {', '.join(cleared)}, absent before{how})"


def _backup_before(state: StateStore, run: dict[str, Any]) -> dict[str, Any] | None:
    return next(
        state.db.table("backups").rows_where(
            "taken_at <= ?", [run["started_at"]], order_by="id desc", limit=1
        ),
        None,
    )
