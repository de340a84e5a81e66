"""bench/fleet.py gives up on a round whose firms never all finish, and says so."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tpsqbo_engine.fleet.coord import FirmRun

BENCH = Path(__file__).resolve().parents[2] / "bench"


class _Stalled:
    """One firm finished, the other stuck running forever (its worker died)."""

    def runs(self) -> list[FirmRun]:
        return [FirmRun("a", "a.yaml", "completed"), FirmRun("b", "b.yaml", "running")]


def test_a_round_that_never_finishes_fails_at_its_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.delitem(sys.modules, "fleet", raising=False)
    import fleet  # bench/fleet.py

    log = tmp_path / "worker-1.log"
    log.write_text("early line\nworker lost: SIGKILL\n")
    with pytest.raises(SystemExit) as exited:
        fleet.wait_for_runs(_Stalled(), 2, 0.3, log)
    message = str(exited.value.code)
    assert "FAILED: 1 of 2 firms finished within 0 s" in message
    assert message.endswith("worker lost: SIGKILL")
