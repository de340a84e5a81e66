"""`tpsqbo-engine emulate qbo` as a user runs it: one JSON line, a working API, clean stop."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import requests

from tpsqbo_engine import cli


def test_emulate_prints_one_json_line_serves_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tpsqbo_engine", "emulate", "qbo", "--port", "0", "--print-json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert set(info) == {
            "base_url",
            "realm_id",
            "discovery_url",
            "client_id",
            "client_secret",
            "refresh_token",
            "admin_token",
        }
        assert info["base_url"].startswith("http://127.0.0.1:")
        control = f"{info['base_url']}/__emulator__/expire-tokens"
        assert requests.post(control, timeout=5).status_code == 401
        admin = {"Authorization": f"Bearer {info['admin_token']}"}
        assert requests.post(control, headers=admin, timeout=5).status_code == 200
        discovery = requests.get(info["discovery_url"], timeout=5).json()
        assert discovery["token_endpoint"].startswith(info["base_url"])
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert out == ""  # nothing after the single JSON line


def test_emulate_refuses_non_loopback_hosts(capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli.main(["emulate", "qbo", "--host", "0.0.0.0"]) == 2
    assert "loopback" in capsys.readouterr().err


def test_emulate_refuses_a_bad_fault_spec(capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli.main(["emulate", "qbo", "--faults", "explode@3"]) == 2
    assert "unknown fault" in capsys.readouterr().err


def test_connect_needs_the_app_credentials(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("TPSQBO_QBO_CLIENT_ID", raising=False)
    monkeypatch.delenv("TPSQBO_QBO_CLIENT_SECRET", raising=False)
    assert cli.main(["connect"]) == 2
    assert "TPSQBO_QBO_CLIENT_ID" in capsys.readouterr().err
