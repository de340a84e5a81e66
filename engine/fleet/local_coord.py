"""The Coordinator in one SQLite file, for the embedded fleet: no broker, one machine.

The same leases with fencing tokens, the same sliding-window budget per realm and the same
run records as the Redis one, each check-and-change in one `BEGIN IMMEDIATE` transaction, so
the threads of one `fleet run` (or several `fleet run`s on one machine) share them.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tpsqbo_engine.connectors.qbo.limits import MAX_FLIGHT, Limits, client_windows
from tpsqbo_engine.fleet.coord import FirmRun, Lease, Schedule, wait_for_room

# How often to ask again while the call to leave a window is still in flight.
POLL = 0.01

_SCHEMA = """
CREATE TABLE IF NOT EXISTS leases (realm TEXT PRIMARY KEY, owner TEXT, token INTEGER,
                                   expires REAL);
CREATE TABLE IF NOT EXISTS fences (realm TEXT PRIMARY KEY, token INTEGER);
CREATE TABLE IF NOT EXISTS calls (realm TEXT, at REAL, batch INTEGER);
CREATE INDEX IF NOT EXISTS calls_realm ON calls (realm, at);
CREATE TABLE IF NOT EXISTS runs (firm TEXT PRIMARY KEY, body TEXT);
CREATE TABLE IF NOT EXISTS tokens (key TEXT PRIMARY KEY, token INTEGER);
CREATE TABLE IF NOT EXISTS schedules (firm TEXT PRIMARY KEY, config TEXT, every REAL,
                                      last REAL);
