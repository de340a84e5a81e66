"""The run loop's decisions, with the runs themselves stood in for: a busy lock waits and
keeps the webhook's changes, failures turn /healthz red, schedules come due in order."""

from __future__ import annotations

import math
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tpsqbo_engine.errors import EngineError
from tpsqbo_engine.sync.lock import RunLocked
from tpsqbo_engine.watch import runs
from tpsqbo_engine.watch.debounce import Due
from tpsqbo_engine.watch.watcher import LOCKED_RETRY, Watcher, WatchOptions


def _session() -> Any:
    return SimpleNamespace(qbo=SimpleNamespace(stats=SimpleNamespace(calls=5), limiter=None))


@pytest.fixture
def watcher(monkeypatch: pytest.MonkeyPatch) -> Watcher:
    monkeypatch.setenv("TPSQBO_WEBHOOK_VERIFIER", "x")
    options = WatchOptions(Path("tpsqbo.yaml"), poll=900, tps_poll=300, reconcile=0)
    return Watcher(options, lambda _: _session())


def test_a_busy_lock_keeps_the_changes_and_tries_again_soon(
    watcher: Watcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    def busy(session: Any, trigger: str) -> Any:
        raise RunLocked("host:1 since then")

    monkeypatch.setattr(runs, "run_trigger", busy)
    due = Due("realm", 4, time.monotonic())
    watcher._run(_session(), "webhook", due)
    assert watcher.due["sweep"] <= time.monotonic() + LOCKED_RETRY
    assert watcher.health()["ok"] and not watcher.metrics.running
    assert watcher.debouncer.take_due() is None  # not retried at once
    watcher.debouncer.window = -LOCKED_RETRY  # as if the retry delay had passed
    again = watcher.debouncer.take_due()
    assert again is not None and again.changes == 4  # nothing lost


def test_three_failed_runs_turn_health_red_and_a_success_green_again(
    watcher: Watcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(session: Any, trigger: str) -> Any:
        raise EngineError("QBO asks to reconnect")

    monkeypatch.setattr(runs, "run_trigger", failing)
    for _ in range(3):
        watcher._run(_session(), "sweep", None)
    assert not watcher.health()["ok"] and watcher.health()["last_error"] == "QBO asks to reconnect"
    assert watcher.metrics.runs[("sweep", "failed")] == 3
    monkeypatch.setattr(
        runs, "run_trigger", lambda s, t: runs.Outcome(True, 9, "completed", {"Successful": 2})
    )
    watcher._run(_session(), "sweep", None)
    assert watcher.health()["ok"] and watcher.metrics.records["Successful"] == 2
    assert watcher.metrics.api_calls == 5 and watcher.due["start"] == math.inf


def test_triggers_come_due_in_order_and_off_means_never(watcher: Watcher) -> None:
    assert watcher._next() == ("start", None)
    watcher.due["start"] = math.inf
    assert watcher._next() == (None, None) and watcher.due["reconcile"] == math.inf
    watcher.due["tps-poll"] = watcher.due["sweep"] = 0
    assert watcher._next()[0] == "sweep"
    watcher.debouncer.window = 0
    watcher.debouncer.add("realm", ["k"])
    trigger, due = watcher._next()
    assert trigger == "webhook" and due is not None and due.changes == 1


def test_the_watcher_never_runs_an_initial_sync() -> None:
    with pytest.raises(runs.BackToInitial, match="initial sync was undone"):
        runs.run_trigger(SimpleNamespace(phase="initial"), "webhook")  # type: ignore[arg-type]
