"""What every fleet worker shares, whatever keeps it: realm leases, realm budgets, the last
run of every firm, and the schedule.

A lease is held by one run of one realm at a time and expires unless renewed, so a worker
that dies frees its realms. Each lease carries a fencing token that only grows for a realm:
before every write a run checks that its token is still the realm's current one
(`Coordinator.holds`), and the run records refuse a token older than the one they hold. A
worker that stalled past its lease (a long GC pause, a frozen VM) and wakes up after another
worker took the realm over is refused at its next write instead of writing beside it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from tpsqbo_engine.connectors.qbo.limits import Budget, Limits
from tpsqbo_engine.errors import FatalConnectorError, RetriableConnectorError

# A run renews its lease every LEASE_TTL / 3; a worker silent for LEASE_TTL loses it.
LEASE_TTL = 60.0
# A call waits at most this long for room in its realm's budget before its run gives up.
MAX_BUDGET_WAIT = 600.0


def wait_for_room(
    admit: Callable[[], tuple[float, str]], *, limit: float = MAX_BUDGET_WAIT
) -> tuple[float, str]:
    """Asks `admit` (which takes a slot and returns 0 and its ticket, or returns the seconds
    until one may be free) until it admits; returns the seconds slept and the ticket. Raises
    once the wait would pass `limit`, since other runs on the realm may keep the budget full
    for good."""
    deadline = time.monotonic() + limit
    waited = 0.0
    while (answer := admit())[0] > 0:
        wait = answer[0]
        if time.monotonic() + wait > deadline:
            raise RetriableConnectorError(
                f"the realm's budget had no room for {limit:.0f} s",
                hint="other runs on this realm are using it all; try again later",
            )
        time.sleep(wait)
        waited += wait
    return waited, answer[1]


class LeaseLost(FatalConnectorError):
    def __init__(self, realm: str, token: int) -> None:
        super().__init__(
            f"the lease on realm {realm} (token {token}) was lost: another worker holds it now",
            hint="nothing more was written by this run; the realm's current run carries on",
        )


@dataclass(frozen=True)
class Lease:
    realm: str
    owner: str
    token: int


def now_iso(after: float = 0.0) -> str:
    """Now (or `after` seconds from now) as the run records write it."""
    return (datetime.now(UTC) + timedelta(seconds=after)).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class FirmRun:
    """The latest word on one firm: starting (its task is opening the firm, before the
    realm's lease), running, retrying, waiting (its realm was busy), completed, partial (some
    records failed) or failed (the run itself failed)."""

    firm: str
    config: str
    status: str
    realm: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    started: str = ""
    finished: str = ""
    attempt: int = 1
    error: str = ""
    worker: str = ""
    token: int = 0
    run_id: int = 0
    calls: int = 0  # QBO requests sent
    throttled: int = 0  # of which QBO answered 429
    # Failed in a way waiting cannot mend (a config, usage or rule error, a blocking
    # checklist): not retried; `not_retried` says which.
    permanent: bool = False
    task: str = ""  # on a worker: the Celery task whose run this is
    not_retried: str = ""  # why a permanent failure was not retried
    # A `starting` record not followed by another by then: its task died opening the firm.
    expires: str = ""
    # Embedded: the lease of the `fleet run` that is to try a retrying or waiting firm again;
    # once it is gone (that process was killed) nothing will.
    keeper: str = ""
    keeper_token: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> FirmRun:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FirmRun:
        # A record from a newer engine (another worker) may carry fields this one lacks.
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Schedule:
    firm: str
    config: str
    every: float  # seconds
    last: float = 0.0  # epoch seconds of the last enqueue

    def due(self, at: float) -> bool:
        return at - self.last >= self.every


class Coordinator(Protocol):
    def try_lease(self, realm: str, owner: str, ttl: float) -> Lease | None: ...
    def renew(self, lease: Lease, ttl: float) -> bool: ...
    def holds(self, lease: Lease) -> bool: ...
    def release(self, lease: Lease) -> None: ...
    def lease_held(self, realm: str, token: int) -> bool: ...
    def budget(self, realm: str, limits: Limits) -> Budget: ...
    def record(self, run: FirmRun) -> bool: ...
    def runs(self) -> list[FirmRun]: ...
    def set_schedule(self, schedule: Schedule) -> None: ...
    def remove_schedule(self, firm: str) -> bool: ...
    def schedules(self) -> list[Schedule]: ...
    def mark_enqueued(self, firm: str, at: float) -> None: ...
