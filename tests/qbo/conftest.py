"""A QBO emulator per test on a free loopback port, and clients that talk to it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tpsqbo_engine.connectors.qbo.auth import QboAuth
from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.qbo.tokens import Tokens, TokenStore
from tpsqbo_engine.connectors.retry import RetryPolicy
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer, QboOptions

FAST = RetryPolicy(attempts=6, backoff=0.01, max_backoff=0.05, timeout=(2.0, 2.0))


@dataclass
class Api:
    """Raw HTTP to the emulator with a valid access token, for checking wire-level facts."""

    server: QboEmulatorServer
    token: str

    @property
    def base(self) -> str:
        return self.server.api_base

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/json", **extra}

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(
            f"{self.base}/{path}", params=params, headers=self.headers(), timeout=10
        )

    def post(self, path: str, body: Any = None, **params: Any) -> requests.Response:
        return requests.post(
            f"{self.base}/{path}", params=params, json=body, headers=self.headers(), timeout=10
        )

    def query(self, statement: str) -> requests.Response:
        return self.get("query", query=statement)

    def create(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.post(entity.lower(), body)
        assert response.status_code == 200, response.text
        record: dict[str, Any] = response.json()[entity]
        return record

    def faults(self, spec: str) -> None:
        requests.post(
            f"{self.server.base_url}/__emulator__/faults",
            json={"spec": spec},
            headers={"Authorization": f"Bearer {self.server.emulator.admin_token}"},
            timeout=5,
        ).raise_for_status()


def token_grant(server: QboEmulatorServer, refresh_token: str) -> dict[str, Any]:
    response = requests.post(
        f"{server.base_url}/oauth2/v1/tokens/bearer",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(server.oauth.client_id, server.oauth.client_secret),
        timeout=10,
    )
    response.raise_for_status()
    grant: dict[str, Any] = response.json()
    return grant


def make_options(**overrides: Any) -> QboOptions:
    return QboOptions(**{"port": 0, **overrides})


@pytest.fixture
def qbo_server(request: pytest.FixtureRequest) -> Iterator[QboEmulatorServer]:
    marker = request.node.get_closest_marker("qbo")
    options = make_options(**(marker.kwargs if marker else {}))
    with QboEmulatorServer(options) as server:
        yield server


@pytest.fixture
def api(qbo_server: QboEmulatorServer) -> Api:
    fresh = qbo_server.oauth.issue_refresh_token()
    return Api(qbo_server, token_grant(qbo_server, fresh)["access_token"])


def save_tokens(server: QboEmulatorServer, path: Path) -> TokenStore:
    grant = token_grant(server, server.oauth.issue_refresh_token())
    now = time.time()
    store = TokenStore(path)
    store.save(
        Tokens(
            server.company.realm_id,
            server.base_url,
            server.discovery_url,
            server.oauth.client_id,
            grant["access_token"],
            now + grant["expires_in"],
            grant["refresh_token"],
            now + grant["x_refresh_token_expires_in"],
        )
    )
    return store


@pytest.fixture
def client(qbo_server: QboEmulatorServer, tmp_path: Path) -> QboClient:
    store = save_tokens(qbo_server, tmp_path / "tokens.json")
    return QboClient(QboAuth(store, qbo_server.oauth.client_secret), retry=FAST)
