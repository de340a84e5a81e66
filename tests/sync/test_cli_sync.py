"""The sync's commands through the CLI, against a demo firm."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tpsqbo_engine import cli
from tpsqbo_engine.sync.demo import demo_firm

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli.app, list(args))
    return result.exit_code, result.output


def test_the_commands_a_firm_runs(tmp_path: Path) -> None:
    with demo_firm(tmp_path) as (session, _, _):
        config = str(session.config.path)
        code, out = _run("checklist", "-c", config)
        assert code == 1 and "FAIL A backup" in out
        assert _run("backup", "-c", config)[0] == 0
        code, out = _run("plan", "-c", config, "--out", str(tmp_path / "plan.json"))
        assert code == 0 and "create tps.Client:c-1001 -> qbo.Customer" in out
        code, out = _run("sync", "-c", config, "--plan", str(tmp_path / "plan.json"))
        assert code == 0 and "Failed" in out and "0 Failed" in out
        code, out = _run("history", "-c", config, "--format", "json")
        assert code == 0 and json.loads(out)[0]["phase"] == "initial"
        code, out = _run("explain", "-c", config, "tps.Client:c-1001")
        assert "created qbo.Customer" in out and "clients.yaml" in out
        code, out = _run("ignore", "-c", config, "tps.Invoice:inv-1002", "--reason", "disputed")
        assert code == 0 and "A/R" in out
        assert _run("unignore", "-c", config, "tps.Invoice:inv-1002")[0] == 0
        assert cli.main(["unignore", "-c", config, "tps.Invoice:inv-1002"]) == 2
        code, out = _run("reconcile", "-c", config, "--format", "json")
        assert code == 0 and all(row["difference"] == "0.00" for row in json.loads(out))
        code, out = _run("report", "-c", config, "--out", str(tmp_path / "run.html"))
        assert code == 0 and (tmp_path / "run.html").read_text().startswith("<!DOCTYPE html>")
        assert cli.main(["retry", "-c", config]) == 2
        assert cli.main(["sync", "-c", config, "--force"]) == 2


def test_a_missing_config_is_a_usage_error(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli.main(["plan", "-c", str(tmp_path / "nope.yaml")]) == 2
    assert "no firm config" in capsys.readouterr().err


def test_a_broken_config_is_located(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "tpsqbo.yaml"
    config.write_text("kind: firm\nfirm: X\ntps: {connection: carrier-pigeon}\nqbo: {}\n")
    assert cli.main(["plan", "-c", str(config)]) == 2  # a usage error, located
    err = capsys.readouterr().err
    assert "tpsqbo.yaml:3:" in err and "connection" in err and "validate" not in err


def test_progress_is_a_bar_on_a_terminal_and_lines_otherwise(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    import sys

    from tpsqbo_engine.cli_sync import _progress

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    bar = _progress(True)
    for done in range(1, 11):
        bar(done, 10)
    err = capsys.readouterr().err
    assert "\r  [" in err and err.endswith("] 10/10\n")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    lines = _progress(True)
    for done in range(1, 121):
        lines(done, 120)
    assert capsys.readouterr().err.split() == ["50/120", "100/120", "120/120"]


def test_state_commands_need_no_credentials_and_options_are_checked_first(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    with demo_firm(tmp_path) as (session, _, _):
        config = str(session.config.path)
        session.backup()
        session.sync()
        # A bad option is refused before anything is read or written.
        runs = len(session.state.runs())
        assert cli.main(["sync", "-c", config, "--format", "xml"]) == 2
        assert cli.main(["sync", "-c", config, "--fail-on", "sometimes"]) == 2
        assert len(session.state.runs()) == runs
        monkeypatch.delenv("TPSQBO_TPS_TOKEN")
        monkeypatch.delenv("TPSQBO_QBO_CLIENT_SECRET")
        code, out = _run("history", "-c", config, "--format", "json")
        assert code == 0 and json.loads(out)[0]["phase"] == "initial"
        code, out = _run("explain", "-c", config, "tps.Client:c-1001")
        assert code == 0 and "created qbo.Customer" in out
        assert "not known without the connections (no TPS token" in out
        code, out = _run("ignore", "-c", config, "tps.Invoice:inv-1002", "--reason", "disputed")
        assert code == 0
        assert _run("unignore", "-c", config, "tps.Invoice:inv-1002")[0] == 0
        code, out = _run("report", "-c", config, "--out", str(tmp_path / "run.html"))
        page = (tmp_path / "run.html").read_text()
        assert code == 0 and "Not included: no TPS token" in page
        assert cli.main(["plan", "-c", config]) == 2  # planning does need them
        monkeypatch.setenv("TPSQBO_TPS_TOKEN", "a-token")
        monkeypatch.setenv("TPSQBO_QBO_CLIENT_SECRET", "a-secret")
        session.config.qbo.token_file.rename(tmp_path / "elsewhere.json")
        result = runner.invoke(cli.app, ["explain", "-c", config, "tps.Client:c-1001"])
        assert result.exit_code == 0, repr(result.exception)
        assert "not known without the connections (" in result.output
        assert "no saved connection" in result.output


def test_a_nightly_run_fails_only_on_new_failures(tmp_path: Path) -> None:
    with demo_firm(tmp_path) as (session, qbo, tps):
        config = str(session.config.path)
        session.backup()
        session.sync()
        # A client whose QBO customer was deleted behind the engine's back fails every run.
        client = tps.firm.table("clients")["c-1001"]
        session.tps.update("clients", "c-1001", {"phone": "555-0100"}, version=client["version"])
        link = session.state.links("Client|Customer")
        customer_id = next(r["qbo_id"] for r in link if r["tps_id"] == "c-1001")
        del qbo.company.table("Customer")[customer_id]
        code, out = _run("sync", "-c", config)
        assert code == 1 and "1 Failed" in out and "(1 new)" in out
        code, out = _run("sync", "-c", config)
        assert code == 0 and "1 Failed" in out and "(0 new)" in out
        assert _run("sync", "-c", config, "--fail-on", "any")[0] == 1
        assert _run("sync", "-c", config, "--fail-on", "never")[0] == 0
        code, out = _run("sync", "-c", config, "--format", "json")
        assert code == 0 and json.loads(out)["new_failures"] == 0
