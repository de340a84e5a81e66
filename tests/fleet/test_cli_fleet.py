"""The fleet's command line: what a fleet is, schedules, status, usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tpsqbo_engine.cli import main
from tpsqbo_engine.cli_fleet import parse_duration
from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.fleet.firms import load_fleet

from .conftest import Firms


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("90s", 90),
        ("15m", 900),
        ("2h", 7200),
        ("1d", 86400),
        ("hourly", 3600),
        ("daily", 86400),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_schedule_help_names_every_interval_it_takes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # one line per option: the words are not wrapped
    assert main(["fleet", "schedule", "--help"]) == 0
    [line] = [line for line in capsys.readouterr().out.splitlines() if "--every" in line]
    for form in ("seconds (90)", "90s", "15m", "2h", "1d", "hourly", "daily"):
        assert form in line


@pytest.mark.parametrize("text", ["", "0", "-5m", "15 minutes", "m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(UsageError, match="not an interval"):
        parse_duration(text)


def _firm(folder: Path) -> Path:
    folder.mkdir(parents=True)
    config = folder / "tpsqbo.yaml"
    config.write_text("kind: firm\n", encoding="utf-8")
    return config


def test_a_fleet_is_a_folder_of_firm_folders_or_a_list_of_configs(tmp_path: Path) -> None:
    one, two = _firm(tmp_path / "fleet" / "one"), _firm(tmp_path / "fleet" / "two")
    other = tmp_path / "elsewhere.yaml"
    other.write_text("kind: firm\n", encoding="utf-8")
    firms = load_fleet([tmp_path / "fleet", other, one])  # one given twice: synced once
    assert [(f.name, f.config) for f in firms] == [
        ("one", one.resolve()),
        ("two", two.resolve()),
        ("elsewhere", other.resolve()),
    ]


def test_fleet_mistakes_are_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no firm configs"):
        load_fleet([tmp_path / "empty"])
    with pytest.raises(UsageError, match="no such file"):
        load_fleet([tmp_path / "missing"])
    with pytest.raises(UsageError, match="no firms given"):
        load_fleet([])
    _firm(tmp_path / "a" / "same")
    _firm(tmp_path / "b" / "same")
    with pytest.raises(UsageError, match="two firms are named 'same'"):
        load_fleet([tmp_path / "a", tmp_path / "b"])


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fleet", "worker", "--broker", ""]) == 2
    assert "needs a broker" in capsys.readouterr().err
    coord = ["--coord", str(tmp_path / "f.db")]
    assert main(["fleet", "status", *coord, "--format", "yaml"]) == 2
    assert main(["fleet", "status", *coord]) == 0
    assert "no runs yet" in capsys.readouterr().out


def test_schedule_then_run_the_due_firms(
    firms: Firms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    firm = firms.make("alpha")
    coord = ["--coord", str(tmp_path / "fleet.db")]
    assert main(["fleet", "schedule", str(firms.root), "--every", "1h", *coord]) == 0
    assert "1 firm(s) scheduled every 1h" in capsys.readouterr().out
    assert main(["fleet", "run", "--due", "--backup-first", "--format", "json", *coord]) == 0
    [run] = json.loads(capsys.readouterr().out)
    assert (run["firm"], run["status"]) == ("alpha", "completed")
    assert run["config"] == str(firm.config.resolve())
    # Ran just now: not due again for an hour.
    assert main(["fleet", "run", "--due", "--format", "json", *coord]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["fleet", "schedule", str(firm.config), "--remove", *coord]) == 0
    assert "1 firm(s) taken off" in capsys.readouterr().out
    assert main(["fleet", "status", *coord]) == 0
    line = capsys.readouterr().out
    assert line.startswith("alpha") and "completed" in line and "Successful" in line
    assert "QBO calls, 0 throttled" in line
