"""The saved QBO connection: tokens in a 0600 file, replaced atomically, refreshed by one
process at a time.

Intuit rotates refresh tokens: every refresh may return a new one and the old one then fails
with `invalid_grant`. So each refresh happens under a file lock, re-reads the file first (a
concurrent run may already have refreshed), and saves the new token before using it.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from tpsqbo_engine.connectors.qbo.errors import ReconnectRequired
from tpsqbo_engine.private import private_dir, write_private

EXPIRY_MARGIN = 60.0


@dataclass(frozen=True)
class Tokens:
    realm_id: str
    api_base: str
    environment: str
    client_id: str
    access_token: str
    access_expires_at: float
    refresh_token: str
    refresh_expires_at: float

    def access_valid(self, now: float | None = None) -> bool:
        return (now or time.time()) < self.access_expires_at - EXPIRY_MARGIN

    def renewed(
        self, access: str, expires_in: float, refresh: str, refresh_expires_in: float
    ) -> Tokens:
        now = time.time()
        return replace(
            self,
            access_token=access,
            access_expires_at=now + expires_in,
            refresh_token=refresh,
            refresh_expires_at=now + refresh_expires_in,
        )

    def __repr__(self) -> str:  # tokens never reach logs or tracebacks
        return f"Tokens(realm_id={self.realm_id!r}, api_base={self.api_base!r}, <secrets hidden>)"


class TokenStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Tokens:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return Tokens(**data)
        except FileNotFoundError:
            raise ReconnectRequired(f"no saved connection at {self.path}") from None
        except (ValueError, TypeError):
            raise ReconnectRequired(f"the saved connection at {self.path} is unreadable") from None

    def save(self, tokens: Tokens) -> None:
        # 0600 from the first byte, fsynced, then renamed over the old file: a concurrent
        # reader sees the old tokens or the new ones, never half a file.
        write_private(self.path, json.dumps(asdict(tokens)))

    @contextmanager
    def lock(self) -> Iterator[None]:
        private_dir(self.path.parent)
        lock_path = self.path.with_name(f"{self.path.name}.lock")
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
            os.close(descriptor)
