"""Loopback ports for servers a test starts.

Whatever can bind port 0 itself does: the emulators, the watcher, and the redirect listener
of `connect` (a redirect URI with port 0 binds a free port and the flow uses the one bound).
Redis cannot (`--port 0` turns its TCP off): bench/local_redis.py starts it on a port found
free a moment earlier, and tries another, a bounded number of times and only when that one
proved taken.
"""

from __future__ import annotations

REDIRECT = "http://127.0.0.1:0/callback"  # the listener binds a free port: nothing to race
