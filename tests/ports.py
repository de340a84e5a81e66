"""Loopback ports for servers the engine (or a test) starts on a port named beforehand.

A port found free by binding port 0 is free when asked, not when the server binds it a
moment later: the suite's other workers, and any process on the machine, pick ports too.
Where the server cannot take port 0 itself (the redirect listener of `connect` must be named
in the redirect URI before it listens), a fresh port is tried again, a bounded number of
times, and only when the server said exactly that the port was taken; any other failure is
the test's failure, as it was said.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import socket
from collections.abc import Callable
from urllib.parse import urlparse

import pytest

from tpsqbo_engine.connectors.qbo import connect as engine
from tpsqbo_engine.connectors.qbo.connect import ConnectSettings
from tpsqbo_engine.connectors.qbo.tokens import Tokens
from tpsqbo_engine.errors import UsageError

TRIES = 5  # five fresh ports all taken in the instant before each bind is not a race: a fault
ADDRESS_IN_USE = os.strerror(errno.EADDRINUSE)
CONNECT = engine.connect  # the engine's own, whatever a test puts in its place later


def free_port() -> int:
    """A loopback port nothing listened on a moment ago (it may be taken by the time of use)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def redirect_uri(port: int) -> str:
    return f"http://127.0.0.1:{port}/callback"


def port_was_taken(error: UsageError, redirect: str) -> bool:
    """Whether `connect` refused `redirect` exactly because its port was in use (the usage
    error tests/hostile/test_signals.py pins), not for any other reason."""
    url = urlparse(redirect)
    said = f"cannot listen for the redirect on {url.hostname}:{url.port}: {ADDRESS_IN_USE}"
    return error.message == said


def connect(
    settings: ConnectSettings,
    *,
    announce: Callable[[str], None],
    auth_code: str = "",
    realm_id: str = "",
    timeout: float = 300.0,
) -> Tokens:
    """The engine's `connect`, its redirect listener moved to a fresh loopback port (same
    host and path) whenever its port proved taken. Nothing is lost by trying again: `connect`
    binds the listener before it announces or writes anything."""
    taken: list[int] = []
    for attempt in range(TRIES):
        if attempt:
            url = urlparse(settings.redirect_uri)
            moved = url._replace(netloc=f"{url.hostname}:{free_port()}").geturl()
            settings = dataclasses.replace(settings, redirect_uri=moved)
        try:
            return CONNECT(
                settings,
                announce=announce,
                auth_code=auth_code,
                realm_id=realm_id,
                timeout=timeout,
            )
        except UsageError as error:
            if not port_was_taken(error, settings.redirect_uri):
                raise
            taken.append(urlparse(settings.redirect_uri).port or 0)
    pytest.fail(f"the redirect listener found each of {TRIES} free ports taken: {taken}")
