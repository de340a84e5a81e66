"""The QuickBooks Online API client.

One `call` does what every request needs: the per-realm limiter, a fresh access token
(refreshed once on a 401), minorversion 75, timeouts, money as Decimal, QBO's faults mapped to
fatal / retriable / skippable, and the shared retry policy (connectors/retry.py) for 429,
5xx, lost connections and answers that are not what was asked for: a 200 is data only once it
is a JSON object with the expected envelope, never an empty answer made up from garbage.
Every loop ends: retries, paging, CDC's cursor, a batch answer that leaves items out.

Writes carry a deterministic `requestid`, so a retry is replayed by QBO rather than run
twice; creates also carry a natural-key guard, because requestid is not always honoured:
after a lost response the record is looked up before anything is sent again.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import requests

from tpsqbo_engine import __version__
from tpsqbo_engine.connectors.qbo import wire
from tpsqbo_engine.connectors.qbo.auth import QboAuth
from tpsqbo_engine.connectors.qbo.errors import (
    QboFatalError,
    QboFault,
    QboRetriableError,
    StaleObjectError,
    error_for,
    fault_from,
)
from tpsqbo_engine.connectors.qbo.limits import Budget
from tpsqbo_engine.connectors.retry import Again, RetryPolicy, retry_after
from tpsqbo_engine.errors import ConnectorError, FatalConnectorError

MINOR_VERSION = "75"
PAGE_SIZE = 1000
BATCH_SIZE = 30
BATCH_OBJECTS = 1000  # a batch answer holds at most this many objects in all
CDC_CAP = 1000
MAX_PAGES = 10_000  # ten million records of one entity: past that, paging is going in circles
# Single writes in flight at once: QBO answers 429 past 10 concurrent requests per realm.
SINGLE_THREADS = 10
BATCH_ROUNDS = 3  # a batch answer that leaves items out is sent again this many times at most
# QBO leaves some fields out of query answers unless the SELECT names them (Item.Sku).
EXTRA_FIELDS = {"Item": ("Sku",)}
REQUEST_NAMESPACE = uuid.UUID("6f1d7c1e-8a53-4c1b-9d0e-2f3b7a9c4e21")
Record = dict[str, Any]


@dataclass(frozen=True)
class NaturalKey:
    """How to find a record again: `DocNumber = x`, `DisplayName = x`, or a PrivateNote marker."""

    field: str
    value: str


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


@dataclass
class CallStats:
    calls: int = 0
    batch_calls: int = 0
    retries: int = 0
    guard_hits: int = 0


class _LostResponse(Exception):
    """A write was sent and no answer came back: it may or may not have happened."""


@dataclass
class QboClient:
    auth: QboAuth
    limiter: Budget | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    session: requests.Session = field(default_factory=requests.Session)
    sleep: Callable[[float], None] = time.sleep
    stats: CallStats = field(default_factory=CallStats)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _auth_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        tokens = self.auth.tokens
        self.realm_id, self.api_base = tokens.realm_id, tokens.api_base.rstrip("/")
        self.session.headers.update(
            {"Accept": "application/json", "User-Agent": f"tpsqbo-engine/{__version__}"}
        )

    # Transport ----------------------------------------------------------------------------
    def requestid(self, key: str) -> str:
        return str(uuid.uuid5(REQUEST_NAMESPACE, f"{self.realm_id}:{key}"))

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        text: str | None = None,
        requestid: str | None = None,
        batch: bool = False,
        on_lost: Callable[[], Record | None] | None = None,
        expect: tuple[str, type] | None = None,
    ) -> Record:
        """One request under the retry policy. `expect` names the envelope the answer must
        have (`("QueryResponse", dict)`): a 200 without it is not an empty answer but a
        retriable error, and after the last attempt the call fails."""
        query = {"minorversion": MINOR_VERSION, **(params or {})}
        if requestid:
            query["requestid"] = requestid
        refreshed = False

        def attempt() -> Record:
            nonlocal refreshed
            while True:  # at most twice: a 401 refreshes the access token once per call
                try:
                    response, token = self._send(method, path, query, body, text, batch)
                except _LostResponse:
                    found = on_lost() if on_lost is not None else None
                    if found is not None:
                        return found
                    raise Again(_lost(method, path)) from None
                if response.status_code == 401 and not refreshed:
                    self._refresh_token(token)
                    refreshed = True
                    continue
                return _understood(response, f"{method} {path.split('/')[0]}", expect)

        return self.retry.run(attempt, sleep=self.sleep, on_retry=self._count_retry)

    def _send(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        text: str | None,
        batch: bool,
    ) -> tuple[requests.Response, str]:
        """The answer and the access token it was sent with (a 401 refreshes that one)."""
        headers: dict[str, str] = {}
        data: str | bytes | None = None
        if text is not None:
            headers["Content-Type"] = "application/text"
            data = text.encode()
        elif body is not None:
            headers["Content-Type"] = "application/json"
            data = wire.dumps(body).encode()
        ticket = self.limiter.acquire(batch=batch) if self.limiter is not None else ""
        try:
            token = self._access_token()  # after the wait for the budget, which may be long
            headers["Authorization"] = f"Bearer {token}"
            with self._lock:
                self.stats.calls += 1
                self.stats.batch_calls += int(batch)
            response = self.session.request(
                method,
                f"{self.api_base}/v3/company/{self.realm_id}/{path}",
                params=query,
                data=data,
                headers=headers,
                timeout=self.retry.timeout,
            )
        except (requests.ConnectionError, requests.Timeout):
            raise _LostResponse from None
        finally:  # the answer came (or never will): the call counts from now, as QBO's did
            if self.limiter is not None:
                self.limiter.finished(ticket)
        return response, token

    def _access_token(self) -> str:
        # Writes go out from several threads: one refreshes, the others take its token.
        with self._auth_lock:
            return self.auth.access_token()

    def _refresh_token(self, rejected: str) -> None:
        with self._auth_lock:
            self.auth.refresh(rejected)

    def _count_retry(self) -> None:
        with self._lock:
            self.stats.retries += 1

    # Reads --------------------------------------------------------------------------------
    def read(self, entity: str, ident: str, *, include: str = "") -> Record:
        params = {"include": include} if include else None
        answer = self.call("GET", f"{entity.lower()}/{ident}", params=params, expect=(entity, dict))
        record: Record = answer[entity]
        return record

    def company_info(self) -> Record:
        answer = self.call("GET", f"companyinfo/{self.realm_id}", expect=("CompanyInfo", dict))
        info: Record = answer["CompanyInfo"]
        return info

    def preferences(self) -> Record:
        prefs: Record = self.call("GET", "preferences", expect=("Preferences", dict))["Preferences"]
        return prefs

    def query(self, statement: str) -> list[Record]:
        answer = self.call("POST", "query", text=statement, expect=("QueryResponse", dict))
        rows = next((v for v in answer["QueryResponse"].values() if isinstance(v, list)), [])
        if not all(isinstance(row, dict) for row in rows):
            raise _not_understood(200, "POST query", "rows that are not objects")
        return rows

    def count(self, entity: str, where: str = "") -> int:
        statement = f"SELECT COUNT(*) FROM {entity}{' WHERE ' + where if where else ''}"
        answer = self.call("POST", "query", text=statement, expect=("QueryResponse", dict))
        total = answer["QueryResponse"].get("totalCount")
        if isinstance(total, bool) or not isinstance(total, int | Decimal):
            raise _not_understood(200, "POST query", "a count that is not a number")
        return int(total)

    def query_all(
        self, entity: str, where: str = "", order_by: str = "Id", start: int = 1
    ) -> Iterator[Record]:
        """Every matching record, a page of 1,000 at a time (STARTPOSITION is 1-based)."""
        clause = f" WHERE {where}" if where else ""
        for _ in range(MAX_PAGES):
            page = self.query(
                f"SELECT {_fields(entity)} FROM {entity}{clause} ORDERBY {order_by} "
                f"STARTPOSITION {start} MAXRESULTS {PAGE_SIZE}"
            )
            yield from page
            if len(page) < PAGE_SIZE:
                return
            start += PAGE_SIZE
        raise _not_understood(200, "POST query", f"more than {MAX_PAGES:,} pages of {entity}")

    def query_batch(self, wanted: dict[str, str]) -> dict[str, Iterator[Record]]:
        """Every matching record of several entities (entity -> WHERE, or ''): their first
        pages in one batch call of up to 30 `Query` items, the rest read as it is iterated.
        A batch answer holds at most 1,000 objects, so each first page is 1,000 / the
        queries in the call; an entity with more goes on by its own queries. An item QBO
        leaves out is asked again on its own; an item's fault is raised as a plain query's
        would be."""
        found: dict[str, Iterator[Record]] = {}
        names = sorted(wanted)
        for begin in range(0, len(names), BATCH_SIZE):
            chunk = names[begin : begin + BATCH_SIZE]
            if len(chunk) == 1 or (self.limiter is not None and not self.limiter.batch_room()):
                found |= {e: self.query_all(e, wanted[e]) for e in chunk}
                continue
            size = BATCH_OBJECTS // len(chunk)
            items = [
                {"bId": f"q{i}", "Query": _select(e, wanted[e], 1, size)}
                for i, e in enumerate(chunk)
            ]
            body = self.call(
                "POST",
                "batch",
                body={"BatchItemRequest": items},
                batch=True,
                expect=("BatchItemResponse", list),
            )
            pages = _query_pages(body["BatchItemResponse"], chunk)
            for index, entity in enumerate(chunk):
                page = pages.get(index)
                if page is None:  # left out of the answer: asked again on its own
                    found[entity] = self.query_all(entity, wanted[entity])
                elif len(page) < size:
                    found[entity] = iter(page)
                else:
                    rest = self.query_all(entity, wanted[entity], start=size + 1)
                    found[entity] = itertools.chain(page, rest)
        return found

    def read_many(self, entity: str, ids: list[str]) -> Iterator[Record]:
        """Records by id, a hundred to a query."""
        for start in range(0, len(ids), 100):
            chunk = ", ".join(wire.quote(i) for i in ids[start : start + 100])
            yield from self.query(
                f"SELECT {_fields(entity)} FROM {entity} WHERE Id IN ({chunk}) MAXRESULTS 1000"
            )

    def find(self, entity: str, key: NaturalKey, since: datetime | None = None) -> Record | None:
        """The record a natural key names, if it exists (PrivateNote cannot be filtered on in
        QBO, so markers are looked for among recent changes)."""
        if key.field != "PrivateNote":
            rows = self.query(
                f"SELECT {_fields(entity)} FROM {entity} "
                f"WHERE {key.field} = {wire.quote(key.value)}"
            )
            return rows[0] if rows else None
        moment = (since or datetime.now().astimezone()) - timedelta(minutes=10)
        where = f"MetaData.LastUpdatedTime >= {wire.quote(moment.isoformat(timespec='seconds'))}"
        marker = re.compile(re.escape(key.value) + r"(?![\w-])")  # adj-10 is not adj-100
        return next(
            (
                r
                for r in self.query_all(entity, where)
                if marker.search(str(r.get("PrivateNote", "")))
            ),
            None,
        )

    def cdc(
        self,
        entities: list[str],
        since: datetime,
        keep: Callable[[str, Record], bool] | None = None,
    ) -> dict[str, list[Record]]:
        """Everything changed since `since` that `keep` keeps, as each answer arrives. A
        saturated answer (1,000 objects, shared by all entities) is followed by another from
        the newest change returned, until one is not."""
        changes: dict[str, dict[tuple[str, str], Record]] = {}
        cursor = since
        for _ in range(MAX_PAGES):
            body = self.call(
                "GET",
                "cdc",
                params={"entities": ",".join(entities), "changedSince": cursor.isoformat()},
                expect=("CDCResponse", list),
            )
            returned = list(_cdc_objects(body))
            for entity, record in returned:
                stamp = record.get("MetaData", {}).get("LastUpdatedTime", "")
                if keep is None or keep(entity, record):
                    changes.setdefault(entity, {})[(record["Id"], stamp)] = record
            if len(returned) < CDC_CAP:
                break
            newest = max(
                datetime.fromisoformat(r.get("MetaData", {}).get("LastUpdatedTime"))
                for _, r in returned
            )
            if newest <= cursor:  # a single instant holds over 1,000 changes: read them whole
                for entity in entities:
                    where = f"MetaData.LastUpdatedTime >= {wire.quote(cursor.isoformat())}"
                    for record in self.query_all(entity, where):
                        if keep is None or keep(entity, record):
                            changes.setdefault(entity, {})[(record["Id"], "")] = record
                break
            cursor = newest
        else:
            raise _not_understood(200, "GET cdc", f"more than {MAX_PAGES:,} saturated answers")
        return {entity: list(rows.values()) for entity, rows in changes.items()}

    # Writes -------------------------------------------------------------------------------
    def create(
        self, entity: str, body: Record, *, key: str, guard: NaturalKey | None = None
    ) -> Record:
        started = datetime.now().astimezone()

        def look_again() -> Record | None:
            found = self.find(entity, guard, started) if guard else None
            with self._lock:
                self.stats.guard_hits += int(found is not None)
            return {entity: found} if found else None

        result = self.call(
            "POST",
            entity.lower(),
            body=body,
            requestid=self.requestid(f"create:{entity}:{key}"),
            on_lost=look_again,
            expect=(entity, dict),
        )
        record: Record = result[entity]
        return record

    def update(
        self, entity: str, ident: str, changes: Record, *, sparse: bool = True, attempts: int = 3
    ) -> Record:
        """Applies `changes` to the current version; on 5010 re-reads and applies them again."""
        current = self.read(entity, ident)
        for attempt in range(attempts):
            body = {**changes, "Id": ident, "SyncToken": current["SyncToken"], "sparse": sparse}
            try:
                result = self.call(
                    "POST",
                    entity.lower(),
                    body=body,
                    requestid=self.requestid(
                        f"update:{entity}:{ident}:{current['SyncToken']}:{wire.dumps(changes)}"
                    ),
                    expect=(entity, dict),
                )
                record: Record = result[entity]
                return record
            except StaleObjectError:
                if attempt == attempts - 1:
                    raise
                current = self.read(entity, ident)
        raise AssertionError("unreachable")  # pragma: no cover

    def _lifecycle(self, entity: str, ident: str, params: dict[str, str], kind: str) -> Record:
        current = self.read(entity, ident)
        body: Record = {"Id": ident, "SyncToken": current["SyncToken"]}
        if kind == "void" and entity != "Invoice":
            body["sparse"] = True
        result: Record = self.call(
            "POST",
            entity.lower(),
            params=params,
            body=body,
            requestid=self.requestid(f"{kind}:{entity}:{ident}:{current['SyncToken']}"),
            expect=(entity, dict),
        )
        return result

    def delete(self, entity: str, ident: str) -> Record:
        return self._lifecycle(entity, ident, {"operation": "delete"}, "delete")

    def void(self, entity: str, ident: str) -> Record:
        params = (
            {"operation": "void"}
            if entity == "Invoice"
            else {"operation": "update", "include": "void"}
        )
        record: Record = self._lifecycle(entity, ident, params, "void")[entity]
        return record

    def deactivate(self, entity: str, ident: str) -> Record:
        """Name-list entities are never deleted in QBO, only made inactive."""
        return self.update(entity, ident, {"Active": False})

    # Batch --------------------------------------------------------------------------------
    def batch(self, ops: list[BatchOp]) -> list[BatchResult]:
        """Writes packed 30 to a call. Items are independent in QBO: an item cannot refer to
        what another item of the same call creates. A fatal error carries, in `partial`, the
        results of the writes made before it, so they are recorded all the same."""
        results: list[BatchResult] = []
        try:
            for start in range(0, len(ops), BATCH_SIZE):
                results.extend(self._batch_chunk(ops[start : start + BATCH_SIZE]))
        except FatalConnectorError as fatal:
            fatal.partial = (*results, *fatal.partial)
            raise
        return results

    def _batch_chunk(self, ops: list[BatchOp]) -> list[BatchResult]:
        """One batch call when the budget has room for it; else writes one by one until it
        has. A loop, bounded since each pass writes at least one op singly or the rest in
        one batch, however the budget's room flips between looks."""
        results: list[BatchResult] = []
        for _ in range(len(ops) + 1):
            rest = ops[len(results) :]
            if not rest:
                break
            if not self._batch_room():
                try:
                    results += self._singly(rest)
                except FatalConnectorError as fatal:
                    fatal.partial = (*results, *fatal.partial)
                    raise
                continue
            try:
                results += self._batched(rest)
            except FatalConnectorError as fatal:
                fatal.partial = (*results, *fatal.partial)
                raise
            except ConnectorError as error:
                if not results:
                    raise
                # The writes made singly stand: only the ones of this call are in doubt.
                results += [BatchResult(op, error=error) for op in rest]
            break
        return results

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
            items = [
                {"bId": f"b{i}", "operation": ops[i].operation, ops[i].entity: ops[i].body}
                for i in pending
            ]
            key = ",".join(ops[i].key for i in pending)
            body = self.call(
                "POST",
                "batch",
                body={"BatchItemRequest": items},
                batch=True,
                requestid=self.requestid(f"batch:{key}"),
                on_lost=look_again,
                expect=("BatchItemResponse", list),
            )
            for item in body["BatchItemResponse"]:
                index = _batch_index(item, pending)
                result = None if index is None else self._batch_result(ops[index], item)
                if index is not None and result is not None:
                    done[index] = result
            pending = [i for i in pending if i not in done]
        for index in pending:
            done[index] = BatchResult(ops[index], error=_left_out(ops[index]))
        return [done[i] for i in range(len(ops))]

    def _singly(self, ops: list[BatchOp]) -> list[BatchResult]:
        """A realm may make 40 batch calls among its 500 requests a minute: while the batch
        calls are spent, the rest of the budget carries these writes one by one, until a
        batch call fits again (about 1,660 writes a minute instead of 1,200). They go several
        at a time, since one at a time a request's round trip, not the realm's 10 a second,
        would set the pace; the budget counts those in flight, so at most 10 are. The writes
        of one batch are independent (a batch item cannot refer to another), so their order
        does not matter."""
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


