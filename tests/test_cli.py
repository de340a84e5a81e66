"""The command line: exit codes, formats, help on every command, and the error boundary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tpsqbo_engine import __version__, cli
from tpsqbo_engine.errors import UsageError

CASES = Path(__file__).parent / "cases"
runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(cli.app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"tpsqbo-engine {__version__}"


def _command_paths(app: typer.Typer, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command, the sub-commands of groups (`emulate qbo`, `fleet run`...) included."""
    paths = [(*prefix, c.name or c.callback.__name__) for c in app.registered_commands]  # type: ignore[union-attr]
    for group in app.registered_groups:
        assert group.name and group.typer_instance is not None
        paths.extend(_command_paths(group.typer_instance, (*prefix, group.name)))
    return paths


def test_every_command_has_help() -> None:
    paths = _command_paths(cli.app)
    assert ("validate",) in paths and ("emulate", "qbo") in paths and ("fleet", "run") in paths
    for path in paths:
        result = runner.invoke(cli.app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert len(result.output.strip().splitlines()) > 3, path


def test_validate_the_shipped_pack_is_clean(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli.app, ["validate"])
    assert result.exit_code == 0, result.output
    assert "pack tps-qbo-standard" in result.output


def test_validate_reports_problems_and_exits_1() -> None:
    result = runner.invoke(cli.app, ["validate", str(CASES / "invalid" / "unknown-fields")])
    assert result.exit_code == 1
    assert "[expr.unknown-variable] unknown name 'emial'" in result.output
    assert "hint: did you mean 'email'?" in result.output


@pytest.mark.parametrize("fmt", ["json", "github", "sarif"])
def test_machine_formats(fmt: str) -> None:
    case = CASES / "invalid" / "enum-typo"
    result = runner.invoke(cli.app, ["validate", "--format", fmt, str(case)])
    assert result.exit_code == 1
    if fmt == "github":
        assert result.output.startswith("::error file=")
    else:
        parsed = json.loads(result.output)
        assert parsed


def test_validate_a_file_validates_its_pack() -> None:
    rules = CASES / "invalid" / "duplicate-ids" / "lookups.yaml"
    result = runner.invoke(cli.app, ["validate", "-f", "json", str(rules)])
    assert result.exit_code == 1
    assert json.loads(result.output)[0]["code"] == "rules.duplicate-id"


def test_online_says_not_connected() -> None:
    result = runner.invoke(cli.app, ["validate", "--online"])
    assert result.exit_code == 1
    assert "online.not-connected" in result.output


def test_usage_errors_exit_2(capsys) -> None:
    assert cli.main(["validate", "--format", "xml"]) == 2
    assert cli.main(["no-such-command"]) == 2
    assert cli.main(["validate", "/no/such/folder"]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_unexpected_errors_exit_3_with_a_log(monkeypatch, capsys, tmp_path) -> None:
    def explode(_paths):
        raise RuntimeError("boom")

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.setattr(cli, "validate_paths", explode)
    assert cli.main(["validate"]) == 3
    err = capsys.readouterr().err
    log = Path(err.rsplit("details are in ", 1)[1].strip())
    assert log.is_relative_to(tmp_path)
    text = log.read_text()
    assert "builtins.RuntimeError" in text and "in explode" in text
    assert "boom" not in text  # where it failed, never a message that may hold data


def test_interrupt_exits_130(monkeypatch, capsys) -> None:
    def interrupt(_paths):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "validate_paths", interrupt)
    assert cli.main(["validate"]) == 130


def test_engine_errors_print_message_and_hint(monkeypatch, capsys) -> None:
    def refuse(_paths):
        raise UsageError("cannot do that", hint="do this instead")

    monkeypatch.setattr(cli, "validate_paths", refuse)
    assert cli.main(["validate"]) == 2
    err = capsys.readouterr().err
    assert "error: cannot do that" in err and "hint: do this instead" in err


def test_module_entry_point_runs_from_any_directory(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tpsqbo_engine", "validate", "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
