"""No port is named before its server binds it, except Redis's, which cannot bind 0.

The redirect listener of `connect` binds port 0 itself and the flow carries the port bound;
the watch benchmark holds its watcher's port until the watcher binds it; Redis, told a port
found free a moment earlier, moves to another only when that one proved taken (another
worker of the suite took it first), and only for that."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType
from urllib.parse import parse_qs, urlparse

import pytest
import redis
import requests

from bench import local_redis
from tests import ports
from tests.fleet.local_redis import running_redis
from tpsqbo_engine.connectors.qbo import connect as engine
from tpsqbo_engine.connectors.qbo.connect import ConnectSettings, connect
from tpsqbo_engine.connectors.qbo.tokens import TokenStore
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer, QboOptions
from tpsqbo_engine.errors import EngineError, UsageError

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def qbo() -> Iterator[QboEmulatorServer]:
    with QboEmulatorServer(QboOptions(seed="starter")) as server:
        yield server


def _settings(qbo: QboEmulatorServer, token_file: Path, redirect: str) -> ConnectSettings:
    oauth = qbo.oauth
    return ConnectSettings(
        oauth.client_id, oauth.client_secret, qbo.discovery_url, redirect, token_file
    )


def _redirect_of(authorization_url: str) -> str:
    return parse_qs(urlparse(authorization_url).query)["redirect_uri"][0]


def test_connect_on_port_0_announces_the_port_its_listener_bound(
    qbo: QboEmulatorServer, tmp_path: Path
) -> None:
    told: list[str] = []
    announced: list[str] = []

    def browse(url: str) -> None:
        announced.append(_redirect_of(url))
        requests.get(url, timeout=10).raise_for_status()  # the emulator redirects back

    settings = _settings(qbo, tmp_path / "tokens.json", "http://127.0.0.1:0/callback")
    tokens = connect(settings, announce=browse, listening=told.append, timeout=10)
    port = urlparse(announced[0]).port
    assert port and announced == told == [f"http://127.0.0.1:{port}/callback"]
    # The emulator exchanges a code only for the redirect URI it was issued to: the bound one.
    assert tokens.realm_id == qbo.company.realm_id
    assert TokenStore(tmp_path / "tokens.json").load().refresh_token == tokens.refresh_token
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass  # the one-shot listener is gone


def test_two_connects_on_port_0_at_once_listen_on_ports_of_their_own(
    qbo: QboEmulatorServer, tmp_path: Path
) -> None:
    redirects: list[str] = []

    def inner(url: str) -> None:
        redirects.append(_redirect_of(url))
        requests.get(url, timeout=10).raise_for_status()

    def outer(url: str) -> None:
        redirects.append(_redirect_of(url))  # still listening while the other one runs
        connect(_settings(qbo, tmp_path / "b.json", ports.REDIRECT), announce=inner, timeout=10)
        requests.get(url, timeout=10).raise_for_status()

    connect(_settings(qbo, tmp_path / "a.json", ports.REDIRECT), announce=outer, timeout=10)
    assert len(set(redirects)) == 2 and ports.REDIRECT not in redirects
    assert (tmp_path / "a.json").exists() and (tmp_path / "b.json").exists()


def test_the_listener_is_closed_when_the_flow_fails(qbo: QboEmulatorServer, tmp_path: Path) -> None:
    announced: list[str] = []

    def browser_fails(url: str) -> None:
        announced.append(_redirect_of(url))
        raise RuntimeError("no browser")

    settings = _settings(qbo, tmp_path / "tokens.json", ports.REDIRECT)
    with pytest.raises(RuntimeError, match="no browser"):
        connect(settings, announce=browser_fails, timeout=10)
    port = urlparse(announced[0]).port
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass
    assert not (tmp_path / "tokens.json").exists()


def test_the_listener_is_closed_when_the_discovery_document_is_unreadable(
    qbo: QboEmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    servers: list[engine.ThreadingHTTPServer] = []

    class Recorded(engine.ThreadingHTTPServer):
        def server_activate(self) -> None:
            servers.append(self)
            super().server_activate()

    monkeypatch.setattr(engine, "ThreadingHTTPServer", Recorded)
    settings = ConnectSettings(
        qbo.oauth.client_id,
        qbo.oauth.client_secret,
        f"{qbo.base_url}/no-discovery-here/",
        ports.REDIRECT,
        tmp_path / "tokens.json",
    )
    with pytest.raises(EngineError, match="cannot read the OAuth discovery document"):
        connect(settings, announce=pytest.fail, timeout=10)
    assert len(servers) == 1 and servers[0].socket.fileno() == -1


@pytest.mark.parametrize(
    ("redirect", "auth_code", "said"),
    [
        ("https://app.example:0/callback", "", "port 0 is only for a loopback listener"),
        ("http://127.0.0.1:0/callback", "code-1", "port 0 needs the redirect listener"),
        ("http://127.0.0.1/callback", "", "must be a loopback address with a port"),
        ("http://127.0.0.1:99999/callback", "", "not a port number"),
        ("http://127.0.0.1:abc/callback", "code-1", "not a port number"),
    ],
    ids=["remote-host", "auth-code", "no-port", "port-too-big", "port-not-a-number"],
)
def test_a_redirect_uri_connect_cannot_listen_on_is_refused_clearly(
    qbo: QboEmulatorServer, tmp_path: Path, redirect: str, auth_code: str, said: str
) -> None:
    settings = _settings(qbo, tmp_path / "tokens.json", redirect)
    with pytest.raises(UsageError, match=said) as refused:
        connect(settings, announce=pytest.fail, auth_code=auth_code, realm_id="1", timeout=10)
    assert redirect in refused.value.message
    assert not (tmp_path / "tokens.json").exists()


def test_the_cli_refuses_port_0_with_an_auth_code_before_asking_anyone(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from tpsqbo_engine import cli

    monkeypatch.setenv("TPSQBO_QBO_CLIENT_ID", "app")
    monkeypatch.setenv("TPSQBO_QBO_CLIENT_SECRET", "secret-never-shown")
    monkeypatch.setattr(engine, "AuthClient", pytest.fail)  # refused before any discovery
    arguments = ["connect", "--redirect-uri", ports.REDIRECT, "--auth-code", "c", "--realm-id", "1"]
    code = cli.main([*arguments, "--token-file", str(tmp_path / "tokens.json")])
    err = capsys.readouterr().err
    assert code == 2 and "--redirect-uri" in err and "port 0 needs the redirect listener" in err
    assert "secret-never-shown" not in err and not (tmp_path / "tokens.json").exists()


def test_the_cli_says_where_it_listens_and_completes_on_port_0(
    qbo: QboEmulatorServer, tmp_path: Path
) -> None:
    secret = qbo.oauth.client_secret
    env = {**os.environ, "TPSQBO_QBO_CLIENT_ID": qbo.oauth.client_id}
    env["TPSQBO_QBO_CLIENT_SECRET"] = secret
    command = [sys.executable, "-m", "tpsqbo_engine", "connect"]
    command += ["--environment", qbo.discovery_url, "--redirect-uri", ports.REDIRECT]
    command += ["--token-file", str(tmp_path / "tokens.json"), "--timeout", "60"]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as engine_cli:
        assert engine_cli.stdout is not None
        said = [engine_cli.stdout.readline() for _ in range(3)]
        requests.get(said[2].strip(), timeout=10).raise_for_status()
        said += engine_cli.stdout.readlines()
    assert engine_cli.returncode == 0, said
    port = urlparse(_redirect_of(said[2])).port
    assert port and said[0] == f"listening for the redirect on http://127.0.0.1:{port}/callback\n"
    assert said[-1].startswith(f"connected to company {qbo.company.realm_id}")
    assert not any(secret in line for line in said)


def test_connect_help_says_port_0_is_for_loopback_testing() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "tpsqbo_engine", "connect", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        check=True,
    ).stdout
    assert "Port 0 (for the emulator and loopback testing" in " ".join(shown.split())


def test_the_watch_benchmark_holds_the_watchers_port_for_the_watcher_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from waitress.server import create_server

    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.delitem(sys.modules, "watch", raising=False)
    import watch  # bench/watch.py

    with watch.reserved_port() as held:
        port = int(held.getsockname()[1])
        with socket.socket() as other, pytest.raises(OSError) as taken:
            other.bind(("127.0.0.1", port))  # as another process told that port would
        assert taken.value.errno == errno.EADDRINUSE
        server = create_server(lambda env, start: [], host="127.0.0.1", port=port)
        try:
            assert int(server.effective_port) == port  # the watcher's own server binds it
        finally:
            server.close()


class Squatter:
    """Takes the first `count` ports picked, right after each is picked, the way another
    worker's server (listening) or its own probe (only bound) would."""

    def __init__(self, stack: ExitStack, pick: Callable[[], int], count: int, listen: bool):
        self.stack, self.pick, self.count, self.listen = stack, pick, count, listen
        self.picked: list[int] = []

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
    """`squat(count, listen=..., where=module)`: that module's port picker squatted."""
    with ExitStack() as stack:

        def squatting(
            count: int, *, listen: bool = True, where: ModuleType = local_redis
        ) -> Squatter:
            squatter = Squatter(stack, where.free_port, count, listen)
            monkeypatch.setattr(where, "free_port", squatter)
            return squatter

        yield squatting


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
    assert local_redis.ADDRESS_IN_USE in (tmp_path / "redis-0.log").read_text()


