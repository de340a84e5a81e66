"""The `emulate` command run for real, on port 0, stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

ENGINE = [sys.executable, "-m", "tpsqbo_engine", "emulate"]


@contextmanager
def serving(*arguments: str) -> Iterator[dict[str, str]]:
    """The emulator command running with `arguments`; its --print-json line."""
    env = {k: v for k, v in os.environ.items() if k != "TPSQBO_WEBHOOK_VERIFIER"}
    command = [*ENGINE, *arguments, "--port", "0", "--print-json"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line, process.communicate(timeout=10)[1]
        yield json.loads(line)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
