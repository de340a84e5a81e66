"""A real Redis of the test run's own on a loopback port (bench/local_redis.py, which the
fleet benchmark uses too), gone when the test run goes; a Redis that does not start fails
the test with what Redis said."""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from bench import local_redis


def die_with_parent() -> None:
    """A server a test starts goes when the test run goes, however it ends."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextmanager
def running_redis(server: str, folder: Path) -> Iterator[str]:
    """The URL of a Redis (`server` its binary) that answers as itself on a free port."""
    with ExitStack() as stack:
        try:
            started = local_redis.running_redis(server, folder, preexec_fn=die_with_parent)
            url = stack.enter_context(started)
        except local_redis.RedisNotStarted as failed:
            pytest.fail(str(failed))
        yield url
