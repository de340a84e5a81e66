"""One retry policy for every call to TPS or QBO, built on tenacity.

A client wraps one attempt (send, read, understand the answer) in `RetryPolicy.run`. The
attempt raises `Again(error, retry_after)` when another try is worth it: a 429 or 5xx, a lost
connection, an answer that does not parse into what was asked for. The policy waits what the
server asked (`Retry-After`) or backs off exponentially with full jitter, never longer than
its ceiling, and after `attempts` tries (or once the waits would pass `max_waited` in all)
raises the last `error` itself, so a bad day is a clear error and never an endless loop or
a silent empty answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type
from tenacity.wait import wait_random_exponential

T = TypeVar("T")


class Again(Exception):
    """This attempt failed in a way worth another try; `error` is raised if none is left."""

    def __init__(self, error: Exception, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error, self.retry_after = error, retry_after


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    backoff: float = 0.5  # the first wait's upper bound; doubles each attempt
    max_backoff: float = 30.0  # ceiling of any wait, a server's Retry-After included
    timeout: tuple[float, float] = (5.0, 60.0)  # connect, read
    max_waited: float = 600.0  # ceiling of all of one call's waits together

    def stop(self, state: RetryCallState) -> bool:
        """No attempt left, or the next wait would take the call's waits past `max_waited`."""
        if state.attempt_number >= max(1, self.attempts):
            return True
        return state.idle_for + state.upcoming_sleep > self.max_waited

    def wait(self, state: RetryCallState) -> float:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        asked = error.retry_after if isinstance(error, Again) else None
        if asked is not None:
            return max(0.0, min(asked, self.max_backoff))
        jitter = wait_random_exponential(multiplier=self.backoff, max=self.max_backoff)
        return float(jitter(state))

    def run(
        self,
        attempt: Callable[[], T],
        *,
        sleep: Callable[[float], None],
        on_retry: Callable[[], None] = lambda: None,
    ) -> T:
        retrying = Retrying(
            stop=self.stop,
            wait=self.wait,
            retry=retry_if_exception_type(Again),
            sleep=sleep,
            before_sleep=lambda _state: on_retry(),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except Again as last:
            raise last.error from None


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds a `Retry-After` header asks for (a number or an HTTP date), if it is readable."""
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


__all__ = ["Again", "RetryPolicy", "retry_after"]
