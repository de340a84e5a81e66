"""What every compatibility check shares: the emulator it runs against, and its tally.

The checks run in a scratch virtualenv that holds the third-party client, not this project:
they start `tpsqbo-engine emulate qbo --print-json` (the command named on their command
line), point the client at it by base URL and OAuth discovery/token URL only, and print one
line per check and `N passed, N failed` at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# The emulator speaks plain http on loopback; requests-oauthlib refuses that unless told.
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")


class Tally:
    def __init__(self) -> None:
        self.results: list[tuple[str, bool, str]] = []

    def check(self, name: str, action: Callable[[], Any]) -> Any:
        try:
            value = action()
            self.results.append((name, True, ""))
            return value
        except Exception as exc:  # a failed check is reported, not raised
            self.results.append((name, False, f"{type(exc).__name__}: {str(exc)[:300]}"))
            return None

    def report(self) -> int:
        for name, ok, detail in self.results:
            print(f"{'ok  ' if ok else 'FAIL'} {name}{' - ' + detail if detail else ''}")
        failed = sum(not ok for _, ok, _ in self.results)
        print(f"{len(self.results) - failed} passed, {failed} failed")
        return 1 if failed else 0


def expect(condition: bool, what: str = "unexpected value") -> bool:
    if not condition:
        raise AssertionError(what)
    return condition


def expect_refused(action: Callable[[], object]) -> None:
    try:
        action()
    except Exception:
        return
    raise AssertionError("QBO would refuse this")


def discovery(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:  # loopback only
        loaded: dict[str, Any] = json.loads(response.read())
    return loaded


@contextmanager
def emulator(seed: str = "sandbox-us") -> Iterator[dict[str, str]]:
    engine = sys.argv[1] if len(sys.argv) > 1 else "tpsqbo-engine"
    process = subprocess.Popen(
        [engine, "emulate", "qbo", "--port", "0", "--print-json", "--seed", seed],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(timeout=10)
