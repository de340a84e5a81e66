"""The initial sync, read through a spool and, for a big firm, planned a chunk of clients at
a time (each chunk's plan kept in the spool), checked, then applied a chunk at a time
(engine/sync/chunks.py): its memory follows the chunk, not the firm's history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tpsqbo_engine.sync.chunks import (
    CLIENT,
    Chunks,
    Spool,
    assign,
    chunk_snapshot,
    read_spooled,
    shared_records,
)
from tpsqbo_engine.sync.executor import Executor, Progress
from tpsqbo_engine.sync.mirror import Mirror
from tpsqbo_engine.sync.plan import Operation, Plan
from tpsqbo_engine.sync.scope import history_slimmer
from tpsqbo_engine.sync.snapshot import Snapshot, entities_used

if TYPE_CHECKING:
    from tpsqbo_engine.sync.session import Session

# What the checklist looks at in a plan (engine/sync/checks.py).
CHECKED = frozenset({"fail", "review", "block", "ignore"})


@dataclass(frozen=True)
class Applied:
    run_id: int
    read: Snapshot  # where the reads reached (cursors), and what the run says


def initial_sync(
    session: Session, force_reason: str, progress: Progress | None
) -> Snapshot | Applied:
    """Reads everything once. A firm that fits one chunk gets its whole snapshot back, to be
    planned and applied as always; a bigger one is planned and applied here, by chunk."""
    spool = Spool(session.config.state.with_name(session.config.state.name + ".spool"))
    try:
        names = entities_used(session.rules)
        mirror = Mirror(session.state)
        slim = history_slimmer(session.rules)
        base = read_spooled(session.tps, session.qbo, names, mirror, slim, spool)
        spool.known(base.records(CLIENT))
        chunks = assign(session.rules, base, session.state, session.pins())
        if len(chunks.clients) <= 1:
            for qualified, records in spool.everything().items():
                base.records(qualified).update(records)
            return base
        return _in_chunks(session, base, chunks, spool, force_reason, progress)
    finally:
        spool.close()


def _in_chunks(
    session: Session,
    base: Snapshot,
    chunks: Chunks,
    spool: Spool,
    force_reason: str,
    progress: Progress | None,
) -> Applied:
    # Each chunk takes its clients and customers from the mirror: the firm's are not held.
    base.tps.pop("Client", None)
    if "Customer" in base.qbo:
        base.qbo["Customer"] = {}
    _planned(session, base, chunks, spool, force_reason)
    if session.state.latest_backup() is None:
        session.backup()  # never write to the books without a restore point
    run_id = session.state.start_run("initial", force_reason)
    seen = session.seeing_writes()
    # A chunk's invoices name work codes an earlier chunk created: one map for all chunks,
    # keeping between chunks only what every chunk holds (engine/sync/chunks.py).
    created: dict[str, str] = {}
    shared = shared_records(base)
    with session.stopping(run_id):  # whatever stops it between chunks too
        for n in range(chunks.rest + 1):
            plan = Plan("initial", spool.plan(n))
            executor = Executor(
                plan, session.rules, session.state, session.qbo, session.tps, run_id, progress
            )
            executor.created, executor.written = created, seen
            session.apply(executor)
            seen.flush()
            del plan, executor  # one chunk's plan at a time
            kept = {k: v for k, v in created.items() if k.split(":", 1)[0] in shared}
            created.clear()  # a new table: the old one's room goes
            created.update(kept)
    base.notes.append(f"planned and applied in {len(chunks.clients)} chunks of clients")
    return Applied(run_id, base)


def _planned(
    session: Session, base: Snapshot, chunks: Chunks, spool: Spool, force_reason: str
) -> None:
    """Before any write, every chunk planned, its plan kept in the spool; the checklist
    refuses as for a firm planned whole."""
    from tpsqbo_engine.sync.session import ChecklistFailed

    mirror = Mirror(session.state)
    linked = session.customers_linked()
    checked: list[Operation] = []
    once = _Once(shared_records(base))
    for n in range(chunks.rest + 1):
        part = chunk_snapshot(base, chunks, n, spool, mirror, linked)
        # another chunk's QBO record of the same number is named, never linked
        plan = Plan("initial", once.new(session.plan(part, elsewhere=base)[0].operations))
        del part
        checked += [op for op in plan.operations if op.action in CHECKED]
        spool.keep_plan(n, plan.operations)
        del plan  # one chunk's plan at a time
    failed = [c for c in session.checklist(Plan("initial", checked)) if c.blocks]
    if failed and not force_reason:
        raise ChecklistFailed(failed)


class _Once:
    """Records every chunk holds (work codes, the QBO lists) are decided in each, and
    reported from the first only."""

    def __init__(self, shared: frozenset[str]) -> None:
        self.shared = shared
        self.done: set[str] = set()

    def new(self, operations: list[Operation]) -> list[Operation]:
        kept = []
        for op in operations:
            entity = op.record.split(":", 1)[0]
            if entity in self.shared and op.record in self.done:
                continue
            if entity in self.shared:
                self.done.add(op.record)
            kept.append(op)
        return kept
