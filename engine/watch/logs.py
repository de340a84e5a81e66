"""The watcher's logs: plain lines for a terminal, or one JSON object per line
(`--log-format json`) for a log collector. Fields passed as `extra=` land as keys; secrets
are never passed to the logger in the first place."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(log_format: str, stream: TextIO | None = None) -> logging.Handler:
    """Sends the engine's and waitress's logs to `stream` (stderr) in the chosen format."""
    if log_format not in ("text", "json"):
        raise ValueError(f"--log-format is text or json, not {log_format!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    )
    for name in ("tpsqbo_engine", "waitress"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return handler


def unconfigure(handler: logging.Handler) -> None:
    for name in ("tpsqbo_engine", "waitress"):
        logging.getLogger(name).removeHandler(handler)
