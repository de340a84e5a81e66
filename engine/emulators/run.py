"""Serving an emulator from the command line until SIGINT or SIGTERM, then stopping cleanly."""

from __future__ import annotations

import ipaddress
import json
import signal
import threading
from collections.abc import Callable
from typing import Protocol

from tpsqbo_engine.errors import UsageError


class Served(Protocol):
    def start(self) -> object: ...
    def stop(self) -> None: ...
    def connection_info(self) -> dict[str, str]: ...


def require_loopback(host: str) -> None:
    """Emulators listen on this machine only: they hold fake books and hand out tokens."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise UsageError(
            f"emulators listen on loopback addresses only, not {host}", hint="use --host 127.0.0.1"
        )


def serve(
    server: Served,
    *,
    print_json: bool,
    echo: Callable[[str], None],
    describe: Callable[[dict[str, str]], list[str]],
) -> int:
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    try:
        info = server.connection_info()
        if print_json:
            echo(json.dumps(info))
        else:
            for line in describe(info):
                echo(line)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass  # Ctrl-C is the ordinary way to stop an emulator
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)
    return 0
