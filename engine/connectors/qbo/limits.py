"""Intuit's per-realm throttles: 500 requests a minute, 10 a second, 40 batch calls a minute.

One definition serves both sides: the client paces itself with a `Budget`, the emulator
enforces the same numbers with `Throttle`. `scale=N` keeps the counts and shortens the
windows N times, so a benchmark can run the same shape of traffic N times faster.

`Budget` is all the client needs: `Limiter` keeps the windows in this process; the fleet
(`tpsqbo_engine.fleet`) keeps them in Redis or SQLite so every worker on a realm draws from
one budget, since QBO counts per realm and app, not per process.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Protocol


class Budget(Protocol):
    """`acquire` blocks until one more call (a batch call when `batch`) fits the realm's
    windows; `batch_room` says whether the batch window has room for one more batch call
    now, so a client can spend the rest of the budget on single writes meanwhile."""

    def acquire(self, *, batch: bool) -> None: ...
    def batch_room(self) -> bool: ...


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
        return cls(
            int(values.get("minute", 500)),
            int(values.get("second", 10)),
            int(values.get("batch", 40)),
            float(values.get("scale", 1)),
        )

    @property
    def minute(self) -> float:
        return 60.0 / self.scale + self.margin

    @property
    def second(self) -> float:
        return 1.0 / self.scale + self.margin


@dataclass
class Throttle:
    """Sliding windows of recent calls; `admit` says whether one more call is allowed."""

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
            if len(self._calls) >= self.limits.per_minute or last_second >= self.limits.per_second:
                return False
            if batch and len(self._batches) >= self.limits.batch_per_minute:
                return False
            self._calls.append(now)
            if batch:
                self._batches.append(now)
            return True

    def batch_room(self) -> bool:
        now = time.monotonic()
        with self._lock:
            _trim(self._batches, now - self.limits.minute)
            return len(self._batches) < self.limits.batch_per_minute


# The client counts a call when it sends it, the service when it arrives: windows a little
# longer than the service's keep the two counts from disagreeing at the edges. The margin is
# a share of the window and at least CLIENT_SLACK seconds, since the delay between the two
# counts (a busy machine, a slow connection) does not shrink when the windows are scaled.
CLIENT_MARGIN = 1.1
CLIENT_SLACK = 0.05


def client_windows(limits: Limits) -> Limits:
    """The windows a client paces itself by: the service's, stretched by CLIENT_MARGIN and
    at least CLIENT_SLACK."""
    return replace(limits, scale=limits.scale / CLIENT_MARGIN, margin=CLIENT_SLACK)


@dataclass
class Limiter:
    """Client side: waits until one more call fits within every window."""

    limits: Limits
    _throttle: Throttle | None = None
    waited: float = 0.0

    def __post_init__(self) -> None:
        self._throttle = Throttle(client_windows(self.limits))

    def acquire(self, *, batch: bool) -> None:
        assert self._throttle is not None
        pause = self.limits.second / max(self.limits.per_second, 1) / 4
        while not self._throttle.admit(batch=batch):
            time.sleep(pause)
            self.waited += pause

    def batch_room(self) -> bool:
        assert self._throttle is not None
        return self._throttle.batch_room()


def _trim(window: deque[float], before: float) -> None:
    while window and window[0] <= before:
        window.popleft()
