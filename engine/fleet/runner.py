"""One firm's run inside a fleet: take the realm's lease, give the clients the realm's shared
budget and the lease's fence, sync, and record the outcome.

The sync itself is the one `tpsqbo-engine sync` runs (`Session.sync`), so a fleet run plans,
journals and writes exactly as a single run does; a rerun after a crash is safe for the same
reason a single rerun is.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import requests

from tpsqbo_engine.connectors.qbo.limits import Budget, Limits
from tpsqbo_engine.connectors.tps.client import Record, TpsClient, TpsSource
from tpsqbo_engine.errors import EngineError, RuleError
from tpsqbo_engine.fleet.coord import LEASE_TTL, Coordinator, FirmRun, Lease, LeaseLost, now_iso
from tpsqbo_engine.fleet.firms import Firm
from tpsqbo_engine.sync.config import load_config
from tpsqbo_engine.sync.lock import FLEET_LEASE, FleetLease
from tpsqbo_engine.sync.session import ChecklistFailed, RunSummary, Session

log = logging.getLogger(__name__)
# After a renewal that failed (the coordinator did not answer), ask again this often, until
# the lease's own expiry.
RENEW_RETRY = 1.0
FINAL = ("completed", "partial", "failed")


class RealmBusy(Exception):
    """Another run holds the realm's lease: this firm waits its turn."""

    def __init__(self, realm: str) -> None:
        super().__init__(f"realm {realm} is being synced by another run")
        self.realm = realm


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _still_held(coordinator: Coordinator, lease: Lease, keeper: LeaseKeeper | None) -> bool:
    """The keeper knows first when the lease lapsed unrenewed; else the coordinator decides."""
    if keeper is not None and not keeper.valid():
        return False
    return coordinator.holds(lease)


class FencedBudget:
    """Every QBO request goes through `acquire`: it waits for the realm's budget, then checks
    the lease is still this run's, right before the request is sent."""

    def __init__(
        self,
        inner: Budget | None,
        coordinator: Coordinator,
        lease: Lease,
        keeper: LeaseKeeper | None = None,
    ) -> None:
        self.inner, self.coordinator, self.lease = inner, coordinator, lease
        self.keeper = keeper

    def acquire(self, *, batch: bool) -> str:
        ticket = self.inner.acquire(batch=batch) if self.inner is not None else ""
        if not _still_held(self.coordinator, self.lease, self.keeper):
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

    def __init__(
        self,
        inner: TpsSource,
        coordinator: Coordinator,
        lease: Lease,
        keeper: LeaseKeeper | None = None,
    ) -> None:
        self.inner, self.coordinator, self.lease = inner, coordinator, lease
        self.keeper = keeper

    def _check(self) -> None:
        if not _still_held(self.coordinator, self.lease, self.keeper):
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
    """Renews the lease every third of its life while the run goes on. A renewal the
    coordinator does not answer (a Redis blip, a locked SQLite file) is tried again every
    `retry` seconds until the lease would have expired; only a lease that is really gone
    (renewal refused, or expired unrenewed) ends the keeping, and `valid` then says so, so the
    fences stop the run before its next write without asking the coordinator."""

    def __init__(
        self, coordinator: Coordinator, lease: Lease, ttl: float, *, retry: float = RENEW_RETRY
    ) -> None:
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._expires = time.monotonic() + ttl
        self.failed_renewals = 0
        self._thread = threading.Thread(
            target=self._renew, args=(coordinator, lease, ttl, retry), daemon=True
        )
        self._thread.start()

    def valid(self) -> bool:
        return not self._lost.is_set() and time.monotonic() < self._expires

    def _renew(self, coordinator: Coordinator, lease: Lease, ttl: float, retry: float) -> None:
        wait = ttl / 3
        while not self._stop.wait(wait):
            asked = time.monotonic()
            try:
                renewed = coordinator.renew(lease, ttl)
            except Exception as error:  # the coordinator did not answer: ask again soon
                self.failed_renewals += 1
                log.warning("renewing the lease on realm %s failed: %s", lease.realm, error)
                left = self._expires - time.monotonic()
                if left <= 0:
                    self._lost.set()  # expired unrenewed: another run may hold it now
                    return
                wait = min(retry, left)
                continue
            if not renewed:
                self._lost.set()  # lost: the fence stops the run at its next write
                return
            self._expires, wait = asked + ttl, ttl / 3

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


def _close(session: Session, tps: TpsSource | None) -> None:
    """A worker runs firm after firm: each run's connections go with it."""
    session.state.db.conn.close()
    if "qbo" in vars(session):  # built: it holds an HTTP session
        session.qbo.session.close()
    if isinstance(tps, TpsClient):
        tps.session.close()


def permanent(error: BaseException) -> bool:
    return bool(why_permanent(error))


def why_permanent(error: BaseException) -> str:
    """Why waiting cannot mend this failure, or "" when it may pass (a connection error, a
    429, a 5xx): retrying a usage or config error (a broken config, a secret not in the
    environment, a firm never connected: exit code 2), rules that fail to validate, or a
    pre-sync checklist that blocks only delays its report."""
    if isinstance(error, ChecklistFailed):
        return "the pre-sync checklist blocks the initial sync"
    if isinstance(error, RuleError):
        return "the rules fail validate"
    if isinstance(error, EngineError) and error.exit_code == 2:
        return "a usage or config error"
    return ""


