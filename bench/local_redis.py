"""A real Redis of a run's own on a loopback port: the fleet benchmark's and the fleet tests'.

Redis must be told its port (`--port 0` means no TCP at all), so the port is picked free
first and may be taken by the time Redis binds it. Another port is tried, at most `TRIES`
of them, only when that port was shown taken: Redis said it could not bind it because the
address is in use, or another process answered there. Any other way Redis fails to start is
`RedisNotStarted`, with what Redis said; the caller ends its run with it.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

TRIES = 5  # five fresh ports all taken in the instant before each bind is not a race: a fault
START = 10.0  # seconds Redis may take to answer, however busy the machine
REDIS_OPTIONS = ("--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
ADDRESS_IN_USE = os.strerror(errno.EADDRINUSE)


class RedisNotStarted(Exception):
    """Redis did not start on any port tried, and why."""


def free_port() -> int:
    """A loopback port nothing listened on a moment ago (it may be taken by the time of use)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_redis(
    server: str, folder: Path, preexec_fn: Callable[[], None] | None = None
) -> Iterator[str]:
    """The URL of a Redis (`server` its binary) that answers as itself on a free port;
    `preexec_fn` runs in its process before it starts."""
    taken: list[int] = []
    for attempt in range(TRIES):
        port = free_port()
        log = folder / f"redis-{attempt}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [server, *REDIS_OPTIONS, "--port", str(port)],
                cwd=folder,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=preexec_fn,
            )
        try:
            if _started(process, port, log):
                yield f"redis://127.0.0.1:{port}/0"
                return
        finally:
            process.terminate()
            process.wait(10)
        taken.append(port)
    raise RedisNotStarted(f"redis-server found each of {TRIES} free ports taken: {taken}")


def _started(process: subprocess.Popen[bytes], port: int, log: Path) -> bool:
    """Whether the Redis of `process` answers on `port`; False when the port proved taken
    (the answer came from another process, or Redis could not bind it)."""
    deadline = time.monotonic() + START
    while time.monotonic() < deadline and process.poll() is None:
        try:
            info = _server_info(port)
        except OSError:
            time.sleep(0.05)  # not listening yet: polled, never waited on blindly
            continue
        return f"process_id:{process.pid}\r\n".encode() in info  # else another's port
    said = log.read_text(errors="replace")
    if process.poll() is None:
        raise RedisNotStarted(
            f"redis-server did not answer on port {port} within {START:.0f} s:\n{said}"
        )
    if f"listening socket 127.0.0.1:{port}: bind: {ADDRESS_IN_USE}" in said:
        return False
    raise RedisNotStarted(f"redis-server ended ({process.returncode}) on port {port}:\n{said}")


def _server_info(port: int) -> bytes:
    """`INFO server` of the Redis on `port`: its bulk reply, read whole (at most 1 MiB)."""
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(b"INFO server\r\n")
        reply = b""
        while (b"\r\n" not in reply or len(reply) < _bulk_end(reply)) and len(reply) < 1 << 20:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
        return reply


def _bulk_end(reply: bytes) -> int:
    """Where a bulk reply (`$<length>\\r\\n<bytes>\\r\\n`) ends; 0 for any other reply."""
    head, _, _ = reply.partition(b"\r\n")
    return len(head) + 2 + int(head[1:]) + 2 if head[:1] == b"$" else 0