def test_redis_tries_no_other_port_when_it_fails_for_another_reason(
    squat: Callable[..., Squatter], tmp_path: Path
) -> None:
    squatter = squat(0)
    ended = pytest.raises(pytest.fail.Exception, match=r"redis-server ended \(1\)")
    with ended, running_redis("/bin/false", tmp_path):
        pytest.fail("no Redis ran")
    assert len(squatter.picked) == 1


@pytest.fixture
def bench_fleet(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    _redis_server()
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.delitem(sys.modules, "fleet", raising=False)
    import fleet  # bench/fleet.py

    return fleet


@pytest.mark.parametrize("listen", [True, False], ids=["listening", "bound"])
def test_the_fleet_benchmarks_redis_moves_off_a_taken_port(
    bench_fleet: ModuleType, squat: Callable[..., Squatter], tmp_path: Path, listen: bool
) -> None:
    squatter = squat(2, listen=listen, where=bench_fleet.local_redis)
    with bench_fleet.redis_server(tmp_path) as url:
        assert url == f"redis://127.0.0.1:{squatter.picked[2]}/0"
        assert redis.Redis.from_url(url).ping()
    assert len(squatter.picked) == 3


def test_the_fleet_benchmark_gives_up_when_every_port_is_taken(
    bench_fleet: ModuleType, squat: Callable[..., Squatter], tmp_path: Path
) -> None:
    squatter = squat(local_redis.TRIES, where=bench_fleet.local_redis)
    gave_up = pytest.raises(SystemExit, match="each of 5 free ports taken")
    with gave_up as exited, bench_fleet.redis_server(tmp_path):
        pytest.fail("no Redis ran")
    assert len(squatter.picked) == 5 and str(squatter.picked) in str(exited.value)
