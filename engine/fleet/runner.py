"""One firm's run inside a fleet: take the realm's lease, give the clients the realm's shared
budget and the lease's fence, sync, and record the outcome.

The sync itself is the one `tpsqbo-engine sync` runs (`Session.sync`), so a fleet run plans,
journals and writes exactly as a single run does; a rerun after a crash is safe for the same
reason a single rerun is.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace

import requests

from tpsqbo_engine.connectors.qbo.limits import Budget, Limits
from tpsqbo_engine.connectors.tps.client import Record, TpsClient, TpsSource
from tpsqbo_engine.errors import EngineError
from tpsqbo_engine.fleet.coord import LEASE_TTL, Coordinator, FirmRun, Lease, LeaseLost, now_iso
from tpsqbo_engine.fleet.firms import Firm
from tpsqbo_engine.sync.config import load_config
from tpsqbo_engine.sync.session import RunSummary, Session

FINAL = ("completed", "partial", "failed")


class RealmBusy(Exception):
    """Another run holds the realm's lease: this firm waits its turn."""

    def __init__(self, realm: str) -> None:
        super().__init__(f"realm {realm} is being synced by another run")
        self.realm = realm


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class FencedBudget:
    """Every QBO request goes through `acquire`: it waits for the realm's budget, then checks
    the lease is still this run's, right before the request is sent."""

    def __init__(self, inner: Budget | None, coordinator: Coordinator, lease: Lease) -> None:
        self.inner, self.coordinator, self.lease = inner, coordinator, lease

    def acquire(self, *, batch: bool) -> str:
        ticket = self.inner.acquire(batch=batch) if self.inner is not None else ""
        if not self.coordinator.holds(self.lease):
            self.finished(ticket)  # never sent
            raise LeaseLost(self.lease.realm, self.lease.token)
        return ticket

    def finished(self, ticket: str) -> None:
        if self.inner is not None:
            self.inner.finished(ticket)

    def batch_room(self) -> bool:
        return self.inner is None or self.inner.batch_room()


class FencedTps:
    """TPS writes checked against the lease as QBO's are; reads pass through."""

    def __init__(self, inner: TpsSource, coordinator: Coordinator, lease: Lease) -> None:
        self.inner, self.coordinator, self.lease = inner, coordinator, lease

    def _check(self) -> None:
        if not self.coordinator.holds(self.lease):
            raise LeaseLost(self.lease.realm, self.lease.token)

    def firm(self) -> Record:
        return self.inner.firm()

    def records(
        self, resource: str, updated_since: str = "", page_size: int = 0
    ) -> Iterator[Record]:
        if page_size:
            return self.inner.records(resource, updated_since, page_size)
        return self.inner.records(resource, updated_since)

    def get(self, resource: str, ident: str) -> Record:
        return self.inner.get(resource, ident)

    def create(self, resource: str, record: Record, *, key: str) -> Record:
        self._check()
        return self.inner.create(resource, record, key=key)

    def update(self, resource: str, ident: str, changes: Record, *, version: int) -> Record:
        self._check()
        return self.inner.update(resource, ident, changes, version=version)


class LeaseKeeper:
    """Renews the lease every third of its life while the run goes on."""

    def __init__(self, coordinator: Coordinator, lease: Lease, ttl: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._renew, args=(coordinator, lease, ttl), daemon=True
        )
        self._thread.start()

    def _renew(self, coordinator: Coordinator, lease: Lease, ttl: float) -> None:
        while not self._stop.wait(ttl / 3):
            if not coordinator.renew(lease, ttl):
                return  # lost: the fence stops the run at its next write

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class ThrottleCount:
    """Counts QBO's 429 answers, as a response hook on the client's HTTP session: with one
    budget per realm there should be none."""

    def __init__(self) -> None:
        self.seen = 0

    def __call__(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        self.seen += response.status_code == 429


def _close(session: Session, tps: TpsSource) -> None:
    """A worker runs firm after firm: each run's connections go with it."""
    session.state.db.conn.close()
    session.qbo.session.close()
    if isinstance(tps, TpsClient):
        tps.session.close()


def _describe(error: BaseException) -> str:
    if isinstance(error, EngineError):
        return error.told
    return f"{type(error).__name__}: {error}"


def run_firm(
    firm: Firm,
    coordinator: Coordinator,
    *,
    attempt: int = 1,
    owner: str = "",
    ttl: float = LEASE_TTL,
    backup_first: bool = False,
) -> FirmRun:
    """The firm's run as recorded: completed, partial or failed. Raises RealmBusy when its
    realm is leased to another run (nothing was done then). `backup_first`: a firm's initial
    sync takes its backup before the checklist, which asks for a recent one."""
    owner = owner or worker_name()
    base = FirmRun(firm.name, str(firm.config), "running", attempt=attempt, worker=owner)
    try:
        session = Session(load_config(firm.config))
    except Exception as error:
        return replace(base, status="failed", error=_describe(error), finished=now_iso())
    tps = session.tps
    realm = session.qbo.realm_id
    lease = coordinator.try_lease(realm, owner, ttl)
    if lease is None:
        _close(session, tps)
        raise RealmBusy(realm)
    running = replace(base, realm=realm, started=now_iso(), token=lease.token)
    coordinator.record(running)
    keeper = LeaseKeeper(coordinator, lease, ttl)
    throttled = ThrottleCount()
    session.qbo.session.hooks["response"].append(throttled)
    try:
        summary = _fenced_sync(session, coordinator, lease, backup_first=backup_first)
    except Exception as error:
        outcome = replace(running, status="failed", error=_describe(error))
    else:
        status = "partial" if summary.counts.get("Failed") else "completed"
        outcome = replace(running, status=status, counts=summary.counts, run_id=summary.run_id)
    finally:
        # The run ends while it still holds the realm: the next one starts after this.
        finished = now_iso()
        keeper.stop()
        coordinator.release(lease)
        _close(session, tps)
    return replace(
        outcome, finished=finished, calls=session.qbo.stats.calls, throttled=throttled.seen
    )


def _fenced_sync(
    session: Session, coordinator: Coordinator, lease: Lease, *, backup_first: bool
) -> RunSummary:
    # A fresh access token now, not between the budget's admission and the first call.
    session.qbo.auth.access_token()
    limits = Limits.parse(session.config.qbo.limits)
    budget = coordinator.budget(lease.realm, limits) if limits else None
    session.qbo.limiter = FencedBudget(budget, coordinator, lease)
    session.tps = FencedTps(session.tps, coordinator, lease)
    if backup_first and session.phase == "initial":
        session.backup()
    return session.sync()
