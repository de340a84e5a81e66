"""Notifications in, runs out: each change counted once, and the changes for one realm that
arrive within the debounce window make one run.

The window opens with the first new change and does not slide, so a steady stream of
webhooks cannot postpone a run forever: the latency stays at most the window plus one run.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

SEEN_LIMIT = 50_000  # keys remembered for deduplication; the oldest are forgotten first


@dataclass(frozen=True)
class Due:
    realm_id: str
    changes: int
    first_at: float  # monotonic time of the first change in the window


class Debouncer:
    def __init__(self, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._pending: dict[str, tuple[float, int]] = {}  # realm -> (first change, count)
        self._ready = threading.Condition()

    def add(self, realm_id: str, keys: Iterable[str]) -> int:
        """Queues the changes not seen before; answers how many were new."""
        with self._ready:
            new = 0
            for key in keys:
                if key in self._seen:
                    continue
                self._seen[key] = None
                new += 1
            while len(self._seen) > SEEN_LIMIT:
                self._seen.popitem(last=False)
            if new:
                first, count = self._pending.get(realm_id, (self.clock(), 0))
                self._pending[realm_id] = (first, count + new)
                self._ready.notify_all()
            return new

    def next_due(self) -> float | None:
        """When the earliest window closes (monotonic), or None with nothing pending."""
        with self._ready:
            return min((f + self.window for f, _ in self._pending.values()), default=None)

    def take_due(self) -> Due | None:
        """The realm whose window has closed, taken off the queue; None if none has."""
        with self._ready:
            now = self.clock()
            for realm, (first, count) in sorted(self._pending.items(), key=lambda p: p[1][0]):
                if first + self.window <= now:
                    del self._pending[realm]
                    return Due(realm, count, first)
            return None

    def requeue(self, due: Due, after: float) -> None:
        """A run that could not happen: its changes are due again in `after` seconds (or
        later, with a window already open), not at once, so a busy lock or a failing
        service is not hammered."""
        with self._ready:
            retry = self.clock() + after - self.window
            first, count = self._pending.get(due.realm_id, (retry, 0))
            self._pending[due.realm_id] = (max(first, retry), count + due.changes)

    def wait(self, timeout: float) -> None:
        """Sleeps until something is added or `timeout` passes."""
        with self._ready:
            self._ready.wait(timeout)

    def wake(self) -> None:
        with self._ready:
            self._ready.notify_all()
