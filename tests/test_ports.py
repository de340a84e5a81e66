"""A port picked free and taken by someone else before its server binds it (another worker of
the suite, any process) costs another port, never the test: and only that costs one."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import redis
import requests

from tests import ports
from tests.fleet.local_redis import running_redis
from tpsqbo_engine.connectors.qbo.connect import ConnectSettings
from tpsqbo_engine.connectors.qbo.tokens import TokenStore
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer, QboOptions
from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.sync import demo


class Squatter:
    """Takes the first `count` ports the tests pick, right after each is picked, the way
    another worker's server (listening) or its own probe (only bound) would."""

    def __init__(self, stack: ExitStack, count: int, *, listen: bool) -> None:
        self.stack, self.count, self.listen = stack, count, listen
        self.picked: list[int] = []
        self.pick = ports.free_port

    def __call__(self) -> int:
        port = self.pick()
        self.picked.append(port)
        if len(self.picked) <= self.count:
            holder = self.stack.enter_context(socket.socket())
            holder.bind(("127.0.0.1", port))
            if self.listen:
                holder.listen()
        return port


@pytest.fixture
def squat(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Squatter]]:
    with ExitStack() as stack:

        def squatting(count: int, *, listen: bool = True) -> Squatter:
            squatter = Squatter(stack, count, listen=listen)
            monkeypatch.setattr(ports, "free_port", squatter)
            monkeypatch.setattr(demo, "_free_port", squatter)  # the demo firm's first pick
            return squatter

        yield squatting


@pytest.fixture(scope="module")
def qbo() -> Iterator[QboEmulatorServer]:
    with QboEmulatorServer(QboOptions(seed="starter")) as server:
        yield server


def _settings(qbo: QboEmulatorServer, token_file: Path, redirect: str = "") -> ConnectSettings:
    redirect = redirect or ports.redirect_uri(ports.free_port())
    oauth = qbo.oauth
    return ConnectSettings(
        oauth.client_id, oauth.client_secret, qbo.discovery_url, redirect, token_file
    )


@pytest.mark.parametrize("listen", [True, False], ids=["listening", "bound"])
def test_connect_moves_to_another_port_when_its_port_is_taken(
    qbo: QboEmulatorServer, squat: Callable[..., Squatter], tmp_path: Path, listen: bool
) -> None:
    squatter = squat(2, listen=listen)
    redirects: list[str] = []

    def browse(url: str) -> None:
        redirects.append(parse_qs(urlparse(url).query)["redirect_uri"][0])
        requests.get(url, timeout=10).raise_for_status()

    tokens = ports.connect(_settings(qbo, tmp_path / "tokens.json"), announce=browse, timeout=10)
    assert len(squatter.picked) == 3
    assert redirects == [ports.redirect_uri(squatter.picked[2])]  # the taken two: no announce
    assert tokens.realm_id == qbo.company.realm_id
    assert TokenStore(tmp_path / "tokens.json").load().refresh_token == tokens.refresh_token


def test_connect_gives_up_when_every_port_it_tries_is_taken(
    qbo: QboEmulatorServer, squat: Callable[..., Squatter], tmp_path: Path
) -> None:
    squatter = squat(ports.TRIES)
    with pytest.raises(pytest.fail.Exception, match="each of 5 free ports taken") as failed:
        ports.connect(_settings(qbo, tmp_path / "tokens.json"), announce=pytest.fail, timeout=10)
    assert len(squatter.picked) == ports.TRIES
    assert str(squatter.picked) in str(failed.value)
    assert not (tmp_path / "tokens.json").exists()


def test_connect_tries_no_other_port_for_any_other_usage_error(
    qbo: QboEmulatorServer, squat: Callable[..., Squatter], tmp_path: Path
) -> None:
    squatter = squat(0)
    portless = _settings(qbo, tmp_path / "tokens.json", "http://127.0.0.1/callback")
    with pytest.raises(UsageError, match="must be a loopback address with a port"):
        ports.connect(portless, announce=pytest.fail, timeout=10)
    assert squatter.picked == []


def test_only_that_port_in_use_counts_as_taken() -> None:
    said = f"cannot listen for the redirect on 127.0.0.1:4000: {ports.ADDRESS_IN_USE}"
    assert ports.port_was_taken(
        UsageError(said, hint="another --redirect-uri"), ports.redirect_uri(4000)
    )
    assert not ports.port_was_taken(UsageError(said), ports.redirect_uri(4001))
    denied = "cannot listen for the redirect on 127.0.0.1:4000: Permission denied"
    assert not ports.port_was_taken(UsageError(denied), ports.redirect_uri(4000))


def test_the_demo_firm_moves_to_another_port_when_its_port_is_taken(
    squat: Callable[..., Squatter], tmp_path: Path
) -> None:
    squatter = squat(2)
    with demo.demo_firm(tmp_path, tps_seed="empty") as (session, qbo, _):
        assert len(squatter.picked) == 3  # the demo's own pick, then two of tests/ports.py
        tokens = TokenStore(session.config.qbo.token_file).load()
        assert tokens.realm_id == qbo.company.realm_id


def _redis_server() -> str:
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed: `apt-get install redis-server` (.ci/run does)")
    return server


def test_redis_moves_to_another_port_when_its_port_is_taken(
    squat: Callable[..., Squatter], tmp_path: Path
) -> None:
    squatter = squat(1, listen=False)
    with running_redis(_redis_server(), tmp_path) as url:
        assert url == f"redis://127.0.0.1:{squatter.picked[1]}/0"
        assert redis.Redis.from_url(url).ping()
    assert "Address already in use" in (tmp_path / "redis-0.log").read_text()


def test_redis_tries_no_other_port_when_it_fails_for_another_reason(
    squat: Callable[..., Squatter], tmp_path: Path
) -> None:
    squatter = squat(0)
    ended = pytest.raises(pytest.fail.Exception, match=r"redis-server ended \(1\)")
    with ended, running_redis("/bin/false", tmp_path):
        pytest.fail("no Redis ran")
    assert len(squatter.picked) == 1
