"""One batch call of up to 30 writes. Items are independent in QBO: an item cannot refer to
what another item of the same call creates. An answer that leaves items out is not trusted
to mean they were not written: the guarded ones are looked up by their natural key, the rest
sent again, `BATCH_ROUNDS` times at most, and an item still without an answer is an error of
its own."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tpsqbo_engine.connectors.qbo.errors import QboFault, QboRetriableError, error_for, fault_from
from tpsqbo_engine.connectors.qbo.queries import NaturalKey
from tpsqbo_engine.connectors.qbo.transport import Record
from tpsqbo_engine.connectors.qbo.writes import QboWrites

BATCH_ROUNDS = 3  # a batch answer that leaves items out is sent again this many times at most


@dataclass(frozen=True)
class BatchOp:
    entity: str
    body: Record
    key: str
    operation: str = "create"
    guard: NaturalKey | None = None


@dataclass(frozen=True)
class BatchResult:
    op: BatchOp
    record: Record | None = None
    error: Exception | None = None


class QboBatch(QboWrites):
    def _batched(self, ops: list[BatchOp]) -> list[BatchResult]:
        started = datetime.now().astimezone()
        done: dict[int, BatchResult] = {}

        def look_again() -> Record | None:
            self._find_guarded(ops, done, started)
            return {"BatchItemResponse": []} if done else None

        pending = list(range(len(ops)))
        for round_ in range(BATCH_ROUNDS):
            if round_:  # items left out may have been written all the same: look first
                self._find_guarded(
                    [ops[i] if i in pending else None for i in range(len(ops))], done, started
                )
                pending = [i for i in pending if i not in done]
            if not pending:
                break
            self._batch_round(ops, pending, done, look_again)
            pending = [i for i in pending if i not in done]
        for index in pending:
            done[index] = BatchResult(ops[index], error=_left_out(ops[index]))
        return [done[i] for i in range(len(ops))]

    def _batch_round(
        self,
        ops: list[BatchOp],
        pending: list[int],
        done: dict[int, BatchResult],
        look_again: Callable[[], Record | None],
    ) -> None:
        """One batch call of the pending ops; what its answer says of them goes in `done`."""
        items = [
            {"bId": f"b{i}", "operation": ops[i].operation, ops[i].entity: ops[i].body}
            for i in pending
        ]
        key = ",".join(ops[i].key for i in pending)
        answer = self.call_batch(
            items, requestid=self.requestid(f"batch:{key}"), on_lost=look_again
        )
        for item in answer:
            index = _batch_index(item, pending)
            result = None if index is None else self._batch_result(ops[index], item)
            if index is not None and result is not None:
                done[index] = result

    def _find_guarded(
        self, ops: Sequence[BatchOp | None], done: dict[int, BatchResult], since: datetime
    ) -> None:
        for index, op in enumerate(ops):
            if op is None or op.guard is None or index in done:
                continue
            found = self.find(op.entity, op.guard, since)
            if found is not None:
                done[index] = BatchResult(op, found)
                self.stats.guard_hits += 1

    def _batch_result(self, op: BatchOp, item: Record) -> BatchResult | None:
        """The item's outcome, or None when the answer says nothing usable about it."""
        if "Fault" in item:
            fault = fault_from(200, item, "", "")
            assert fault is not None
            return BatchResult(op, error=error_for(fault))
        record = item.get(op.entity)
        return BatchResult(op, record) if isinstance(record, dict) else None


def _batch_index(item: Any, pending: list[int]) -> int | None:
    """Which pending op a batch answer item is about; None for an item that names none."""
    ident = str(item.get("bId", "")) if isinstance(item, dict) else ""
    if not (ident.startswith("b") and ident[1:].isdigit()):
        return None
    index = int(ident[1:])
    return index if index in pending else None


def _left_out(op: BatchOp) -> QboRetriableError:
    return QboRetriableError(
        QboFault(
            200,
            "left-out",
            "no answer for this item",
            f"QBO's batch answer left out {op.entity} {op.key} {BATCH_ROUNDS} times",
        )
    )
