"""One interval grammar for `watch` and `fleet schedule --every`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tpsqbo_engine.cli import main
from tpsqbo_engine.durations import interval
from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.fleet.local_coord import LocalCoordinator


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        *[("90", 90), ("90s", 90), ("15 m", 900), ("2H", 7200), ("1.5d", 129600)],
        *[("hourly", 3600), ("daily", 86400), ("off", 0)],
    ],
)
def test_every_documented_interval(text: str, seconds: float) -> None:
    assert interval(text, "--poll") == seconds


@pytest.mark.parametrize("text", ["", "0", "-5m", "15 minutes", "m", "soon", "1e3s"])
def test_a_bad_interval_names_the_option(text: str) -> None:
    with pytest.raises(UsageError, match=f"--poll '{text}' is not an interval"):
        interval(text, "--poll")


def test_off_only_where_the_option_can_be_switched_off() -> None:
    with pytest.raises(UsageError, match="not an interval") as refused:
        interval("off", "--every", allow_off=False)
    assert "or off" not in (refused.value.hint or "")


def test_fleet_schedule_takes_the_watch_intervals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "alpha" / "tpsqbo.yaml"
    config.parent.mkdir()
    config.write_text("kind: firm\n", encoding="utf-8")
    coord = ["--coord", str(tmp_path / "fleet.db")]
    assert main(["fleet", "schedule", str(config), "--every", "daily", *coord]) == 0
    assert [s.every for s in LocalCoordinator(tmp_path / "fleet.db").schedules()] == [86400]
    assert main(["fleet", "schedule", str(config), "--every", "90", *coord]) == 0
    assert [s.every for s in LocalCoordinator(tmp_path / "fleet.db").schedules()] == [90]
    assert main(["fleet", "schedule", str(config), "--every", "off", *coord]) == 2
    assert "--every 'off' is not an interval" in capsys.readouterr().err