def _select(entity: str, where: str, start: int, size: int) -> str:
    clause = f" WHERE {where}" if where else ""
    return (
        f"SELECT {_fields(entity)} FROM {entity}{clause} ORDERBY Id "
        f"STARTPOSITION {start} MAXRESULTS {size}"
    )


def _query_pages(answer: list[Any], asked: list[str]) -> dict[int, list[Record]]:
    """Query item index -> its rows, for the items the answer holds; a fault raised. A
    QueryResponse without rows of the entity asked for has none (QBO leaves the key out);
    rows of another entity are not an answer to the question."""
    pages: dict[int, list[Record]] = {}
    for item in answer:
        ident = str(item.get("bId", "")) if isinstance(item, dict) else ""
        index = int(ident[1:]) if ident[:1] == "q" and ident[1:].isdigit() else -1
        if not 0 <= index < len(asked) or not isinstance(item, dict):
            continue
        if "Fault" in item:
            fault = fault_from(200, item, "", "")
            assert fault is not None
            raise error_for(fault)
        response = item.get("QueryResponse")
        lists = (
            {k for k, v in response.items() if isinstance(v, list)}
            if isinstance(response, dict)
            else None
        )
        rows = response.get(asked[index], []) if isinstance(response, dict) else None
        if (
            lists is None
            or lists - {asked[index]}
            or not isinstance(rows, list)
            or not all(isinstance(row, dict) for row in rows)
        ):
            found = f"a query item for {asked[index]} that is not its QueryResponse"
            raise _not_understood(200, "POST batch", found)
        pages[index] = rows
    return pages


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


