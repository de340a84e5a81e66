"""The run loop: one firm, one run at a time, driven by webhooks and a schedule.

Triggers, in order of precedence when several are due:
  webhook   a debounce window of announced QBO changes closed
  reconcile the full check is due (`--reconcile`): open A/R compared, result in history
  sweep     the periodic CDC read (`--poll`), for changes whose webhook never came
  tps-poll  TPS sends nothing: its `updated_since` is asked (`--tps-poll`), and a run
            follows only if something changed
  start     one incremental run on start, for what happened while nothing was watching

Every sync run is the ordinary incremental sync: CDC and the TPS cursors decide what is
read, so a webhook lost or delivered twice changes only how soon a change lands. The loop
runs in the thread that opened the state (SQLite connections stay in their thread); the
HTTP server runs on its own threads and only queues.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tpsqbo_engine.errors import EngineError, UsageError
from tpsqbo_engine.sync.lock import RunLocked
from tpsqbo_engine.watch.app import MAX_BODY
from tpsqbo_engine.watch.debounce import Debouncer, Due
from tpsqbo_engine.watch.listcache import ListCachingClient
from tpsqbo_engine.watch.metrics import Metrics

if TYPE_CHECKING:
    from tpsqbo_engine.sync.session import Session

VERIFIER_ENV = "TPSQBO_WEBHOOK_VERIFIER"
LOCKED_RETRY = 2.0  # seconds before trying again when another run holds the lock
log = logging.getLogger("tpsqbo_engine.watch")


@dataclass(frozen=True)
class WatchOptions:
    config: Path
    host: str = "127.0.0.1"
    port: int = 8780
    debounce: float = 3.0
    poll: float = 900.0
    tps_poll: float = 300.0
    reconcile: float = 86400.0  # 0: off
    verifier_env: str = VERIFIER_ENV


@dataclass
class Watcher:
    options: WatchOptions
    open_session: Callable[[Path], Session]
    metrics: Metrics = field(default_factory=Metrics)
    stopping: threading.Event = field(default_factory=threading.Event)
    ready: threading.Event = field(default_factory=threading.Event)
    port: int = 0
    failures: int = 0

    def __post_init__(self) -> None:
        self.verifier = os.environ.get(self.options.verifier_env, "")
        if not self.verifier:
            raise UsageError(
                f"no webhook verifier token in {self.options.verifier_env}",
                hint="copy the verifier token from the app's Webhooks page in the Intuit "
                f"developer portal into {self.options.verifier_env}",
            )
        self.debouncer = Debouncer(self.options.debounce)
        now = time.monotonic()
        self.due = {
            "start": now,
            "reconcile": now + self.options.reconcile if self.options.reconcile else math.inf,
            "sweep": now + self.options.poll if self.options.poll else math.inf,
            "tps-poll": now + self.options.tps_poll if self.options.tps_poll else math.inf,
        }

    def stop(self) -> None:
        """Finishes the run in flight, then returns from `serve` (SIGTERM calls this)."""
        self.stopping.set()
        self.debouncer.wake()

    def health(self) -> dict[str, Any]:
        return {
            "ok": self.failures < 3,
            "running": self.metrics.running,
            "last_success": self.metrics.last_success,
            "last_error": self.metrics.last_error,
        }

    def serve(self) -> int:
        """Opens the firm, serves webhooks and runs the loop until `stop`; answers 0."""
        from waitress.server import create_server

        from tpsqbo_engine.watch.app import WatchApp

        session = self.open_session(self.options.config)
        session.qbo = ListCachingClient.wrapping(session.qbo, self.options.poll or 900.0)
        if session.phase == "initial":
            raise UsageError(
                "the watcher runs incremental syncs; this firm has had no sync yet",
                hint="run the initial sync by hand first (checklist, backup, plan, sync)",
            )
        app = WatchApp(
            self.verifier, self.debouncer, self.metrics, session.qbo.realm_id, self.health
        )
        server = create_server(
            app,
            host=self.options.host,
            port=self.options.port,
            threads=4,
            max_request_body_size=MAX_BODY,
        )
        self.port = int(getattr(server, "effective_port", self.options.port))
        closing = threading.Event()
        thread = threading.Thread(
            target=_serve, args=(server, closing), name="watch-http", daemon=True
        )
        thread.start()
        log.info("watching", extra={"event": "watch.start", "port": self.port})
        self.ready.set()
        try:
            self._loop(session)
        finally:
            closing.set()
            server.close()
            thread.join(timeout=5)
            log.info("stopped", extra={"event": "watch.stop"})
        return 0

    def _loop(self, session: Session) -> None:
        while not self.stopping.is_set():
            trigger, webhook = self._next()
            if trigger is None:
                self.debouncer.wait(self._sleep())
                continue
            self._run(session, trigger, webhook)

    def _next(self) -> tuple[str | None, Due | None]:
        webhook = self.debouncer.take_due()
        if webhook is not None:
            return "webhook", webhook
        now = time.monotonic()
        for trigger in ("start", "reconcile", "sweep", "tps-poll"):
            if self.due[trigger] <= now:
                return trigger, None
        return None, None

    def _sleep(self) -> float:
        upcoming = [*self.due.values(), self.debouncer.next_due() or math.inf]
        return max(0.01, min(1.0, min(upcoming) - time.monotonic()))

    def _run(self, session: Session, trigger: str, webhook: Due | None) -> None:
        from tpsqbo_engine.watch.runs import run_trigger

        self.metrics.set(running=True)
        if isinstance(session.qbo, ListCachingClient):
            if trigger in ("start", "sweep", "reconcile"):
                session.qbo.invalidate()  # whole now and then: the cache cannot drift for long
            else:
                session.qbo.new_run()
        try:
            outcome = run_trigger(session, trigger)
        except RunLocked as busy:
            log.info(
                "another run holds the lock", extra={"event": "run.locked", "holder": busy.holder}
            )
            self._retry(trigger, webhook, LOCKED_RETRY)
            return
        except EngineError as error:
            self.failures += 1
            self.metrics.run_finished(trigger, "failed", {}, time.time())
            self.metrics.set(last_error=error.message)
            log.error(
                "run failed: %s", error.message, extra={"event": "run.failed", "trigger": trigger}
            )
            self._retry(trigger, webhook, min(30.0 * 2**self.failures, self.options.poll or 900.0))
            return
        finally:
            self.metrics.set(running=False)
        self.failures = 0
        self._finished(session, trigger, webhook, outcome)

    def _retry(self, trigger: str, webhook: Due | None, after: float) -> None:
        if webhook is not None:
            self.debouncer.requeue(webhook, after)
        self.due[trigger if trigger != "webhook" else "sweep"] = time.monotonic() + after

    def _finished(self, session: Session, trigger: str, webhook: Due | None, outcome: Any) -> None:
        now = time.monotonic()
        self.due["start"] = math.inf
        if trigger == "reconcile":
            self.due["reconcile"] = now + self.options.reconcile
        if outcome.synced:  # any sync read CDC and TPS: the sweep and the TPS poll start over
            self.due["sweep"] = now + self.options.poll if self.options.poll else math.inf
        if outcome.synced or trigger == "tps-poll":
            self.due["tps-poll"] = (
                now + self.options.tps_poll if self.options.tps_poll else math.inf
            )
        stats = session.qbo.stats
        # A Limiter counts the seconds it waited; other budgets (a fleet's) may not.
        waited = float(getattr(session.qbo.limiter, "waited", 0.0))
        self.metrics.calls(stats.calls, waited)
        if outcome.run_id:
            self.metrics.run_finished(trigger, outcome.status, outcome.counts, time.time())
        if webhook is not None:
            self.metrics.set(last_latency=now - webhook.first_at)
        changes = webhook.changes if webhook else 0
        log.info(
            "run %s",
            outcome.status or "skipped",
            extra={"event": "run.finished", "trigger": trigger, "run": outcome.run_id,
                   "counts": outcome.counts, "changes": changes},
        )  # fmt: skip


def _serve(server: Any, closing: threading.Event) -> None:
    """The HTTP server's loop. Closing the server from the watcher's thread closes the
    sockets the loop may be waiting on (EBADF): expected then, a failure at any other time."""
    try:
        server.run()
    except (OSError, ValueError):
        if not closing.is_set():
            raise