"""


class LocalCoordinator:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30)
        try:
            db.executescript("PRAGMA journal_mode=WAL;" + _SCHEMA)
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    # Leases ---------------------------------------------------------------------------------
    def try_lease(self, realm: str, owner: str, ttl: float) -> Lease | None:
        now = time.time()
        with self._write() as db:
            held = db.execute("SELECT expires FROM leases WHERE realm = ?", (realm,)).fetchone()
            if held is not None and held[0] > now:
                return None
            row = db.execute("SELECT token FROM fences WHERE realm = ?", (realm,)).fetchone()
            token = (row[0] if row else 0) + 1
            db.execute("INSERT OR REPLACE INTO fences VALUES (?, ?)", (realm, token))
            db.execute(
                "INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?)",
                (realm, owner, token, now + ttl),
            )
        return Lease(realm, owner, token)

    def renew(self, lease: Lease, ttl: float) -> bool:
        with self._write() as db:
            changed = db.execute(
                "UPDATE leases SET expires = ? WHERE realm = ? AND owner = ? AND token = ? "
                "AND expires > ?",
                (time.time() + ttl, lease.realm, lease.owner, lease.token, time.time()),
            ).rowcount
        return bool(changed)

    def holds(self, lease: Lease) -> bool:
        with self._write() as db:
            row = db.execute(
                "SELECT owner, token, expires FROM leases WHERE realm = ?", (lease.realm,)
            ).fetchone()
        return (
            row is not None
            and tuple(row[:2]) == (lease.owner, lease.token)
            and row[2] > time.time()
        )

    def lease_held(self, realm: str, token: int) -> bool:
        """Whether the realm's lease with this token is still alive (its run may write)."""
        with self._write() as db:
            return _lease_alive(db, realm, token)

    def release(self, lease: Lease) -> None:
        with self._write() as db:
            db.execute(
                "DELETE FROM leases WHERE realm = ? AND owner = ? AND token = ?",
                (lease.realm, lease.owner, lease.token),
            )

    # Budget ---------------------------------------------------------------------------------
    def budget(self, realm: str, limits: Limits) -> LocalBudget:
        return LocalBudget(self, realm, limits)

    def admit(self, realm: str, windows: Limits, limits: Limits, batch: bool) -> tuple[float, str]:
        """(0, its ticket) when the call was admitted, else how long to wait before asking
        again. A call in flight is kept at the latest time it could finish (MAX_FLIGHT on)
        until `finished` moves it to when it did."""
        now = time.time()
        with self._write() as db:
            db.execute(
                "DELETE FROM calls WHERE realm = ? AND at <= ?", (realm, now - windows.minute)
            )
            times = [
                r[0]
                for r in db.execute("SELECT at FROM calls WHERE realm = ? ORDER BY at", (realm,))
            ]
            batches = [
                r[0]
                for r in db.execute(
                    "SELECT at FROM calls WHERE realm = ? AND batch = 1 ORDER BY at", (realm,)
                )
            ]
            recent = [t for t in times if t > now - windows.second]
            waits = [0.0]
            if len(times) >= limits.per_minute:
                waits.append(_until(times[len(times) - limits.per_minute], windows.minute, now))
            if len(recent) >= limits.per_second:
                waits.append(_until(recent[len(recent) - limits.per_second], windows.second, now))
            if batch and len(batches) >= limits.batch_per_minute:
                oldest = batches[len(batches) - limits.batch_per_minute]
                waits.append(_until(oldest, windows.minute, now))
            wait = max(waits)
            if wait > 0:
                return wait, ""
            row = db.execute(
                "INSERT INTO calls VALUES (?, ?, ?)", (realm, now + MAX_FLIGHT, int(batch))
            )
        return 0.0, str(row.lastrowid)

    def finished(self, ticket: str) -> None:
        with self._write() as db:
            db.execute("UPDATE calls SET at = ? WHERE rowid = ?", (time.time(), int(ticket)))

    def batch_room(self, realm: str, windows: Limits, limits: Limits) -> bool:
        since = time.time() - windows.minute
        with self._write() as db:
            row = db.execute(
                "SELECT count(*) FROM calls WHERE realm = ? AND batch = 1 AND at > ?",
                (realm, since),
            ).fetchone()
        return bool(row[0] < limits.batch_per_minute)

    # Runs and schedules ---------------------------------------------------------------------
    def record(self, run: FirmRun) -> bool:
        key = f"{run.firm}|{run.realm}"
        with self._write() as db:
            row = db.execute("SELECT token FROM tokens WHERE key = ?", (key,)).fetchone()
            held = row[0] if row else 0
            if 0 < run.token < held:
                return False
            if run.token == 0:
                current = db.execute("SELECT body FROM runs WHERE firm = ?", (run.firm,)).fetchone()
                running = FirmRun.from_json(current[0]) if current else None
                # Only while that run still holds its realm: a killed run's record gives
                # way once its lease expired.
                if (
                    running
                    and running.status == "running"
                    and _lease_alive(db, running.realm, running.token)
                ):
                    return False
            if run.token > held:
                db.execute("INSERT OR REPLACE INTO tokens VALUES (?, ?)", (key, run.token))
            db.execute("INSERT OR REPLACE INTO runs VALUES (?, ?)", (run.firm, run.to_json()))
        return True

    def runs(self) -> list[FirmRun]:
        with self._write() as db:
            rows = db.execute("SELECT body FROM runs ORDER BY firm").fetchall()
        return [FirmRun.from_json(r[0]) for r in rows]

    def set_schedule(self, schedule: Schedule) -> None:
        """A firm already scheduled keeps when it was last enqueued: scheduling the fleet
        again (to add a firm, or change the period) does not make every firm due at once."""
        with self._write() as db:
            db.execute(
                "INSERT INTO schedules VALUES (?, ?, ?, ?) ON CONFLICT (firm) DO UPDATE SET "
                "config = excluded.config, every = excluded.every",
                (schedule.firm, schedule.config, schedule.every, schedule.last),
            )

    def remove_schedule(self, firm: str) -> bool:
        with self._write() as db:
            return bool(db.execute("DELETE FROM schedules WHERE firm = ?", (firm,)).rowcount)

    def schedules(self) -> list[Schedule]:
        with self._write() as db:
            rows = db.execute("SELECT firm, config, every, last FROM schedules ORDER BY firm")
            return [Schedule(*row) for row in rows.fetchall()]

    def mark_enqueued(self, firm: str, at: float) -> None:
        with self._write() as db:
            db.execute("UPDATE schedules SET last = ? WHERE firm = ?", (at, firm))


class LocalBudget:
    def __init__(self, coordinator: LocalCoordinator, realm: str, limits: Limits) -> None:
        self._coordinator = coordinator
        self._realm = realm
        self._limits = limits
        self._windows = client_windows(limits)
        self.waited = 0.0

    def batch_room(self) -> bool:
        return self._coordinator.batch_room(self._realm, self._windows, self._limits)

    def acquire(self, *, batch: bool) -> str:
        waited, ticket = wait_for_room(
            lambda: self._coordinator.admit(self._realm, self._windows, self._limits, batch)
        )
        self.waited += waited
        return ticket

    def finished(self, ticket: str) -> None:
        self._coordinator.finished(ticket)


def _lease_alive(db: sqlite3.Connection, realm: str, token: int) -> bool:
    row = db.execute(
        "SELECT 1 FROM leases WHERE realm = ? AND token = ? AND expires > ?",
        (realm, token, time.time()),
    ).fetchone()
    return row is not None


def _until(at: float, span: float, now: float) -> float:
    """When a call counted at `at` leaves a window of `span`; one in flight (counted at the
    latest it could finish) is asked about again soon, since its answer may come any time."""
    return POLL if at > now else at + span - now
