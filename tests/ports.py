"""Loopback ports for servers a test starts.

Whatever can bind port 0 itself does: the emulators, the watcher, and the redirect listener
of `connect` (a redirect URI with port 0 binds a free port and the flow uses the one bound).
Redis cannot (`--port 0` turns its TCP off), so it is told a port found free a moment
earlier, which another worker of the suite may take first: tests/fleet/local_redis.py then
tries another, a bounded number of times and only for that failure.
"""

from __future__ import annotations

import errno
import os
import socket

REDIRECT = "http://127.0.0.1:0/callback"  # the listener binds a free port: nothing to race
TRIES = 5  # five fresh ports all taken in the instant before each bind is not a race: a fault
ADDRESS_IN_USE = os.strerror(errno.EADDRINUSE)


def free_port() -> int:
    """A loopback port nothing listened on a moment ago (it may be taken by the time of use)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
