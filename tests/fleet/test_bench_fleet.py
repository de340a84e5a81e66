"""bench/fleet.py gives up on a round whose firms never all finish, or whose worker never
starts, and says so."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from tpsqbo_engine.fleet.coord import FirmRun

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.delitem(sys.modules, "fleet", raising=False)
    import fleet  # bench/fleet.py

    return fleet


class _Stalled:
    """One firm finished, the other stuck running forever (its worker died)."""

    def runs(self) -> list[FirmRun]:
        return [FirmRun("a", "a.yaml", "completed"), FirmRun("b", "b.yaml", "running")]


def test_a_round_that_never_finishes_fails_at_its_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = _bench(monkeypatch)
    log = tmp_path / "worker-1.log"
    log.write_text("early line\nworker lost: SIGKILL\n")
    with pytest.raises(SystemExit) as exited:
        fleet.wait_for_runs(_Stalled(), 2, 0.3, log)
    message = str(exited.value.code)
    assert "FAILED: 1 of 2 firms finished within 0 s" in message
    assert message.endswith("worker lost: SIGKILL")


class _Deaf:
    """A Celery app whose workers never answer a ping."""

    class control:  # what a Celery app calls it
        @staticmethod
        def ping(timeout: float) -> list[object]:
            time.sleep(timeout)
            return []


def test_a_worker_that_dies_at_start_fails_the_bench_with_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = _bench(monkeypatch)
    log = tmp_path / "worker-1.log"
    log.write_text("ImportError: no module named celery\n")
    dead = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    dead.wait()
    with pytest.raises(SystemExit) as exited:
        fleet.await_worker(_Deaf(), dead, log)
    message = str(exited.value.code)
    assert "the fleet worker exited with status 3" in message
    assert message.endswith("no module named celery")


def test_a_worker_that_never_answers_fails_the_bench_in_bounded_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = _bench(monkeypatch)
    monkeypatch.setattr(fleet, "WORKER_START", 1.0)
    silent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    started = time.monotonic()
    try:
        with pytest.raises(SystemExit, match="did not answer a ping within 1 s"):
            fleet.await_worker(_Deaf(), silent, tmp_path / "none.log")
    finally:
        silent.kill()
        silent.wait()
    assert time.monotonic() - started < 5


def test_hosted_companies_answer_after_the_latency_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bench/fleet.py's --latency: every request to a hosted QBO company waits that long."""
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.delitem(sys.modules, "hosting", raising=False)
    import hosting  # bench/hosting.py

    from tpsqbo_engine.sync.config import load_config
    from tpsqbo_engine.sync.session import Session

    tps = {"base_url": "http://127.0.0.1:9", "token": "unused"}
    times = []
    for faults in ("", "slow=0.4"):
        with hosting.hosted("qbo", 1, "real", faults) as [company]:
            config, env = hosting.write_firm(tmp_path / faults, "late", company, tps, "real")
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            qbo = Session(load_config(config)).qbo
            qbo.company_info()  # the access token refreshed first
            started = time.monotonic()
            assert qbo.company_info()["CompanyName"]
            times.append(time.monotonic() - started)
    assert times[0] < 0.4 <= times[1]
