"""A pre-sync checklist that blocks the initial sync is recorded failed at once, since
waiting cannot mend it, embedded and on workers, and `fleet status` says why it was not
retried; a connection error is still retried."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from tpsqbo_engine.cli import main

from .conftest import Firms, Workers

NOT_RETRIED = "attempt 1 (not retried: the pre-sync checklist blocks the initial sync): "


def _closed_port() -> int:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        return int(free.getsockname()[1])


def _unreachable_tps(config: Path) -> None:
    """Its TPS moved away: every call is refused (a connection error)."""
    text = config.read_text(encoding="utf-8")
    start = text.index("base_url: '") + len("base_url: '")
    end = text.index("'", start)
    config.write_text(
        text[:start] + f"http://127.0.0.1:{_closed_port()}" + text[end:], encoding="utf-8"
    )


def test_embedded_a_blocking_checklist_is_not_retried_a_connection_error_is(
    firms: Firms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    firms.make("alpha")  # never backed up: the checklist asks for a recent backup
    _unreachable_tps(firms.make("bravo").config)
    coord = str(tmp_path / "fleet.db")
    argv = ["fleet", "run", str(firms.root), "--coord", coord, "--attempts", "2"]
    code = main([*argv, "--backoff", "0.5", "--format", "json"])
    runs = {r["firm"]: r for r in json.loads(capsys.readouterr().out)}
    assert code == 1
    alpha, bravo = runs["alpha"], runs["bravo"]
    assert (alpha["status"], alpha["attempt"], alpha["permanent"]) == ("failed", 1, True)
    assert alpha["not_retried"] == "the pre-sync checklist blocks the initial sync"
    assert "check(s) failed (recent-backup)" in alpha["error"]
    assert f"checklist --config {alpha['config']}" in alpha["error"]
    assert (bravo["status"], bravo["attempt"], bravo["permanent"]) == ("failed", 2, False)
    assert main(["fleet", "status", "--coord", coord]) == 0
    text = capsys.readouterr().out
    assert f"alpha                    failed    {NOT_RETRIED}" in text
    assert "bravo                    failed    attempt 2: " in text


def test_on_workers_a_blocking_checklist_is_not_retried(
    firms: Firms, workers: Workers, capsys: pytest.CaptureFixture[str]
) -> None:
    firms.make("alpha")
    workers.start("w1", "--busy-wait", "0.5", "--lease-ttl", "3")
    argv = ["fleet", "run", str(firms.root), "--broker", workers.broker, "--attempts", "3"]
    started = time.monotonic()
    code = main([*argv, "--backoff", "30", "--timeout", "90", "--format", "json"])
    elapsed = time.monotonic() - started
    [run] = json.loads(capsys.readouterr().out)
    assert code == 1
    assert (run["status"], run["attempt"], run["permanent"]) == ("failed", 1, True)
    assert elapsed < 30  # retried, it would have waited 30 s and then 60 s
    assert main(["fleet", "status", "--broker", workers.broker]) == 0
    assert f"alpha                    failed    {NOT_RETRIED}" in capsys.readouterr().out
