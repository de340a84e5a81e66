"""`connect` keeps the tokens it just obtained, and the app's secret, out of everything it says.

The real command runs against the QBO emulator; its stdout and stderr are both read, and so is
every file it leaves under its home other than the token file (where a log would go)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests import ports
from tpsqbo_engine.connectors.qbo.tokens import TokenStore
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer, QboOptions


@pytest.fixture(scope="module")
def qbo() -> Iterator[QboEmulatorServer]:
    with QboEmulatorServer(QboOptions(seed="starter")) as server:
        yield server


def test_connect_prints_and_logs_no_token_and_no_client_secret(
    qbo: QboEmulatorServer, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    token_file = home / "tokens.json"
    secret = qbo.oauth.client_secret
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    env |= {"XDG_STATE_HOME": str(home / ".state"), "XDG_CACHE_HOME": str(home / ".cache")}
    env |= {"TPSQBO_QBO_CLIENT_ID": qbo.oauth.client_id, "TPSQBO_QBO_CLIENT_SECRET": secret}
    command = [sys.executable, "-m", "tpsqbo_engine", "connect"]
    command += ["--environment", qbo.discovery_url, "--redirect-uri", ports.REDIRECT]
    command += ["--token-file", str(token_file), "--timeout", "60"]
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as engine_cli:
        assert engine_cli.stdout is not None
        said = [engine_cli.stdout.readline() for _ in range(3)]
        requests.get(said[2].strip(), timeout=10).raise_for_status()  # the emulator redirects
        out, err = engine_cli.communicate(timeout=60)
    out = "".join(said) + out
    assert engine_cli.returncode == 0, (out, err)
    assert out.splitlines()[-1].startswith(f"connected to company {qbo.company.realm_id}")

    tokens = TokenStore(token_file).load()
    assert tokens.realm_id == qbo.company.realm_id
    assert len(tokens.access_token) >= 16 and len(tokens.refresh_token) >= 16
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    secrets = {
        "access token": tokens.access_token,
        "refresh token": tokens.refresh_token,
        "client secret": secret,
    }
    written = {
        str(path): path.read_text(errors="replace")
        for path in home.rglob("*")
        if path.is_file() and path != token_file
    }
    for name, value in secrets.items():
        assert value not in out, f"the {name} is on stdout"
        assert value not in err, f"the {name} is on stderr"
        for path, text in written.items():
            assert value not in text, f"the {name} is in {path}"
    assert token_file.read_text().count(tokens.refresh_token) == 1  # it was saved, only there
