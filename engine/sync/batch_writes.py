"""QBO creates and updates sent up to 30 to a batch call, each still journaled, linked and
reported alone. An update that comes back stale (changed in QBO meanwhile) is read again and
re-applied on its own."""

from __future__ import annotations

from tpsqbo_engine.connectors.qbo.batch import BatchOp, BatchResult
from tpsqbo_engine.connectors.qbo.errors import StaleObjectError
from tpsqbo_engine.connectors.qbo.transport import BATCH_SIZE
from tpsqbo_engine.errors import ConnectorError, FatalConnectorError
from tpsqbo_engine.ruleset.model import MappingRule
from tpsqbo_engine.state_rows import Outcome
from tpsqbo_engine.sync.bookkeeping import Record, intent_key, intent_row
from tpsqbo_engine.sync.plan import Operation
from tpsqbo_engine.sync.single_writes import SingleWrites, Unresolved, natural_key, resolved

Ready = tuple[Operation, int, Record]  # a write to send: its operation, journal and body


class BatchWrites(SingleWrites):
    @staticmethod
    def _batchable(operations: list[Operation], start: int) -> list[Operation]:
        """Consecutive QBO creates and updates of one mapping, up to a batch of 30."""

        def fits(op: Operation, first: Operation) -> bool:
            sendable = op.action == "create" or (
                op.action in ("update", "link") and bool(op.body) and not op.reverse
            )
            return (
                sendable
                and op.mapping == first.mapping
                and op.target.split(":")[0] == first.target.split(":")[0]
            )

        first = operations[start]
        if not first.target.startswith("qbo.") or not fits(first, first):
            return []
        group = []
        for op in operations[start : start + BATCH_SIZE]:
            if not fits(op, first):
                break
            group.append(op)
        return group

    def _write_batch(self, group: list[Operation]) -> None:
        """Creates sent 30 to a QBO call; each still journaled, linked and reported alone."""
        entity = group[0].target.split(":")[0].split(".", 1)[1]
        journals = self._begin([intent_row(op) for op in group])
        ready = self._ready(entity, group, journals)
        if not ready:
            return
        mapping = self.mapping(group[0].mapping)
        ops = [
            _batch_op(mapping, entity, op, body, self.attempt(op, journal))
            for op, journal, body in ready
        ]
        try:
            results = self.qbo.batch(ops)
        except FatalConnectorError as fatal:
            made = {id(r.op): r for r in fatal.partial}
            self._record_batch(
                entity, ready, [made.get(id(o), BatchResult(o, error=fatal)) for o in ops]
            )
            raise
        except ConnectorError as error:
            self._record_batch(entity, ready, [BatchResult(op, error=error) for op in ops])
            return
        self._record_batch(entity, ready, results)

    def _ready(self, entity: str, group: list[Operation], journals: list[int]) -> list[Ready]:
        """The writes of the group to send. One that depends on a record not written fails;
        one an earlier run made (found by its natural key) is recorded as made."""
        ready: list[Ready] = []
        mapping = self.mapping(group[0].mapping)
        for op, journal in zip(group, journals, strict=True):
            try:
                body = resolved(op.body, self.created)
            except Unresolved as missing:
                self._fail(
                    op, journal, f"depends on {missing}, which was not written", settles=False
                )
                continue
            found = (
                self._written_before(mapping, entity, body, op)
                if op.action == "create" and intent_key(op) in self.earlier
                else None
            )
            if found is not None:
                self._commit_record(op, journal, found, body)
                continue
            ready.append((op, journal, body))
        return ready

    def _record_batch(self, entity: str, ready: list[Ready], results: list[BatchResult]) -> None:
        for (op, journal, body), result in zip(ready, results, strict=True):
            if isinstance(result.error, StaleObjectError):
                self._conclude(op, Outcome(journal, "stale"))
                self._write(op)  # changed meanwhile: read it again and re-apply, alone
                continue
            if result.record is None:
                self._give_up(op, journal, result.error)
                continue
            self._seen(entity, result.record, op.action)
            self._commit_record(op, journal, result.record, body)


def _batch_op(
    mapping: MappingRule, entity: str, op: Operation, body: Record, attempt: str
) -> BatchOp:
    if op.action == "create":
        return BatchOp(entity, body, key=attempt, guard=natural_key(mapping, entity, body))
    # An update names the version it was planned against; a stale one comes back as 5010.
    ident = op.target.split(":", 1)[1]
    return BatchOp(
        entity,
        {**body, "Id": ident, "SyncToken": op.target_version, "sparse": True},
        key=attempt,
        operation="update",
    )
