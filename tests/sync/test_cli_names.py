"""What the user names on the command line is checked against the rules, the state and the
systems (a typo is refused, never acted on as nothing), and the firm config's QBO
environment is the one the saved connection is to. Against the demo firm on the emulators."""

from __future__ import annotations

from pathlib import Path

import pytest

from tpsqbo_engine import cli
from tpsqbo_engine.connectors.qbo import connect as qbo_connect
from tpsqbo_engine.connectors.qbo.tokens import Tokens
from tpsqbo_engine.sync.demo import demo_firm


def _fails_cleanly(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "bug" not in err and "Traceback" not in err
    return err


def test_record_names_and_statuses_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with demo_firm(tmp_path) as (session, _, _):
        config = str(session.config.path)
        err = _fails_cleanly(
            ["ignore", "tps.Invoce:inv-1001", "--reason", "x", "-c", config], capsys
        )
        assert "no entity tps.Invoce" in err and "did you mean 'tps.Invoice'?" in err
        assert session.state.ignored() == {}
        err = _fails_cleanly(["ignore", "inv-1001", "--reason", "x", "-c", config], capsys)
        assert "not a record name" in err and "tps.Invoice:inv-1001" in err
        # Known to neither the state (no run yet) nor TPS / QBO: refused after one read.
        err = _fails_cleanly(["explain", "tps.Client:c-9999", "-c", config], capsys)
        assert "no record tps.Client:c-9999: neither the state nor TPS knows it" in err
        _fails_cleanly(["ignore", "qbo.Customer:999999", "--reason", "x", "-c", config], capsys)
        for odd in ("..", "../clients", "c-1?x=1", "c 1"):  # never put into a TPS URL's path
            err = _fails_cleanly(["explain", f"tps.Client:{odd}", "-c", config], capsys)
            assert "neither the state nor TPS knows it" in err
        # A near miss of a record the state holds is suggested.
        run = session.state.start_run("initial")
        session.state.record_item(run, "tps.Invoice:inv-1003", "invoices", "create", "Warning", "")
        session.state.finish_run(run, "completed")
        err = _fails_cleanly(["explain", "tps.Invoice:inv-10003", "-c", config], capsys)
        assert "did you mean 'tps.Invoice:inv-1003'?" in err
        runs = len(session.state.runs())
        _fails_cleanly(["retry", "tps.Invoce:inv-1001", "-c", config], capsys)
        assert len(session.state.runs()) == runs  # no empty run recorded
        # Known to TPS though never synced: accepted.
        assert cli.main(["ignore", "tps.Invoice:inv-1002", "--reason", "x", "-c", config]) == 0
        assert "tps.Invoice:inv-1002" in session.state.ignored()
        capsys.readouterr()
        # Known to the state (here as ignored): no connection needed.
        monkeypatch.delenv("TPSQBO_TPS_TOKEN")
        assert cli.main(["explain", "tps.Invoice:inv-1002", "-c", config]) == 0
        assert cli.main(["ignore", "tps.Client:c-9999", "--reason", "x", "-c", config]) == 0
        assert "was not looked up: no TPS token" in capsys.readouterr().err
        assert cli.main(["history", "--status", "ignored", "-c", config]) == 0
        err = _fails_cleanly(["history", "--status", "faild", "-c", config], capsys)
        assert "did you mean 'Failed'?" in err
        assert "no run 7" in _fails_cleanly(["history", "--run", "7", "-c", config], capsys)
        err = _fails_cleanly(["retry", "--all-failed", "-c", config], capsys)
        assert "nothing to retry" in err


def test_the_saved_connection_must_be_to_the_configs_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with demo_firm(tmp_path) as (session, qbo, _):
        config = session.config.path
        text = config.read_text()
        config.write_text(text.replace(f"'{qbo.discovery_url}'", "production"))
        err = _fails_cleanly(["plan", "-c", str(config)], capsys)
        assert "the saved connection" in err and qbo.discovery_url in err
        assert "qbo.environment 'production'" in err
        assert f"tpsqbo-engine connect -c {config}" in err
        config.write_text(text)
        assert cli.main(["plan", "-c", str(config)]) == 0


def test_connect_takes_the_environment_and_token_file_from_the_firm_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "tpsqbo.yaml"
    config.write_text(
        "kind: firm\nfirm: F\ntps: {connection: http, base_url: 'http://127.0.0.1:9'}\n"
        "qbo: {environment: production, token_file: keep/tokens.json}\n"
    )
    used: list[qbo_connect.ConnectSettings] = []

    def connected(settings: qbo_connect.ConnectSettings, **_: object) -> Tokens:
        used.append(settings)
        return Tokens("123", "", settings.environment, "id", "a", 0, "r", 0)

    monkeypatch.setattr(qbo_connect, "connect", connected)
    monkeypatch.setenv("TPSQBO_QBO_CLIENT_ID", "id")
    monkeypatch.setenv("TPSQBO_QBO_CLIENT_SECRET", "secret")
    assert cli.main(["connect", "-c", str(config)]) == 0
    assert used[-1].environment == "production"
    assert used[-1].token_file == tmp_path / "keep" / "tokens.json"
    err = _fails_cleanly(["connect", "-c", str(config), "--environment", "sandbox"], capsys)
    assert "'sandbox'" in err and "'production'" in err
    assert cli.main(["connect"]) == 0 and used[-1].environment == "sandbox"
