from __future__ import annotations

from collections.abc import Iterator

import pytest

from tpsqbo_engine.connectors.tps.client import Retry, TpsClient
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer, TpsOptions

FAST = Retry(attempts=4, backoff=0.01, max_backoff=0.02, timeout=(2.0, 2.0))


@pytest.fixture(scope="module")
def demo() -> Iterator[TpsEmulatorServer]:
    """One demo firm per module for reads; tests that write use `tps_server`."""
    with TpsEmulatorServer(TpsOptions()) as server:
        yield server


@pytest.fixture
def tps_server() -> Iterator[TpsEmulatorServer]:
    with TpsEmulatorServer(TpsOptions()) as server:
        yield server


@pytest.fixture
def tps(tps_server: TpsEmulatorServer) -> TpsClient:
    return TpsClient(tps_server.base_url, tps_server.app.token, retry=FAST)
