"""`undo`'s exit code through the CLI: 1 whenever the books are not as they were before the
run, also when every write was taken back but QBO is not back to the backup taken before
the initial sync; the text and JSON say so and name what differs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tpsqbo_engine import cli
from tpsqbo_engine.sync.demo import demo_firm

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli.app, list(args))
    return result.exit_code, result.output


def _initial_sync(config: str) -> int:
    assert _run("backup", "-c", config)[0] == 0
    code, out = _run("sync", "-c", config)
    assert code == 0, out
    code, out = _run("history", "-c", config, "--format", "json")
    (run,) = [r for r in json.loads(out) if r["phase"] == "initial"]
    return int(run["id"])


def test_an_undo_back_to_the_backup_exits_0(tmp_path: Path) -> None:
    with demo_firm(tmp_path) as (session, _, _):
        config = str(session.config.path)
        run = _initial_sync(config)
        code, out = _run("undo", "-c", config, "--run", str(run))
        assert code == 0, out
        assert "QBO is back to the backup" in out and "not back to the backup" not in out


@pytest.mark.parametrize("output", ["text", "json"])
def test_an_undo_whose_backup_check_finds_a_difference_exits_1_naming_it(
    tmp_path: Path, output: str
) -> None:
    """Every write of the run is taken back, but a customer entered in QBO since the
    backup is still there: the books are not as they were."""
    with demo_firm(tmp_path) as (session, qbo, _):
        config = str(session.config.path)
        run = _initial_sync(config)
        since = qbo.company.create("Customer", {"DisplayName": "Entered since"})["Id"]

        code, out = _run("undo", "-c", config, "--run", str(run), "--format", output)
        assert code == 1, out
        difference = f"Customer: not in the backup: {since}"
        if output == "json":
            said = json.loads(out)
            assert said["complete"] is True  # each write was taken back ...
            assert said["back_to_backup"] is False and said["ok"] is False  # ... not the books
            assert said["backup_check"][0].startswith("QBO differs from the backup")
            assert difference in said["backup_check"]
            assert any("not back to the backup" in line for line in said["not_as_before"])
        else:
            assert "QBO differs from the backup" in out and difference in out
            assert f"the books are not back to the backup taken before run {run}" in out
            assert "not wholly taken back" not in out
