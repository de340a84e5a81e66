"""Servers answering garbage, without a server: a requests adapter that plays back answers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from tpsqbo_engine.connectors.qbo.auth import QboAuth
from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.qbo.tokens import Tokens, TokenStore
from tpsqbo_engine.connectors.retry import RetryPolicy
from tpsqbo_engine.connectors.tps.client import TpsClient

QBO_BASE = "https://qbo.invalid"
TPS_BASE = "https://tps.invalid"
POLICY = RetryPolicy(attempts=4, backoff=1.0, max_backoff=30.0, timeout=(1.0, 1.0))


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: str = "{}"
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


HTML = Answer(body="<html><body>Service is being upgraded</body></html>", content_type="text/html")


class Canned(BaseAdapter):
    """Plays `answers` in turn, the last one for ever after; keeps what was sent."""

    def __init__(self, *answers: Answer) -> None:
        super().__init__()
        self.answers = list(answers)
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **_: Any) -> requests.Response:
        self.sent.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        response = requests.Response()
        response.status_code = answer.status
        response._content = answer.body.encode()
        response.headers = CaseInsensitiveDict(
            {"Content-Type": answer.content_type, **answer.headers}
        )
        response.url, response.request = str(request.url), request
        return response

    def close(self) -> None:
        pass


def qbo_client(tmp_path: Path, *answers: Answer) -> tuple[QboClient, Canned, list[float]]:
    store = TokenStore(tmp_path / "tokens.json")
    far = time.time() + 3600
    store.save(Tokens("123", QBO_BASE, "sandbox", "app", "access", far, "refresh", far))
    sleeps: list[float] = []
    client = QboClient(QboAuth(store, "secret"), retry=POLICY, sleep=sleeps.append)
    adapter = Canned(*answers)
    client.session.mount(QBO_BASE, adapter)
    return client, adapter, sleeps


def tps_client(*answers: Answer) -> tuple[TpsClient, Canned, list[float]]:
    sleeps: list[float] = []
    client = TpsClient(TPS_BASE, "token", retry=POLICY, sleep=sleeps.append)
    adapter = Canned(*answers)
    client.session.mount("https://tps.invalid", adapter)
    return client, adapter, sleeps
