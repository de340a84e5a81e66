"""Every benchmark in bench/ still runs, on inputs small enough for the suite: a change to
the engine that breaks one (a field it reads, a record shape it expects) fails here, not on
the day someone measures. What the numbers are is the benchmarks' business, not this test's;
that each prints its measures and its targets is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"

SMALL_RUNS = {
    "plan": (
        ["--firm", "large:20", "--state-firm", "large:20"],
        ("planner / hand-written:", "state statements per record written:"),
    ),
    "planner_work": (
        ["--firm", "large:20", "--runs", "1"],
        ("now / before:", "the rest: the planner"),
    ),
    "sync": (
        ["--firm", "large:20", "--limits", "scale=1000", "--separate-processes"],
        ("initial sync:", "unchanged re-sync:", "peak memory"),
    ),
    "qbo_client": (
        ["--invoices", "60", "--scale", "500", "--strict-invoices", "60"],
        ("engine (batches of 30):", "engine vs baseline:", "DocNumber lookup"),
    ),
    "validate": (["--runs", "1", "--scale", "1"], ("ratio engine / baseline:",)),
    "watch": (
        ["--payments", "3", "--seconds", "2", "--clients", "5"],
        ("latency payment -> TPS:", "per payment (target < 1"),
    ),
}


@pytest.mark.parametrize("script", sorted(SMALL_RUNS))
def test_the_benchmark_runs_on_a_small_input(script: str) -> None:
    arguments, expected = SMALL_RUNS[script]
    finished = subprocess.run(
        [sys.executable, str(BENCH / f"{script}.py"), *arguments],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    for measure in expected:
        assert measure in finished.stdout, finished.stdout[-3000:]
