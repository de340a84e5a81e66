"""A run that wrote nothing still shows its QBO calls, without a stray separator."""

from __future__ import annotations

from tpsqbo_engine.fleet.coord import FirmRun
from tpsqbo_engine.fleet.views import line


def test_calls_without_counts() -> None:
    quiet = FirmRun("alpha", "a.yaml", "completed", counts={"Successful": 0}, calls=2)
    assert line(quiet).endswith("attempt 1 (2 QBO calls, 0 throttled)")
    busy = FirmRun("alpha", "a.yaml", "completed", counts={"Successful": 3}, calls=2)
    assert line(busy).endswith("attempt 1 (3 Successful; 2 QBO calls, 0 throttled)")
