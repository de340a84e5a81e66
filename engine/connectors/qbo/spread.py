"""Many writes spread over the realm's budget: batch calls of 30 while the batch window has
room, single requests in the rest of it. A realm may make 40 batch calls among its 500
requests a minute; while the batch calls are spent, the rest of the budget carries writes one
by one until a batch call fits again (about 1,660 writes a minute instead of 1,200).

A fatal error carries, in `partial`, the results of the writes made before it, so they are
recorded all the same."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager

from tpsqbo_engine.connectors.qbo.batch import BatchOp, BatchResult, QboBatch
from tpsqbo_engine.connectors.qbo.transport import BATCH_SIZE, Record
from tpsqbo_engine.errors import ConnectorError, FatalConnectorError

# Single writes in flight at once: QBO answers 429 past 10 concurrent requests per realm.
SINGLE_THREADS = 10


class QboSpreadWrites(QboBatch):
    def batch(self, ops: list[BatchOp]) -> list[BatchResult]:
        """Writes packed 30 to a call. Items are independent in QBO: an item cannot refer to
        what another item of the same call creates. A fatal error carries, in `partial`, the
        results of the writes made before it, so they are recorded all the same."""
        results: list[BatchResult] = []
        with _kept(results):
            for start in range(0, len(ops), BATCH_SIZE):
                results.extend(self._batch_chunk(ops[start : start + BATCH_SIZE]))
        return results

    def _batch_chunk(self, ops: list[BatchOp]) -> list[BatchResult]:
        """One batch call when the budget has room for it; else writes one by one until it
        has. A loop, bounded since each pass writes at least one op singly or the rest in
        one batch, however the budget's room flips between looks."""
        results: list[BatchResult] = []
        with _kept(results):
            for _ in range(len(ops) + 1):
                rest = ops[len(results) :]
                if not rest:
                    break
                if not self._batch_room():
                    results += self._singly(rest)
                    continue
                try:
                    results += self._batched(rest)
                except FatalConnectorError:
                    raise
                except ConnectorError as error:
                    if not results:
                        raise
                    # The writes made singly stand: only the ones of this call are in doubt.
                    results += [BatchResult(op, error=error) for op in rest]
                break
        return results

    def _singly(self, ops: list[BatchOp]) -> list[BatchResult]:
        """The writes one by one, until a batch call fits again. They go several at a time,
        since one at a time a request's round trip, not the realm's 10 a second, would set
        the pace; the budget counts those in flight, so at most 10 are. The writes of one
        batch are independent (a batch item cannot refer to another), so their order does
        not matter."""
        results: dict[int, BatchResult] = {}
        flying: dict[Future[BatchResult], int] = {}
        rest = len(ops)
        with ThreadPoolExecutor(SINGLE_THREADS, thread_name_prefix="qbo-single") as pool:
            try:
                for index, op in enumerate(ops):
                    if len(flying) >= SINGLE_THREADS:
                        self._settle(flying, results, FIRST_COMPLETED)
                    # A batch call is worth it again for half a batch or more (one is
                    # worth 30 writes: a few would waste it); the first one we know has none.
                    if index and len(ops) - index >= BATCH_SIZE // 2 and self._batch_room():
                        rest = index
                        break
                    flying[pool.submit(self._single_result, op)] = index
                self._settle(flying, results, ALL_COMPLETED)
            except FatalConnectorError as fatal:
                # The writes already sent get their answers, and those made are kept.
                self._settle_quietly(flying, results)
                fatal.partial = tuple(results[i] for i in sorted(results))
                raise
            finally:
                wait(flying)
        return [results[i] for i in range(rest)]

    def _batch_room(self) -> bool:
        return self.limiter is None or self.limiter.batch_room()

    @staticmethod
    def _settle(
        flying: dict[Future[BatchResult], int], results: dict[int, BatchResult], until: str
    ) -> None:
        done, _ = wait(flying, return_when=until)
        for future in done:
            results[flying.pop(future)] = future.result()  # raises only a fatal error

    @staticmethod
    def _settle_quietly(
        flying: dict[Future[BatchResult], int], results: dict[int, BatchResult]
    ) -> None:
        wait(flying)
        for future, index in flying.items():
            if future.exception() is None:
                results[index] = future.result()
        flying.clear()

    def _single_result(self, op: BatchOp) -> BatchResult:
        """The write's outcome; an error fails this write alone (its neighbours' results
        still come back), but a fatal one (the connection is gone) stops them all."""
        try:
            return BatchResult(op, self._single(op))
        except FatalConnectorError:
            raise
        except ConnectorError as error:
            return BatchResult(op, error=error)

    def _single(self, op: BatchOp) -> Record:
        if op.operation == "create":
            return self.create(op.entity, op.body, key=op.key, guard=op.guard)
        key = self.requestid(f"single:{op.key}:{op.body.get('SyncToken', '')}")
        answer = self.call(
            "POST", op.entity.lower(), body=op.body, requestid=key, expect=(op.entity, dict)
        )
        record: Record = answer[op.entity]
        return record


@contextmanager
def _kept(results: list[BatchResult]) -> Iterator[None]:
    """A fatal error raised inside carries the results made before it, so they are recorded."""
    try:
        yield
    except FatalConnectorError as fatal:
        fatal.partial = (*results, *fatal.partial)
        raise
