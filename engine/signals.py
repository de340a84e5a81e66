"""Stopping well: SIGTERM finishes the write in flight and commits it before the engine exits.

A write runs from its journal intent (`StateStore.intend`) to the commit of its outcome. A
SIGTERM outside any write stops the engine at once (`Terminated`, exit 143); inside one it is
held until the last open write is committed, then raised. If that takes longer than
`GRACE_SECONDS` (a slow call, or a write never concluded), it is raised anyway: the journal
makes any point safe, holding the signal only spares the next run a lookup. Ctrl-C stays
Python's `KeyboardInterrupt` (exit 130).

Python cannot raise out of some callbacks (a weakref's, which imports run, a `__del__`): a
signal's exception raised there is printed as "Exception ignored" and lost, and the engine
would run on. While installed, such a lost stop is sent again a moment later, to land in the
engine's own code.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sys import UnraisableHookArgs

GRACE_SECONDS = 20.0
RESEND_SECONDS = 0.05  # after a lost stop: long enough to be out of the callback that lost it
EXIT_TERMINATED = 143


class Terminated(BaseException):
    """SIGTERM arrived; raised where stopping leaves the state consistent."""


_open_writes: set[int] = set()
_depth = 0  # StateStore transactions in progress
_pending = False
_grace: threading.Timer | None = None  # re-sends SIGTERM if the held one is never settled
_resends: list[threading.Timer] = []  # re-send stops a callback lost
# The signals still to be sent later. A timer's own `cancel` comes too late once its wait is
# over: a stop sent after the engine decided its exit code would land in whatever runs next
# (the interpreter's shutdown) and end the process by the signal instead of its code. A
# timer sends only while it is in here, and it is taken out under the same lock. Reentrant:
# a signal handler may schedule a send while the main thread holds it.
_sends_lock = threading.RLock()
_scheduled: set[threading.Timer] = set()


def _send_later(seconds: float, stop: int) -> threading.Timer:
    """`stop` sent to the main thread in `seconds` (a real signal: it also wakes a blocked
    call), unless cancelled by `_cancel` first."""
    main = threading.main_thread().ident or 0

    def send() -> None:
        with _sends_lock:
            if timer in _scheduled:
                _scheduled.discard(timer)
                signal.pthread_kill(main, stop)

    timer = threading.Timer(seconds, send)
    timer.daemon = True
    with _sends_lock:
        _scheduled.add(timer)
    timer.start()
    return timer


def _cancel(timer: threading.Timer) -> None:
    with _sends_lock:
        _scheduled.discard(timer)
    timer.cancel()


def _handler(signum: int, frame: FrameType | None) -> None:
    global _pending, _grace
    if _pending or not _open_writes:
        _cancel_grace()
        raise Terminated
    _pending = True
    _grace = _send_later(GRACE_SECONDS, signal.SIGTERM)


def _cancel_grace() -> None:
    # Once the held SIGTERM is raised (or the handler is gone) the re-send must not fire: it
    # would hit whatever runs next with the default action.
    global _grace
    if _grace is not None:
        _cancel(_grace)
        _grace = None


def _lost_stops(previous: Callable[[UnraisableHookArgs], Any]) -> Callable[..., None]:
    def hook(unraisable: UnraisableHookArgs) -> None:
        stop = {Terminated: signal.SIGTERM, KeyboardInterrupt: signal.SIGINT}.get(
            type(unraisable.exc_value)  # type: ignore[arg-type]
        )
        if stop is None:
            previous(unraisable)
            return
        _resends.append(_send_later(RESEND_SECONDS, stop))

    return hook


@contextmanager
def installed() -> Iterator[None]:
    """SIGTERM handled as above while inside (main thread only; elsewhere a no-op)."""
    global _pending
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # Writes a run abandoned earlier in this process (an exception that ended it before its
    # outcomes were recorded) are the journal's to recover, not writes in flight here.
    _open_writes.clear()
    previous = signal.signal(signal.SIGTERM, _handler)
    previous_hook, sys.unraisablehook = sys.unraisablehook, _lost_stops(sys.unraisablehook)
    try:
        yield
    finally:
        _cancel_grace()
        for resend in _resends:  # the engine is ending anyway; the handler it needs is gone
            _cancel(resend)
        _resends.clear()
        sys.unraisablehook = previous_hook
        signal.signal(signal.SIGTERM, previous)
        _pending = False
        _open_writes.clear()


def stop_within(error: BaseException) -> BaseException | None:
    """The Ctrl-C or SIGTERM an exception was raised from, if any. Python 3.11 wraps an
    exception raised while a class body's descriptors are set up (`__set_name__`, run by
    imports) in a RuntimeError: a stop landing there must still end as a stop."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:  # a chain may loop back
        if isinstance(current, (KeyboardInterrupt, Terminated)):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def write_started(journal: int) -> None:
    if _pending and not _open_writes and _depth == 0:
        raise Terminated  # stopping was asked for: start nothing new
    _open_writes.add(journal)


def held() -> bool:
    """A SIGTERM waits for the open writes to be committed: commit them before any other."""
    return _pending


def write_concluded(journal: int) -> None:
    _open_writes.discard(journal)
    if _depth == 0:
        _settle()


def write_left_open(journal: int) -> None:
    """A write whose outcome is unknown is left to the journal (the next run looks it up):
    a held SIGTERM has nothing more to wait for from it, and is raised at the next commit."""
    _open_writes.discard(journal)


@contextmanager
def transaction() -> Iterator[None]:
    """Wraps a state transaction: a held SIGTERM is raised only after it commits."""
    global _depth
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
    if _depth == 0:
        _settle()


def _settle() -> None:
    if _pending and not _open_writes:
        _cancel_grace()
        raise Terminated


__all__ = ["EXIT_TERMINATED", "Terminated", "installed", "stop_within"]