def _lost(method: str, path: str) -> QboRetriableError:
    where = path.split("/")[0]
    return QboRetriableError(QboFault(0, "lost", "no response", f"{method} {where} got no answer"))


def _not_understood(status: int, what: str, found: str, tid: str = "") -> QboRetriableError:
    return QboRetriableError(
        QboFault(
            status, "answer", "answer not understood", f"{what} answered with {found}", "", tid
        ),
        hint="QBO or something between it and this machine answered garbage; "
        "try again later, and if it lasts check proxies and the api_base in the token file",
    )


def _understood(response: requests.Response, what: str, expect: tuple[str, type] | None) -> Record:
    """The answer as a record, once it is one: QBO's faults raised (retriable ones as
    `Again`), anything that is not the JSON object asked for is a retriable error."""
    tid = response.headers.get("intuit_tid", "")
    parsed = _parse(response)
    fault = fault_from(response.status_code, parsed, response.text, tid)
    if fault is not None or not response.ok:
        fault = fault or QboFault(response.status_code, str(response.status_code), "HTTP", "")
        error = error_for(fault)
        if isinstance(error, QboRetriableError):
            raise Again(error, retry_after(response.headers))
        raise error
    kind = response.headers.get("Content-Type", "") or "no content type"
    if not isinstance(parsed, dict):
        found = f"a JSON {type(parsed).__name__}" if parsed is not None else f"{kind} (not JSON)"
        raise Again(_not_understood(response.status_code, what, found, tid))
    if expect is not None:
        key, kind_of = expect
        if not isinstance(parsed.get(key), kind_of):
            found = f"no {key} {'object' if kind_of is dict else 'list'}"
            raise Again(_not_understood(response.status_code, what, found, tid))
    return parsed


