"""Applying a plan: each write journaled before the call and concluded after, the link, the
history row and the journal's outcome committed in one transaction.

The state is written per batch, not per record: the intents of a batch are committed together
before its call, and the outcomes, links and history rows of the writes made ride in the
next transaction (the next batch's intents, or the end of the run) — one commit per call.

A crash between a write and its state leaves an intent without an outcome. The next run plans
the same write with the same intent key and carries that open attempt on: QBO sees the same
requestid (and the natural-key guard looks the record up first) and TPS the same
Idempotency-Key, so nothing is written twice (bookkeeping.py `attempt`).
The intents left unfinished by earlier runs are read once, when the run starts.

The parts: bookkeeping.py (journal, links, history rows), single_writes.py (one write to
QBO or TPS), batch_writes.py (QBO writes 30 to a call); here, the order they run in.
"""

from __future__ import annotations

from tpsqbo_engine.sync.batch_writes import BatchWrites
from tpsqbo_engine.sync.bookkeeping import Progress
from tpsqbo_engine.sync.plan import Operation

FLUSH_ROWS = 1000  # rows of records left alone held at most before a commit


class Executor(BatchWrites):
    def apply(self) -> None:
        self.earlier = self.state.unfinished_intents()
        operations = _writes_last(self.plan.operations)
        done = 0
        try:
            while done < len(operations):
                group = self._batchable(operations, done)
                if len(group) > 1:
                    self._write_batch(group)
                else:
                    self._one(operations[done])
                done += max(len(group), 1)
                if self.progress is not None:
                    self.progress(done, len(operations))
        finally:
            # Whatever stops the run, the writes it made are recorded (a crash that skips
            # this leaves intents the next run looks up).
            self._flush()

    def _one(self, op: Operation) -> None:
        if op.writes:
            self._write(op)
        elif op.action == "refresh":
            self._refresh(op)
        else:
            self._report(op, op.level or "Excluded", op.message)
        if len(self.pending.items) + len(self.pending.links) >= FLUSH_ROWS:
            self._flush()  # a long stretch of records left alone: memory stays bounded


def _writes_last(operations: list[Operation]) -> list[Operation]:
    """Within each mapping's stretch of the plan, the records left alone go first, so that
    the writes stand together and fill whole batches; the order between mappings (their
    dependencies) is kept."""
    ordered: list[Operation] = []
    stretch: list[Operation] = []
    for op in operations:
        if stretch and op.mapping != stretch[0].mapping:
            ordered.extend(sorted(stretch, key=lambda o: o.writes))
            stretch = []
        stretch.append(op)
    ordered.extend(sorted(stretch, key=lambda o: o.writes))
    return ordered


__all__ = ["Executor", "Progress"]  # Progress: what a caller's progress callback takes
