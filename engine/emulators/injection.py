"""Faults on demand for the emulators, so clients can be tested against what the real
services do on a bad day.

A spec is a comma-separated list of `kind[=arg][@N|%P|#K]`:

- `@N` every Nth API request, `%P` P percent of them (seeded, repeatable), `#K` the next K;
  no suffix: every request.
- kinds: `throttle` (429, JSON), `throttle-xml` (429, XML), `5xx` (503), `slow=SECONDS`,
  `commit-timeout` (the write happens, then the connection drops before the response),
  `ignore-requestid` (a repeated requestid runs again), `expire-token` (the access token
  expires now).

`throttle@5,commit-timeout#1` throttles every 5th request and loses one write's response.
"""

from __future__ import annotations

import contextlib
import random
import re
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

KINDS = (
    "throttle",
    "throttle-xml",
    "5xx",
    "slow",
    "commit-timeout",
    "ignore-requestid",
    "expire-token",
)
WRITE_ONLY = frozenset({"commit-timeout", "ignore-requestid"})
_RULE = re.compile(
    r"^(?P<kind>[a-z0-9-]+)(=(?P<arg>[0-9.]+))?"
    r"((?P<every>@\d+)|(?P<percent>%\d+(\.\d+)?)|(?P<times>#\d+))?$"
)


@dataclass
class FaultRule:
    kind: str
    arg: float = 0.0
    every: int = 0
    percent: float = 0.0
    times: int = -1  # -1: unlimited

    def fires(self, count: int, rng: random.Random) -> bool:
        if self.times == 0:
            return False
        if self.every and count % self.every != 0:
            return False
        if self.percent and rng.random() * 100 >= self.percent:
            return False
        if self.times > 0:
            self.times -= 1
        return True


def parse_spec(spec: str) -> list[FaultRule]:
    rules = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        match = _RULE.match(part)
        if not match or match.group("kind") not in KINDS:
            raise ValueError(f"unknown fault {part!r}; kinds: {', '.join(KINDS)}")
        rules.append(
            FaultRule(
                kind=match.group("kind"),
                arg=float(match.group("arg") or 0),
                every=int((match.group("every") or "@0")[1:]),
                percent=float((match.group("percent") or "%0")[1:]),
                times=int((match.group("times") or "#-1")[1:]),
            )
        )
    return rules


@dataclass
class FaultPlan:
    rules: list[FaultRule] = field(default_factory=list)
    seed: int = 1
    _count: int = 0
    _rng: random.Random = field(default_factory=random.Random)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    def add(self, spec: str) -> None:
        with self._lock:
            self.rules.extend(parse_spec(spec))

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def draw(self, *, write: bool) -> dict[str, float]:
        """The faults this request gets: kind -> argument. Faults that only make sense for
        writes (a lost write, a replay run twice) are kept for the next write."""
        with self._lock:
            self._count += 1
            fired = {
                r.kind: r.arg
                for r in self.rules
                if (write or r.kind not in WRITE_ONLY) and r.fires(self._count, self._rng)
            }
            self.rules = [r for r in self.rules if r.times != 0]
            return fired


def drop_connection(environ: dict[str, Any]) -> None:
    """`commit-timeout`: the write is committed, then the connection closes unanswered."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
