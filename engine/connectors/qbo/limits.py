"""Intuit's per-realm throttles: 500 requests a minute, 10 a second, 40 batch calls a minute.

One definition serves both sides: the client paces itself with a `Budget`, the emulator
enforces the same numbers with `Throttle`. `scale=N` keeps the counts and shortens the
windows N times, so a benchmark can run the same shape of traffic N times faster.

`Budget` is all the client needs: `Limiter` keeps the windows in this process; the fleet
(`tpsqbo_engine.fleet`) keeps them in Redis or SQLite so every worker on a realm draws from
one budget, since QBO counts per realm and app, not per process.

A client cannot see when QBO counted a call, only that it happened between sending it and
its answer arriving. So a budget counts a call in every window from the moment it admits it
until its answer arrives (`finished`), and from then on as if QBO had counted it at that
last possible moment. Counted so, the client's windows never hold fewer calls than QBO's
do, however late a request arrives on a busy machine, and they need no margin of their own:
the time a call spends in flight is the only slack. Calls in flight also count against the
second's 10, which keeps at most 10 requests in flight, QBO's older concurrency limit.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Protocol


class Budget(Protocol):
    """`acquire` blocks until one more call (a batch call when `batch`) fits the realm's
    windows and returns its ticket; `finished(ticket)` says its answer arrived (or it was
    given up on), from when it counts as QBO counted it; `batch_room` says whether the batch
    window has room for one more batch call now, so a client can spend the rest of the
    budget on single writes meanwhile."""

    def acquire(self, *, batch: bool) -> str: ...
    def finished(self, ticket: str) -> None: ...
    def batch_room(self) -> bool: ...


# The longest a call can be in flight: QBO ends requests running past 120 s, and the client
# gives up sooner. A ticket never finished (its thread died) stops counting as in flight then.
MAX_FLIGHT = 180.0


@dataclass(frozen=True)
class Limits:
    per_minute: int = 500
    per_second: int = 10
    batch_per_minute: int = 40
    scale: float = 1.0
    margin: float = 0.0  # seconds added to each window (see client_windows)

    @classmethod
    def parse(cls, spec: str) -> Limits | None:
        """`real`, `off`, or `scale=N` with optional `minute=`, `second=`, `batch=` counts."""
        if spec == "off":
            return None
        if spec == "real":
            return cls()
        values = dict(part.split("=", 1) for part in spec.split(",") if "=" in part)
        unknown = set(values) - {"scale", "minute", "second", "batch"}
        if unknown or not values:
            raise ValueError(
                f"unknown limits spec {spec!r}: use real, off, or "
                "scale=N[,minute=N,second=N,batch=N]"
            )
        try:
            limits = cls(
                int(values.get("minute", 500)),
                int(values.get("second", 10)),
                int(values.get("batch", 40)),
                float(values.get("scale", 1)),
            )
        except ValueError:
            raise ValueError(f"{spec!r} holds a value that is not a number") from None
        # No call at all in a minute or a second would wait for ever; no batch (batch=0)
        # only sends every write singly.
        if not (math.isfinite(limits.scale) and limits.scale > 0):
            raise ValueError(f"{spec!r}: scale must be a number above 0")
        if min(limits.per_minute, limits.per_second) <= 0 or limits.batch_per_minute < 0:
            raise ValueError(f"{spec!r}: minute and second must be above 0, batch 0 or more")
        return limits

    @property
    def minute(self) -> float:
        return 60.0 / self.scale + self.margin

    @property
    def second(self) -> float:
        return 1.0 / self.scale + self.margin


@dataclass
class Throttle:
    """The service's side: sliding windows of the calls that arrived; `admit` says whether
    one more is allowed now."""

    limits: Limits
    _calls: deque[float] = field(default_factory=deque)
    _batches: deque[float] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, *, batch: bool) -> bool:
        now = time.monotonic()
        with self._lock:
            _trim(self._calls, now - self.limits.minute)
            _trim(self._batches, now - self.limits.minute)
            last_second = sum(1 for t in self._calls if t > now - self.limits.second)
            full = len(self._calls) >= self.limits.per_minute
            full = full or last_second >= self.limits.per_second
            if full or (batch and len(self._batches) >= self.limits.batch_per_minute):
                return False
            self._calls.append(now)
            if batch:
                self._batches.append(now)
            return True


@dataclass
class Flights:
    """The client's side of the windows: each call counted from its admission, in flight
    until `finish`, then at its finish time (see the module's docstring)."""

    limits: Limits
    _calls: deque[float] = field(default_factory=deque)  # finish times, oldest first
    _batches: deque[float] = field(default_factory=deque)
    _flying: dict[str, tuple[float, bool]] = field(default_factory=dict)  # sent, batch
    _tickets: itertools.count[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, *, batch: bool) -> str | None:
        """A ticket when one more call fits every window now, else None."""
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            flying = len(self._flying)
            last_second = flying + sum(1 for t in self._calls if t > now - self.limits.second)
            if len(self._calls) + flying >= self.limits.per_minute:
                return None
            if last_second >= self.limits.per_second:
                return None
            if batch and not self._batch_room():
                return None
            ticket = str(next(self._tickets))
            self._flying[ticket] = (now, batch)
            return ticket

    def finish(self, ticket: str) -> None:
        now = time.monotonic()
        with self._lock:
            flight = self._flying.pop(ticket, None)
            if flight is not None:
                self._calls.append(now)
                if flight[1]:
                    self._batches.append(now)

    def batch_room(self) -> bool:
        with self._lock:
            self._expire(time.monotonic())
            return self._batch_room()

    def _batch_room(self) -> bool:
        flying = sum(1 for _, batch in self._flying.values() if batch)
        return len(self._batches) + flying < self.limits.batch_per_minute

    def _expire(self, now: float) -> None:
        _trim(self._calls, now - self.limits.minute)
        _trim(self._batches, now - self.limits.minute)
        lost = [t for t, (sent, _) in self._flying.items() if sent < now - MAX_FLIGHT]
        for ticket in lost:
            self._flying.pop(ticket)
            self._calls.append(now)


# Counted from admission until the answer, a call is never out of the client's windows while
# it is in QBO's (see the module's docstring): the margin only covers the two clocks'
# rounding at the windows' edges.
CLIENT_SLACK = 0.002


def client_windows(limits: Limits) -> Limits:
    """The windows a client paces itself by: the service's, and CLIENT_SLACK."""
    return replace(limits, margin=CLIENT_SLACK)


@dataclass
class Limiter:
    """Client side: waits until one more call fits within every window."""

    limits: Limits
    _flights: Flights | None = None
    waited: float = 0.0

    def __post_init__(self) -> None:
        self._flights = Flights(client_windows(self.limits))

    def acquire(self, *, batch: bool) -> str:
        assert self._flights is not None
        pause = self.limits.second / max(self.limits.per_second, 1) / 4
        while (ticket := self._flights.take(batch=batch)) is None:
            time.sleep(pause)
            self.waited += pause
        return ticket

    def finished(self, ticket: str) -> None:
        assert self._flights is not None
        self._flights.finish(ticket)

    def batch_room(self) -> bool:
        assert self._flights is not None
        return self._flights.batch_room()


def _trim(window: deque[float], before: float) -> None:
    while window and window[0] <= before:
        window.popleft()
