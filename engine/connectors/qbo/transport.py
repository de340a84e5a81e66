"""One request to QBO as every call needs it: the per-realm limiter, a fresh access token
(refreshed once on a 401), minorversion 75, timeouts, QBO's faults mapped to fatal /
retriable / skippable, and the shared retry policy (connectors/retry.py) for 429 (which
waits out QBO's one-minute window unless a Retry-After says otherwise), 5xx, lost
connections and answers that are not what was asked for: a 200 is data only once it is a
JSON object with the expected envelope and what the caller's `check` finds inside it is
what was asked for, never an empty answer made up from garbage.

Writes carry a deterministic `requestid`, so a retry is replayed by QBO rather than run twice.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from tpsqbo_engine import __version__
from tpsqbo_engine.connectors.qbo import wire
from tpsqbo_engine.connectors.qbo.auth import QboAuth
from tpsqbo_engine.connectors.qbo.errors import QboFault, QboRetriableError, error_for, fault_from
from tpsqbo_engine.connectors.qbo.limits import Budget, Limiter
from tpsqbo_engine.connectors.retry import Again, RetryPolicy, retry_after

MINOR_VERSION = "75"
BATCH_SIZE = 30  # items in one batch call, queries or writes
THROTTLED = "3001"
REQUEST_NAMESPACE = uuid.UUID("6f1d7c1e-8a53-4c1b-9d0e-2f3b7a9c4e21")
Record = dict[str, Any]
# QBO counts a realm's calls in a one-minute window shared by every app on the company, and
# Intuit says to wait 60 s after a 429: a throttled call waits the window out (or what a
# Retry-After asks, up to two windows), three windows at most in all before it fails.
THROTTLE_WINDOW = 60.0
QBO_RETRY = RetryPolicy(max_backoff=2 * THROTTLE_WINDOW, max_waited=3 * THROTTLE_WINDOW)


@dataclass
class CallStats:
    calls: int = 0
    batch_calls: int = 0
    retries: int = 0
    guard_hits: int = 0
    # What the answers left the reader to say: a run's output carries them (sync/snapshot.py).
    notes: list[str] = field(default_factory=list)


class _LostResponse(Exception):
    """A write was sent and no answer came back: it may or may not have happened."""


@dataclass
class QboTransport:
    auth: QboAuth
    limiter: Budget | None = None
    retry: RetryPolicy = QBO_RETRY
    session: requests.Session = field(default_factory=requests.Session)
    sleep: Callable[[float], None] = time.sleep
    stats: CallStats = field(default_factory=CallStats)
    throttle_window: float = THROTTLE_WINDOW  # what a 429 without Retry-After waits
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _auth_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if isinstance(self.limiter, Limiter):  # `scale=N` shortens QBO's minute N times
            self.throttle_window = THROTTLE_WINDOW / self.limiter.limits.scale
        tokens = self.auth.tokens
        self.realm_id, self.api_base = tokens.realm_id, tokens.api_base.rstrip("/")
        self.session.headers.update(
            {"Accept": "application/json", "User-Agent": f"tpsqbo-engine/{__version__}"}
        )

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
        check: Callable[[Record], None] | None = None,
    ) -> Record:
        """One request under the retry policy. `expect` names the envelope the answer must
        have (`("QueryResponse", dict)`): a 200 without it is not an empty answer but a
        retriable error, and after the last attempt the call fails. `check` looks inside
        the envelope: a `QboRetriableError` it raises (an answer that is not what was
        asked for) is tried again like a missing envelope; any other error ends the call."""
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
                what = f"{method} {path.split('/')[0]}"
                return _understood(response, what, expect, check, self.throttle_window)

        return self.retry.run(attempt, sleep=self.sleep, on_retry=self._count_retry)

    def call_batch(
        self,
        items: list[Record],
        *,
        requestid: str | None = None,
        on_lost: Callable[[], Record | None] | None = None,
    ) -> list[Any]:
        """One batch call of up to 30 items: the answer's BatchItemResponse list."""
        body = self.call(
            "POST",
            "batch",
            body={"BatchItemRequest": items},
            batch=True,
            requestid=requestid,
            on_lost=on_lost,
            expect=("BatchItemResponse", list),
        )
        answer: list[Any] = body["BatchItemResponse"]
        return answer

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
        headers, data = _content(body, text)
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


def _content(body: Any, text: str | None) -> tuple[dict[str, str], bytes | None]:
    """The request's headers and body: a query statement as text, anything else as JSON."""
    if text is not None:
        return {"Content-Type": "application/text"}, text.encode()
    if body is not None:
        return {"Content-Type": "application/json"}, wire.dumps(body).encode()
    return {}, None


def _lost(method: str, path: str) -> QboRetriableError:
    where = path.split("/")[0]
    return QboRetriableError(QboFault(0, "lost", "no response", f"{method} {where} got no answer"))


def not_understood(status: int, what: str, found: str, tid: str = "") -> QboRetriableError:
    return QboRetriableError(
        QboFault(
            status, "answer", "answer not understood", f"{what} answered with {found}", "", tid
        ),
        hint="QBO or something between it and this machine answered garbage; "
        "try again later, and if it lasts check proxies and the api_base in the token file",
    )


def _understood(
    response: requests.Response,
    what: str,
    expect: tuple[str, type] | None,
    check: Callable[[Record], None] | None = None,
    window: float = THROTTLE_WINDOW,
) -> Record:
    """The answer as a record, once it is one: QBO's faults raised (retriable ones as
    `Again`), anything that is not the JSON object asked for is a retriable error."""
    tid = response.headers.get("intuit_tid", "")
    parsed = _parse(response)
    fault = fault_from(response.status_code, parsed, response.text, tid)
    if fault is not None or not response.ok:
        fault = fault or QboFault(response.status_code, str(response.status_code), "HTTP", "")
        error = error_for(fault)
        if isinstance(error, QboRetriableError):
            raise Again(error, _wait_asked(response, fault, window))
        raise error
    kind = response.headers.get("Content-Type", "") or "no content type"
    if not isinstance(parsed, dict):
        found = f"a JSON {type(parsed).__name__}" if parsed is not None else f"{kind} (not JSON)"
        raise Again(not_understood(response.status_code, what, found, tid))
    if expect is not None:
        key, kind_of = expect
        if not isinstance(parsed.get(key), kind_of):
            found = f"no {key} {'object' if kind_of is dict else 'list'}"
            raise Again(not_understood(response.status_code, what, found, tid))
    if check is not None:
        try:
            check(parsed)
        except QboRetriableError as garbled:
            raise Again(garbled) from None
    return parsed


def _wait_asked(response: requests.Response, fault: QboFault, window: float) -> float | None:
    """What the answer asks to wait: its Retry-After, else the throttle's whole window for a
    429 (QBO sends none), else nothing (the policy backs off)."""
    asked = retry_after(response.headers)
    if asked is None and (response.status_code == 429 or fault.code == THROTTLED):
        return window
    return asked


def _parse(response: requests.Response) -> Any:
    kind = response.headers.get("Content-Type", "")
    if "json" not in kind:
        return None
    try:
        return wire.loads(response.text)
    except ValueError:
        return None