def _failure(error: BaseException, firm: Firm) -> dict[str, Any]:
    """A failed run's fields: what happened, and whether (and why) it is not retried."""
    reason = why_permanent(error)
    return {"error": _describe(error, firm), "permanent": bool(reason), "not_retried": reason}


def _describe(error: BaseException, firm: Firm) -> str:
    if isinstance(error, ChecklistFailed):  # the fleet has no --force: say what it has
        return (
            f"{error.message}; run `tpsqbo-engine checklist --config {firm.config}` and fix "
            "them (`fleet run --backup-first` takes the backup an initial sync wants), or "
            "sync this firm alone with --force --reason '...'"
        )
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
    task: str = "",
) -> FirmRun:
    """The firm's run as recorded: completed, partial or failed. Raises RealmBusy when its
    realm is leased to another run (nothing was done then). `backup_first`: a firm's initial
    sync takes its backup before the checklist, which asks for a recent one. `task`: the
    Celery task running it, carried by each of its records."""
    owner = owner or worker_name()
    base = FirmRun(firm.name, str(firm.config), "running", attempt=attempt, worker=owner, task=task)
    _starting(coordinator, base, ttl)
    try:
        session, tps, realm = _open(firm)
    except Exception as error:
        failure = {**_failure(error, firm), "error": _setup_error(firm, error)}
        return replace(base, status="failed", finished=now_iso(), **failure)
    lease = coordinator.try_lease(realm, owner, ttl)
    if lease is None:
        _close(session, tps)
        raise RealmBusy(realm)
    running = replace(base, realm=realm, started=now_iso(), token=lease.token)
    keeper = LeaseKeeper(coordinator, lease, ttl)
    throttled = ThrottleCount()
    held = FLEET_LEASE.set(FleetLease(realm, lease.token, coordinator.lease_held))
    try:
        coordinator.record(running)
        session.qbo.session.hooks["response"].append(throttled)
        summary = _fenced_sync(session, coordinator, lease, keeper, backup_first=backup_first)
    except Exception as error:
        outcome = replace(running, status="failed", **_failure(error, firm))
    else:
        status = "partial" if summary.counts.get("Failed") else "completed"
        outcome = replace(running, status=status, counts=summary.counts, run_id=summary.run_id)
    finally:
        # The run ends while it still holds the realm: the next one starts after this.
        FLEET_LEASE.reset(held)
        finished = now_iso()
        keeper.stop()
        _release(coordinator, lease)
        _close(session, tps)
    return replace(
        outcome, finished=finished, calls=session.qbo.stats.calls, throttled=throttled.seen
    )


def _starting(coordinator: Coordinator, base: FirmRun, ttl: float) -> None:
    """Said before opening the firm, which may hang (a volume that stopped answering) or die
    with its worker before the realm's lease is taken: until the lease nothing else tells
    that this run began, and the firm's previous outcome would stand for it. Opening takes
    well under a lease's life, so `fleet status` shows a start unanswered that long lost."""
    coordinator.record(replace(base, status="starting", started=now_iso(), expires=now_iso(ttl)))


def _open(firm: Firm) -> tuple[Session, TpsSource, str]:
    """The firm's session, its TPS client and its realm: a missing secret or a firm never
    connected fails here, as this firm's failure."""
    session = Session(load_config(firm.config))
    try:
        tps = session.tps
        return session, tps, session.qbo.realm_id
    except BaseException:
        _close(session, vars(session).get("tps"))
        raise


def unexpected(firm: Firm, attempt: int, error: BaseException) -> FirmRun:
    """A run that raised instead of returning its outcome (its coordinator failed it, say):
    this firm's failure, never the fleet's."""
    failure = {**_failure(error, firm), "error": _setup_error(firm, error)}
    return FirmRun(
        firm.name, str(firm.config), "failed", attempt=attempt, finished=now_iso(), **failure
    )


def _setup_error(firm: Firm, error: BaseException) -> str:
    told = _describe(error, firm)
    return told if str(firm.config) in told else f"{firm.config}: {told}"


def _release(coordinator: Coordinator, lease: Lease) -> None:
    """A lease the coordinator cannot be told about now expires on its own."""
    try:
        coordinator.release(lease)
    except Exception as error:
        log.warning("releasing the lease on realm %s failed: %s", lease.realm, error)


def _fenced_sync(
    session: Session,
    coordinator: Coordinator,
    lease: Lease,
    keeper: LeaseKeeper,
    *,
    backup_first: bool,
) -> RunSummary:
    # A fresh access token now, not between the budget's admission and the first call.
    session.qbo.auth.access_token()
    limits = Limits.parse(session.config.qbo.limits)
    budget = coordinator.budget(lease.realm, limits) if limits else None
    session.qbo.limiter = FencedBudget(budget, coordinator, lease, keeper)
    session.tps = FencedTps(session.tps, coordinator, lease, keeper)
    if backup_first and session.phase == "initial":
        session.backup()
    return session.sync()
