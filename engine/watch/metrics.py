"""What `/metrics` serves, in the Prometheus text format (version 0.0.4): runs by trigger
and status, records by status, QBO API calls, time spent waiting on the rate limiter, the
last successful run, and webhook deliveries by result. Written by the run loop, read by
the HTTP threads, so every access holds the lock."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Metrics:
    runs: Counter[tuple[str, str]] = field(default_factory=Counter)  # (trigger, status)
    records: Counter[str] = field(default_factory=Counter)
    deliveries: Counter[str] = field(default_factory=Counter)  # accepted/duplicate/rejected
    notifications: int = 0
    api_calls: int = 0
    limiter_wait: float = 0.0
    last_success: float = 0.0  # unix time
    last_latency: float = 0.0  # first webhook of a run -> the run's end, seconds
    running: bool = False
    last_error: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def delivery(self, result: str, notifications: int = 0) -> None:
        with self._lock:
            self.deliveries[result] += 1
            self.notifications += notifications

    def run_finished(
        self, trigger: str, status: str, counts: dict[str, int], finished_at: float
    ) -> None:
        with self._lock:
            self.runs[(trigger, status)] += 1
            self.records.update({k: v for k, v in counts.items() if v})
            if status in ("completed", "partial"):
                self.last_success = finished_at
                self.last_error = ""

    def calls(self, api_calls: int, limiter_wait: float) -> None:
        with self._lock:
            self.api_calls, self.limiter_wait = api_calls, limiter_wait

    def set(self, **values: object) -> None:
        with self._lock:
            for name, value in values.items():
                setattr(self, name, value)

    def text(self) -> str:
        with self._lock:
            lines = _family("tpsqbo_runs_total", "counter", "Sync runs by trigger and status.")
            lines += [
                f'tpsqbo_runs_total{{trigger="{t}",status="{s}"}} {n}'
                for (t, s), n in sorted(self.runs.items())
            ]
            lines += _family("tpsqbo_records_total", "counter", "Records by history status.")
            lines += [
                f'tpsqbo_records_total{{status="{s}"}} {n}' for s, n in sorted(self.records.items())
            ]
            lines += _family(
                "tpsqbo_webhook_deliveries_total", "counter", "Webhook deliveries by result."
            )
            lines += [
                f'tpsqbo_webhook_deliveries_total{{result="{r}"}} {n}'
                for r, n in sorted(self.deliveries.items())
            ]
            for name, kind, about, value in (
                ("tpsqbo_webhook_notifications_total", "counter", "Changes announced.",
                 self.notifications),
                ("tpsqbo_qbo_api_calls_total", "counter", "QBO API calls made.", self.api_calls),
                ("tpsqbo_limiter_wait_seconds_total", "counter",
                 "Seconds waited for the QBO rate limiter.", self.limiter_wait),
                ("tpsqbo_last_success_timestamp_seconds", "gauge",
                 "Unix time the last run completed.", self.last_success),
                ("tpsqbo_webhook_latency_seconds", "gauge",
                 "First webhook of the last webhook run to the run's end.", self.last_latency),
                ("tpsqbo_run_in_progress", "gauge", "1 while a run is in flight.",
                 int(self.running)),
            ):  # fmt: skip
                lines += [*_family(name, kind, about), f"{name} {_number(value)}"]
            return "\n".join(lines) + "\n"


def _family(name: str, kind: str, about: str) -> list[str]:
    return [f"# HELP {name} {about}", f"# TYPE {name} {kind}"]


def _number(value: float) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)
