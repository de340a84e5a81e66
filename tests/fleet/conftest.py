"""Firms on local emulators, a real Redis and real Celery workers, all on 127.0.0.1."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
import requests

from tests import ports
from tests.fleet.local_redis import die_with_parent, running_redis
from tpsqbo_engine.connectors.qbo.connect import ConnectSettings, connect
from tpsqbo_engine.connectors.qbo.limits import Throttle
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer, QboOptions
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer, TpsOptions
from tpsqbo_engine.fleet.coord import Coordinator, FirmRun
from tpsqbo_engine.fleet.local_coord import LocalCoordinator
from tpsqbo_engine.fleet.redis_coord import RedisCoordinator


def wait_for(coordinator: Coordinator, firm: str, statuses: set[str], within: float) -> FirmRun:
    """The firm's record once its status is one of `statuses`, looked at every 0.2 s for at
    most `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = {r.firm: r for r in coordinator.runs()}.get(firm)
        if found is not None and found.status in statuses:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{firm} never reached {statuses}: {coordinator.runs()}")


def overlaps(runs: list[FirmRun]) -> list[tuple[str, str]]:
    """Pairs of runs whose [started, finished] spans overlap."""
    spans = sorted(
        (datetime.fromisoformat(r.started), datetime.fromisoformat(r.finished), r.firm)
        for r in runs
    )
    return [(a[2], b[2]) for a, b in itertools.pairwise(spans) if b[0] < a[1]]


@dataclass
class CountingThrottle(Throttle):
    """The emulator's throttle, counting the requests it refused (each one a 429)."""

    refused: int = 0

    def admit(self, *, batch: bool) -> bool:
        admitted = super().admit(batch=batch)
        self.refused += not admitted
        return admitted


@dataclass
class FirmHandle:
    name: str
    config: Path
    qbo: QboEmulatorServer
    tps: TpsEmulatorServer
    env: dict[str, str] = field(default_factory=dict)


class Firms:
    """Makes firms: each its own TPS emulator; a QBO emulator of its own or a shared one."""

    def __init__(self, root: Path, stack: ExitStack, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root, self.stack, self.monkeypatch = root, stack, monkeypatch
        self.env: dict[str, str] = {}
        self.realms = 0

    def qbo(self, limits: str = "off", faults: str = "") -> QboEmulatorServer:
        """A company of its own: every emulator seeds the same realm id, so each gets a
        fresh one through its state file."""
        self.realms += 1
        state = self.root.parent / f"qbo-{self.realms}.json"
        with QboEmulatorServer(QboOptions(seed="starter", state=state)) as seeded:
            seeded.save()
        data = json.loads(state.read_text(encoding="utf-8"))
        data["realm_id"] = f"{9130000000000000 + self.realms}"
        state.write_text(json.dumps(data), encoding="utf-8")
        options = QboOptions(seed="starter", state=state, limits=limits, faults=faults)
        server = self.stack.enter_context(QboEmulatorServer(options))
        if server.emulator.limits is not None:
            server.emulator._throttle = CountingThrottle(server.emulator.limits)
        return server

    def make(
        self,
        name: str,
        *,
        qbo: QboEmulatorServer | None = None,
        tps_seed: str = "large:2",
        limits: str = "off",
        tps_token: str = "",
    ) -> FirmHandle:
        qbo = qbo or self.qbo(limits)
        tps = self.stack.enter_context(TpsEmulatorServer(TpsOptions(seed=tps_seed)))
        folder = self.root / name
        folder.mkdir(parents=True)
        key = name.upper().replace("-", "_")
        env = {
            f"TPS_TOKEN_{key}": tps_token or tps.app.token,
            f"QBO_SECRET_{key}": qbo.oauth.client_secret,
        }
        config = folder / "tpsqbo.yaml"
        config.write_text(
            f"kind: firm\nfirm: {name}\nrules: [tps-qbo-standard]\n"
            f"tps: {{connection: http, base_url: '{tps.base_url}', "
            f"token_env: TPS_TOKEN_{key}}}\n"
            f"qbo: {{environment: '{qbo.discovery_url}', limits: '{limits}', "
            f"client_secret_env: QBO_SECRET_{key}}}\n",
            encoding="utf-8",
        )
        connect(
            ConnectSettings(
                qbo.oauth.client_id,
                qbo.oauth.client_secret,
                qbo.discovery_url,
                ports.REDIRECT,
                folder / ".tpsqbo" / "qbo-tokens.json",
            ),
            announce=lambda url: requests.get(url, timeout=10).raise_for_status(),
            timeout=30,
        )
        for variable, value in env.items():
            self.monkeypatch.setenv(variable, value)
        self.env.update(env)
        return FirmHandle(name, config, qbo, tps, env)


@pytest.fixture
def firms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Firms]:
    with ExitStack() as stack:
        yield Firms(tmp_path / "fleet", stack, monkeypatch)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed: `apt-get install redis-server` (.ci/run does)")
    with running_redis(server, tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=["redis", "sqlite"])
def coordinator(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Coordinator]:
    """Each coordinator a fleet has: Redis's (a fresh database) and the embedded SQLite one."""
    if request.param == "redis":
        yield RedisCoordinator(request.getfixturevalue("fresh_redis"))
    else:
        yield LocalCoordinator(tmp_path / "fleet.db")


@pytest.fixture
def fresh_redis(redis_url: str) -> str:
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    return redis_url


class Workers:
    """Celery workers as subprocesses (`tpsqbo-engine fleet worker`), each in its own
    process group so a test can kill one whole, as a machine dies."""

    def __init__(self, broker: str, env: dict[str, str], folder: Path) -> None:
        self.broker, self.env, self.folder = broker, env, folder
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *options: str) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("wb")
        command = [sys.executable, "-m", "tpsqbo_engine", "fleet", "worker"]
        command += ["--broker", self.broker, "--hostname", f"{name}@local", "--concurrency", "1"]
        process = subprocess.Popen(
            [*command, *options],
            env={**os.environ, **self.env},
            cwd=self.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        log.close()
        self.processes[name] = process
        return process

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        for name in list(self.processes):
            process = self.processes.pop(name)
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
            except ProcessLookupError:
                pass

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")


@pytest.fixture
def workers(fresh_redis: str, firms: Firms, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(fresh_redis, firms.env, tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()
