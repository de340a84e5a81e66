"""Loopback ports for servers the engine (or a test) starts on a port named beforehand.

A port found free by binding port 0 is free when asked, not when the server binds it a
moment later: the suite's other workers, and any process on the machine, pick ports too.
Where the server cannot take port 0 itself (the redirect listener of `connect` must be named
in the redirect URI before it listens), a fresh port is tried again, a bounded number of
times, and only when the server said exactly that the port was taken; any other failure is
the test's failure, as it was said.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable

import pytest

from tpsqbo_engine.connectors.qbo.connect import ConnectSettings, connect
from tpsqbo_engine.connectors.qbo.tokens import Tokens
from tpsqbo_engine.errors import UsageError

TRIES = 5  # five fresh ports all taken in the instant before each bind is not a race: a fault
ADDRESS_IN_USE = os.strerror(errno.EADDRINUSE)


def free_port() -> int:
    """A loopback port nothing listened on a moment ago (it may be taken by the time of use)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def redirect_uri(port: int) -> str:
    return f"http://127.0.0.1:{port}/callback"


def port_was_taken(error: UsageError, port: int) -> bool:
    """Whether `connect` refused exactly because its redirect port was in use (the usage
    error tests/hostile/test_signals.py pins), not for any other reason."""
    said = f"cannot listen for the redirect on 127.0.0.1:{port}: {ADDRESS_IN_USE}"
    return error.message == said


def connect_on_a_free_port(
    settings: Callable[[str], ConnectSettings],
    *,
    announce: Callable[[str], None],
    timeout: float = 30.0,
) -> Tokens:
    """`connect` with its redirect listener on a fresh loopback port; `settings` makes the
    connection's settings for a redirect URI. A refusal because the port was taken tries
    another port: `connect` binds its listener before it announces or writes anything."""
    taken: list[int] = []
    for _ in range(TRIES):
        port = free_port()
        try:
            return connect(settings(redirect_uri(port)), announce=announce, timeout=timeout)
        except UsageError as error:
            if not port_was_taken(error, port):
                raise
            taken.append(port)
    pytest.fail(f"the redirect listener found each of {TRIES} free ports taken: {taken}")
