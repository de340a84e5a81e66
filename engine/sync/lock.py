"""One run at a time per firm: a lock row in the state, held by host and process id.

`sync`, `retry`, `undo` and the watcher's runs all take it. A lock whose process is gone (it
was killed) is taken over; one held on another host is respected, since its process cannot
be seen from here. A holder names host, process id and the process's start time, so a
process id reused after a kill does not keep the lock.

A fleet run holds its realm's lease, and its lock holder names that lease
(`fleet:<realm>:<token>:<host>:<pid>:<started>`): a fleet run that finds the lock held by a
fleet run whose lease is gone (killed on another machine, say) takes it over, since the
lease, not the host, tells whether that run may still write. Other holders on other hosts
(a manual `sync`) are respected as before.

A lock left on another host by a run that was killed there holds for ever, since no
process here can tell that it died: `tpsqbo-engine unlock` (engine/cli_unlock.py) clears
it once told which holder it clears (`StaleLock`, `remove`).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from tpsqbo_engine.errors import EngineError
from tpsqbo_engine.state import StateStore

RUN_LOCK = "run"
FLEET = "fleet:"
P = ParamSpec("P")
R = TypeVar("R")


class RunLocked(EngineError):
    def __init__(self, holder: str) -> None:
        super().__init__(
            f"another run for this firm is in progress ({holder})",
            hint="wait for it to finish (a watcher runs one at a time); a lock left by a "
            "killed process on this host, or by a fleet run whose realm lease expired, is "
            "taken over by the next run; one left by a run killed on another host stays "
            "until `tpsqbo-engine unlock` (with this run's --config) clears it",
        )
        self.holder = holder


@dataclass(frozen=True)
class FleetLease:
    """The realm lease a fleet run holds while it runs a firm; `held(realm, token)` asks the
    fleet's coordinator whether a lease is still alive."""

    realm: str
    token: int
    held: Callable[[str, int], bool]


# Set by the fleet's runner for the length of one firm's run (each run in its own context).
FLEET_LEASE: ContextVar[FleetLease | None] = ContextVar("fleet_lease", default=None)


def this_holder() -> str:
    process = f"{socket.gethostname()}:{os.getpid()}:{_started(os.getpid())}"
    lease = FLEET_LEASE.get()
    return f"{FLEET}{lease.realm}:{lease.token}:{process}" if lease else process


def _started(pid: int) -> str:
    """When the process started (Linux: /proc), so that a pid reused by another process
    after a kill is not taken for the lock's holder; empty where it cannot be told."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return ""
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else ""


@dataclass(frozen=True)
class Holder:
    """A holder's text taken apart: `[fleet:<realm>:<token>:]<host>:<pid>:<started>`."""

    text: str
    host: str
    pid: int | None  # None: not a process id (a holder from elsewhere, or mangled)
    started: str
    realm: str = ""
    token: int | None = None  # a fleet run's lease token

    @classmethod
    def parse(cls, text: str) -> Holder:
        realm, token, process = "", None, text
        if text.startswith(FLEET):
            realm, _, rest = text.removeprefix(FLEET).partition(":")
            digits, _, process = rest.partition(":")
            token = int(digits) if digits.isdigit() else None
        host, _, rest = process.partition(":")
        pid, _, started = rest.partition(":")
        return cls(text, host, int(pid) if pid.isdigit() else None, started, realm, token)

    @property
    def here(self) -> bool:
        """On this host, with a process id this host can look up."""
        return self.host == socket.gethostname() and self.pid is not None

    def process_alive(self) -> bool:
        """Whether its process still runs; only `here` can this be told (else True)."""
        if not self.here or self.pid is None:
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # someone else's process, alive
        now = _started(self.pid)
        return not (self.started and now and now != self.started)


def holder_alive(holder: str) -> bool:
    parsed = Holder.parse(holder)
    lease = FLEET_LEASE.get()
    if (
        parsed.token is not None
        and lease is not None
        and not lease.held(parsed.realm, parsed.token)
    ):
        return False  # its lease is gone: that run can write no more (fencing)
    return parsed.process_alive()


@contextmanager
def run_lock(state: StateStore) -> Iterator[None]:
    holder = this_holder()
    busy = state.take_lock(RUN_LOCK, holder, holder_alive)
    if busy:
        raise RunLocked(busy)
    try:
        yield
    finally:
        state.release_lock(RUN_LOCK, holder)


class _HasState(Protocol):
    state: StateStore


S = TypeVar("S", bound=_HasState)


def locked(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """Runs a Session method under the firm's run lock."""

    def under_lock(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with run_lock(self.state):
            return method(self, *args, **kwargs)

    return under_lock


# Clearing a lock left behind (`tpsqbo-engine unlock`) ----------------------------------------
class LockKept(EngineError):
    """`unlock` refused, or found the lock changed: nothing was removed."""


@dataclass(frozen=True)
class HeldLock:
    holder: Holder
    since: str


def held_lock(state: StateStore) -> HeldLock | None:
    row = state.db.conn.execute(
        "select holder, taken_at from locks where name = ?", [RUN_LOCK]
    ).fetchone()
    return HeldLock(Holder.parse(str(row[0])), str(row[1])) if row else None


def remove(state: StateStore, lock: HeldLock) -> bool:
    """Removes exactly this holder's lock, taken at that time; False when the lock is no
    longer it (its run ended, or another run took it meanwhile: that one is left alone)."""
    with state.transaction():
        cursor = state.db.conn.execute(
            "delete from locks where name = ? and holder = ? and taken_at = ?",
            [RUN_LOCK, lock.holder.text, lock.since],
        )
    return cursor.rowcount == 1


@dataclass(frozen=True)
class StaleLock:
    """A held lock as `unlock` judges it. `process`: alive or gone (this host), unknown
    (another host: no process there can be seen from here). `lease`: held or gone for a
    fleet run's holder (asked of its fleet's coordinator), "" for any other holder."""

    lock: HeldLock
    process: str
    lease: str = ""

    @classmethod
    def judge(cls, lock: HeldLock, lease_held: Callable[[str, int], bool]) -> StaleLock:
        """`lease_held`: the fleet coordinator's question, asked about a fleet run's holder
        unless its process is seen alive here (kept whatever its lease)."""
        holder = lock.holder
        process = "unknown" if not holder.here else "alive" if holder.process_alive() else "gone"
        lease = ""
        if holder.token is not None and process != "alive":
            lease = "held" if lease_held(holder.realm, holder.token) else "gone"
        return cls(lock, process, lease)

    @property
    def refusal(self) -> str:
        """Why it may not be cleared whatever the user says, or ""."""
        holder = self.lock.holder
        if self.process == "alive":
            return f"its process {holder.pid} is alive on this host"
        if self.lease == "held":
            return f"it holds the live fleet lease on realm {holder.realm} (token {holder.token})"
        return ""

    @property
    def needs_word(self) -> bool:
        """Only the user can know that a run on another host stopped: `--yes` or `--holder`."""
        return self.process == "unknown"
