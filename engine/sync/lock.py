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
            "taken over by the next run",
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


def holder_alive(holder: str) -> bool:
    if holder.startswith(FLEET):
        realm, _, rest = holder.removeprefix(FLEET).partition(":")
        token, _, process = rest.partition(":")
        lease = FLEET_LEASE.get()
        if lease is not None and token.isdigit() and not lease.held(realm, int(token)):
            return False  # its lease is gone: that run can write no more (fencing)
        holder = process
    host, _, rest = holder.partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process, alive
    now = _started(int(pid))
    return not (started and now and now != started)


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
