"""Judging a rate limiter by when it admitted calls.

A call's admission happened somewhere between entering `acquire` and returning from it: the
span. A service window of `length` seconds surely saw `count` calls when `count` spans fit
inside one stretch shorter than `length`. Delays on a busy machine only widen the spans, so
they never make a good limiter look bad; a limiter that lets calls through too fast leaves
tight spans and is caught.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Span = tuple[float, float]


def crowded(spans: list[Span], count: int, length: float) -> bool:
    """Whether some `count` of the calls were surely admitted within `length` seconds."""
    for start, _ in spans:
        ends = sorted(end for begin, end in spans if begin >= start)
        if len(ends) >= count and ends[count - 1] - start < length:
            return True
    return False


@dataclass
class Spans:
    """Records the span of every `acquire` made through `timed`, from any thread."""

    calls: list[Span] = field(default_factory=list)
    batches: list[Span] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(self, acquire: Callable[..., str], *, batch: bool) -> str:
        """The ticket `acquire` gave."""
        begin = time.monotonic()
        ticket = acquire(batch=batch)
        end = time.monotonic()
        with self._lock:
            self.calls.append((begin, end))
            if batch:
                self.batches.append((begin, end))
        return ticket