def _fields(entity: str) -> str:
    return ", ".join(("*", *EXTRA_FIELDS.get(entity, ())))


def _parse(response: requests.Response) -> Any:
    kind = response.headers.get("Content-Type", "")
    if "json" not in kind:
        return None
    try:
        return wire.loads(response.text)
    except ValueError:
        return None


def _cdc_objects(body: Record) -> Iterator[tuple[str, Record]]:
    """Every changed record of a CDC answer, each an object with an Id and a readable stamp;
    anything else in the answer is not understood rather than skipped."""
    for block in body["CDCResponse"]:
        responses = block.get("QueryResponse", []) if isinstance(block, dict) else None
        if not isinstance(responses, list):
            raise _not_understood(200, "GET cdc", "a block without its QueryResponse list")
        for response in responses:
            rows_by_entity = response.items() if isinstance(response, dict) else [("", None)]
            for entity, rows in rows_by_entity:
                if isinstance(rows, list):
                    for record in rows:
                        yield entity, _changed(record)
                elif not entity:
                    raise _not_understood(200, "GET cdc", "a QueryResponse that is no object")


def _changed(record: Any) -> Record:
    stamp = (
        (record.get("MetaData") or {}).get("LastUpdatedTime") if isinstance(record, dict) else None
    )
    try:
        datetime.fromisoformat(str(stamp))
    except ValueError:
        raise _not_understood(200, "GET cdc", "a change without an Id and a time") from None
    if not isinstance(record, dict) or not record.get("Id"):
        raise _not_understood(200, "GET cdc", "a change without an Id and a time")
    return record


__all__ = ["BatchOp", "BatchResult", "NaturalKey", "QboClient", "QboFatalError", "RetryPolicy"]
