"""OAuth as Intuit runs it (docs/emulator-fidelity.md, rows 7.x)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from tests.qbo.conftest import Api
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer


def _token(server: QboEmulatorServer, data: dict[str, str], **kwargs: Any) -> requests.Response:
    return requests.post(
        f"{server.base_url}/oauth2/v1/tokens/bearer", data=data, timeout=5, **kwargs
    )


def _basic(server: QboEmulatorServer) -> tuple[str, str]:
    return (server.oauth.client_id, server.oauth.client_secret)


def _refresh(server: QboEmulatorServer, token: str) -> requests.Response:
    return _token(
        server, {"grant_type": "refresh_token", "refresh_token": token}, auth=_basic(server)
    )


def _authorize(server: QboEmulatorServer, redirect: str) -> requests.Response:
    return requests.get(
        f"{server.base_url}/connect/oauth2",
        params={
            "client_id": server.oauth.client_id,
            "response_type": "code",
            "scope": "com.intuit.quickbooks.accounting",
            "redirect_uri": redirect,
            "state": "s",
        },
        allow_redirects=False,
        timeout=5,
    )


def test_client_credentials_by_basic_or_in_the_form(qbo_server: QboEmulatorServer) -> None:
    grant = {"grant_type": "refresh_token", "refresh_token": qbo_server.refresh_token}
    assert _token(qbo_server, grant, auth=_basic(qbo_server)).status_code == 200
    posted = {
        **grant,
        "client_id": qbo_server.oauth.client_id,
        "client_secret": qbo_server.oauth.client_secret,
    }
    assert _token(qbo_server, posted).status_code == 200
    wrong = {**posted, "client_secret": "nope"}
    assert _token(qbo_server, wrong).json() == {"error": "invalid_client"}
    doc = requests.get(qbo_server.discovery_url, timeout=5).json()
    assert set(doc["token_endpoint_auth_methods_supported"]) == {
        "client_secret_post",
        "client_secret_basic",
    }


def test_inside_the_rotation_period_a_refresh_returns_the_same_value(
    qbo_server: QboEmulatorServer,
) -> None:
    first = _refresh(qbo_server, qbo_server.refresh_token).json()
    second = _refresh(qbo_server, qbo_server.refresh_token).json()
    assert first["refresh_token"] == second["refresh_token"] == qbo_server.refresh_token
    assert first["access_token"] != second["access_token"]


@pytest.mark.qbo(refresh_rotation=1.5)
def test_after_rotation_the_superseded_value_is_invalid_grant(
    qbo_server: QboEmulatorServer,
) -> None:
    original = qbo_server.oauth.issue_refresh_token()  # its period starts now
    assert _refresh(qbo_server, original).json()["refresh_token"] == original
    time.sleep(1.6)
    rotated = _refresh(qbo_server, original).json()["refresh_token"]
    assert rotated != original
    refused = _refresh(qbo_server, original)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert _refresh(qbo_server, rotated).status_code == 200


def test_revoking_the_refresh_token_disconnects_its_access_tokens(api: Api) -> None:
    server = api.server
    grant = _refresh(server, server.refresh_token).json()
    bearer = {"Authorization": f"Bearer {grant['access_token']}", "Accept": "application/json"}
    assert requests.get(f"{api.base}/preferences", headers=bearer, timeout=5).status_code == 200
    revoked = requests.post(
        f"{server.base_url}/oauth2/v1/tokens/revoke",
        json={"token": grant["refresh_token"]},
        auth=_basic(server),
        timeout=5,
    )
    assert revoked.status_code == 200
    assert requests.get(f"{api.base}/preferences", headers=bearer, timeout=5).status_code == 401
    assert _refresh(server, grant["refresh_token"]).json()["error"] == "invalid_grant"
    assert api.get("preferences").status_code == 200  # another connection is untouched


def test_authorize_redirects_only_to_registered_uris(qbo_server: QboEmulatorServer) -> None:
    refused = _authorize(qbo_server, "https://attacker.example/callback")
    assert refused.status_code == 400 and "Location" not in refused.headers
    loopback = _authorize(qbo_server, "http://localhost:8123/callback")
    assert loopback.status_code == 302
    assert parse_qs(urlparse(loopback.headers["Location"]).query)["state"] == ["s"]


@pytest.mark.qbo(redirect_uris=("https://app.example/qbo/callback",))
def test_a_redirect_uri_can_be_registered(qbo_server: QboEmulatorServer) -> None:
    answer = _authorize(qbo_server, "https://app.example/qbo/callback")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("https://app.example/qbo/callback?code=")
    assert _authorize(qbo_server, "https://app.example/other").status_code == 400


def test_userinfo_needs_an_access_token(api: Api) -> None:
    url = f"{api.server.base_url}/v1/openid_connect/userinfo"
    assert requests.get(url, timeout=5).status_code == 401
    bearer = {"Authorization": f"Bearer {api.token}"}
    answer = requests.get(url, headers=bearer, timeout=5)
    assert answer.status_code == 200 and answer.json()["sub"] == api.server.company.realm_id


def test_the_command_line_options_reach_the_emulator() -> None:
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "tpsqbo_engine", "emulate", "qbo", "--print-json"),
            *("--refresh-rotation", "0", "--redirect-uri", "https://app.example/cb"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        authorize = requests.get(
            f"{info['base_url']}/connect/oauth2",
            params={"client_id": info["client_id"], "redirect_uri": "https://app.example/cb"},
            allow_redirects=False,
            timeout=5,
        )
        assert authorize.status_code == 302
        credentials = (info["client_id"], info["client_secret"])
        grant = {"grant_type": "refresh_token", "refresh_token": info["refresh_token"]}
        url = f"{info['base_url']}/oauth2/v1/tokens/bearer"
        rotated = requests.post(url, data=grant, auth=credentials, timeout=5).json()
        assert rotated["refresh_token"] != info["refresh_token"]  # rotation period 0
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
