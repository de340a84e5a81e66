"""Schedules as cron and a consultant use them: `run --due` from another directory says
where it looked, paths given with `--due` count, a firm whose folder is gone can be taken
off, scheduling again keeps when each firm last ran, and `status` shows scheduled firms."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from tpsqbo_engine.cli import main
from tpsqbo_engine.fleet.coord import Coordinator, FirmRun, Schedule, now_iso
from tpsqbo_engine.fleet.local_coord import LocalCoordinator


def _fleet(root: Path, *names: str) -> Path:
    for name in names:
        config = root / name / "tpsqbo.yaml"
        config.parent.mkdir(parents=True)
        config.write_text(f"kind: firm\nfirm: {name}\n", encoding="utf-8")
    return root


def test_due_with_no_schedule_in_the_coord_file_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = _fleet(tmp_path / "fleet", "acme")
    scheduled, elsewhere = tmp_path / "a" / "fleet.db", tmp_path / "b" / "fleet.db"
    assert main(["fleet", "schedule", str(fleet), "--every", "15m", "--coord", str(scheduled)]) == 0
    out = capsys.readouterr().out
    assert f"1 firm(s) scheduled every 15m in {scheduled}" in out
    assert f"fleet run --due --coord {scheduled}" in out
    assert main(["fleet", "run", "--due", "--coord", str(elsewhere)]) == 2
    assert f"no fleet coordination file at {elsewhere}" in capsys.readouterr().err
    assert not elsewhere.exists()  # nothing made up on the way
    LocalCoordinator(elsewhere)  # there, but empty
    assert main(["fleet", "run", "--due", "--coord", str(elsewhere)]) == 2
    assert f"no firm is scheduled in {elsewhere}" in capsys.readouterr().err


def test_due_takes_the_coord_file_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = _fleet(tmp_path / "fleet", "acme")
    coord = tmp_path / "fleet.db"
    monkeypatch.setenv("TPSQBO_FLEET_COORD", str(coord))
    monkeypatch.chdir(tmp_path / "fleet")  # cron's directory is not the fleet's
    assert main(["fleet", "schedule", str(fleet), "--every", "1h"]) == 0
    [item] = LocalCoordinator(coord).schedules()
    LocalCoordinator(coord).mark_enqueued(item.firm, time.time())
    capsys.readouterr()
    assert main(["fleet", "run", "--due"]) == 0
    assert capsys.readouterr().out.startswith("0 of 1 scheduled firm(s) due; next: acme in 59m")


def test_paths_given_with_due_must_exist_and_choose_the_firms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = _fleet(tmp_path / "fleet", "acme", "zeta")
    coord = ["--coord", str(tmp_path / "fleet.db")]
    assert main(["fleet", "schedule", str(fleet / "acme"), "--every", "1h", *coord]) == 0
    assert main(["fleet", "run", str(tmp_path / "nonexistent"), "--due", *coord]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["fleet", "run", str(fleet / "zeta"), "--due", *coord]) == 2
    assert "none of the firms in" in capsys.readouterr().err
    assert [s.last for s in LocalCoordinator(tmp_path / "fleet.db").schedules()] == [0.0]


def test_a_firm_whose_folder_is_gone_can_be_taken_off_the_schedule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = _fleet(tmp_path / "fleet", "acme", "gone", "zeta")
    coord = ["--coord", str(tmp_path / "fleet.db")]
    assert main(["fleet", "schedule", str(fleet), "--every", "15m", *coord]) == 0
    shutil.rmtree(fleet / "gone")
    assert main(["fleet", "schedule", str(fleet / "gone"), "--remove", *coord]) == 0
    assert main(["fleet", "schedule", "zeta", "--remove", *coord]) == 0  # by its name
    assert main(["fleet", "schedule", "nobody", "--remove", *coord]) == 2
    assert "nobody: no such firm on the schedule" in capsys.readouterr().err
    assert [s.firm for s in LocalCoordinator(tmp_path / "fleet.db").schedules()] == ["acme"]
    assert main(["fleet", "schedule", "--list", *coord]) == 0
    [listed] = capsys.readouterr().out.splitlines()
    assert listed.split()[:5] == ["acme", "every", "15m", "due", "now"]
    assert listed.endswith(str(fleet / "acme" / "tpsqbo.yaml"))


def test_scheduling_again_keeps_when_each_firm_last_ran(coordinator: Coordinator) -> None:
    coordinator.set_schedule(Schedule("acme", "acme/tpsqbo.yaml", 900.0))
    coordinator.mark_enqueued("acme", 1234.5)
    coordinator.set_schedule(Schedule("acme", "acme/tpsqbo.yaml", 3600.0))
    coordinator.set_schedule(Schedule("zeta", "zeta/tpsqbo.yaml", 3600.0))
    assert coordinator.schedules() == [
        Schedule("acme", "acme/tpsqbo.yaml", 3600.0, 1234.5),
        Schedule("zeta", "zeta/tpsqbo.yaml", 3600.0, 0.0),
    ]


def test_status_shows_scheduled_firms_never_run_and_overdue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = _fleet(tmp_path / "fleet", "acme", "zeta")
    coord = tmp_path / "fleet.db"
    assert main(["fleet", "schedule", str(fleet), "--every", "60", "--coord", str(coord)]) == 0
    weeks_ago = "2026-01-01T00:00:00.000+00:00"
    old = FirmRun("acme", "c", "completed", started=weeks_ago, finished=weeks_ago)
    assert LocalCoordinator(coord).record(old)
    capsys.readouterr()
    assert main(["fleet", "status", "--coord", str(coord), "--format", "json"]) == 0
    acme, zeta = json.loads(capsys.readouterr().out)
    assert (acme["status"], acme["every"], acme["overdue"]) == ("completed", 60.0, True)
    assert (zeta["firm"], zeta["status"], zeta["every"]) == ("zeta", "never run", 60.0)
    assert main(["fleet", "status", str(fleet / "zeta"), "--coord", str(coord)]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.split()[:3] == ["zeta", "never", "run"] and "every 1m" in line
    fresh = FirmRun("acme", "c", "completed", started=now_iso(), finished=now_iso())
    assert LocalCoordinator(coord).record(fresh)
    assert main(["fleet", "status", "--coord", str(coord)]) == 0
    assert "OVERDUE" not in capsys.readouterr().out.splitlines()[0]


def test_status_of_paths_lists_their_firms_run_or_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = _fleet(tmp_path / "fleet", "acme", "newcomer")
    coord = tmp_path / "fleet.db"
    done = FirmRun("acme", "c", "completed", started=now_iso(), finished=now_iso())
    assert LocalCoordinator(coord).record(done)
    assert main(["fleet", "status", "--coord", str(coord), "--format", "json"]) == 0
    assert [r["firm"] for r in json.loads(capsys.readouterr().out)] == ["acme"]
    assert main(["fleet", "status", str(fleet), "--coord", str(coord), "--format", "json"]) == 0
    acme, newcomer = json.loads(capsys.readouterr().out)
    assert (acme["status"], acme["every"], acme["overdue"]) == ("completed", None, False)
    assert (newcomer["firm"], newcomer["status"]) == ("newcomer", "never run")
    assert newcomer["config"] == str((fleet / "newcomer" / "tpsqbo.yaml").resolve())
