"""`fleet run` without a broker: the same runs, in a pool of threads in this process, with
the realm leases, budgets and run records in one SQLite file (`LocalCoordinator`).

A firm whose realm is busy waits its turn; a firm whose run fails is tried again after a
backoff that doubles, up to `attempts`, and is then reported failed, while the others go on.
A failure waiting cannot mend (a broken config, rules that fail to validate, a missing
secret: `runner.permanent`) is reported failed at once.
"""

from __future__ import annotations

import contextvars
import heapq
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace

from tpsqbo_engine.fleet.coord import LEASE_TTL, Coordinator, FirmRun, Lease, now_iso
from tpsqbo_engine.fleet.firms import Firm
from tpsqbo_engine.fleet.runner import LeaseKeeper, RealmBusy, run_firm, unexpected, worker_name

# The lease an embedded `fleet run` holds while it runs (no realm is named so).
KEEPER = "fleet-run:"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    backoff: float = 30.0  # before the second attempt; doubles after each
    busy_wait: float = 1.0  # before asking again for a busy realm
    busy_waits: int = 3600  # an hour of waits, then the firm is reported failed

    def delay(self, attempt: int) -> float:
        return float(self.backoff * 2 ** (attempt - 1))


@dataclass(frozen=True)
class _Turn:
    ready: float
    firm: Firm
    attempt: int = 1
    waits: int = 0

    def __lt__(self, other: _Turn) -> bool:
        return (self.ready, self.firm.name) < (other.ready, other.firm.name)


Report = Callable[[FirmRun], None]


class EmbeddedFleet:
    def __init__(
        self,
        coordinator: Coordinator,
        *,
        threads: int = 4,
        policy: RetryPolicy = RetryPolicy(),
        ttl: float = LEASE_TTL,
        backup_first: bool = False,
        report: Report = lambda run: None,
    ) -> None:
        self.coordinator, self.threads, self.policy, self.ttl = coordinator, threads, policy, ttl
        self.backup_first, self.report = backup_first, report
        self.keeper: Lease | None = None

    def run(self, firms: list[Firm]) -> list[FirmRun]:
        """Runs every firm to a final outcome; returns them in the order they were given.
        For as long, this `fleet run` holds a lease of its own, named by the firms it will
        try again (`FirmRun.keeper`): killed, it leaves no `retrying` firm that nothing will
        retry but one `fleet status` shows lost once the lease expired."""
        # Named by host and process id, not thread: the names a coord file ever holds (and
        # the fencing counters they leave behind) stay bounded by the process ids.
        owner = worker_name().rpartition(":")[0]
        self.keeper = self.coordinator.try_lease(f"{KEEPER}{owner}", owner, self.ttl)
        renewing = LeaseKeeper(self.coordinator, self.keeper, self.ttl) if self.keeper else None
        try:
            return self._run(firms)
        finally:
            if renewing is not None and self.keeper is not None:
                renewing.stop()
                self.coordinator.release(self.keeper)

    def _run(self, firms: list[Firm]) -> list[FirmRun]:
        queue = [_Turn(0.0, firm) for firm in firms]
        heapq.heapify(queue)
        final: dict[str, FirmRun] = {}
        pending: dict[Future[FirmRun], _Turn] = {}
        with ThreadPoolExecutor(self.threads, thread_name_prefix="fleet") as pool:
            while queue or pending:
                while queue and queue[0].ready <= time.monotonic() and len(pending) < self.threads:
                    turn = heapq.heappop(queue)
                    # Pool threads do not inherit context variables (the root `--encoding`
                    # among them): each attempt runs in a copy of the caller's context.
                    run = contextvars.copy_context().run
                    pending[pool.submit(run, self._attempt, turn)] = turn
                timeout = max(queue[0].ready - time.monotonic(), 0.01) if queue else None
                done, _ = wait(list(pending), timeout=timeout, return_when=FIRST_COMPLETED)
                for future in done:
                    turn = pending.pop(future)
                    self._settle(turn, future, queue, final)
        return [final[firm.name] for firm in firms]

    def _attempt(self, turn: _Turn) -> FirmRun:
        return run_firm(
            turn.firm,
            self.coordinator,
            attempt=turn.attempt,
            ttl=self.ttl,
            backup_first=self.backup_first,
        )

    def _settle(
        self, turn: _Turn, future: Future[FirmRun], queue: list[_Turn], final: dict[str, FirmRun]
    ) -> None:
        error = future.exception()
        if isinstance(error, RealmBusy):
            self._wait_for_realm(turn, error.realm, queue, final)
            return
        run = future.result() if error is None else unexpected(turn.firm, turn.attempt, error)
        if run.status == "failed" and not run.permanent and turn.attempt < self.policy.attempts:
            delay = self.policy.delay(turn.attempt)
            self._record(replace(run, status="retrying"))
            heapq.heappush(
                queue, replace(turn, ready=time.monotonic() + delay, attempt=turn.attempt + 1)
            )
            return
        self._record(run)
        final[turn.firm.name] = run

    def _wait_for_realm(
        self, turn: _Turn, realm: str, queue: list[_Turn], final: dict[str, FirmRun]
    ) -> None:
        waiting = FirmRun(
            turn.firm.name, str(turn.firm.config), "waiting", realm, attempt=turn.attempt
        )
        if turn.waits >= self.policy.busy_waits:
            failed = replace(
                waiting,
                status="failed",
                finished=now_iso(),
                error=f"realm {realm} stayed busy through {turn.waits} waits",
            )
            self._record(failed)
            final[turn.firm.name] = failed
            return
        self._record(waiting)
        ready = time.monotonic() + self.policy.busy_wait
        heapq.heappush(queue, replace(turn, ready=ready, waits=turn.waits + 1))

    def _record(self, run: FirmRun) -> None:
        if run.status in ("retrying", "waiting") and self.keeper is not None:
            run = replace(run, keeper=self.keeper.realm, keeper_token=self.keeper.token)
        self.coordinator.record(run)
        self.report(run)
