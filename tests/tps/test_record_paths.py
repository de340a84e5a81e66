"""A record's id is the firm's data: it travels as one URL path segment whatever it holds."""

from __future__ import annotations

import pytest

from tests.tps.conftest import FAST
from tpsqbo_engine.connectors.tps.client import TpsClient
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer


@pytest.mark.parametrize("ident", ["c 1?x=2", "c#1", "c%2F1", "ÉTÉ-1"])
def test_an_id_with_url_characters_reads_and_changes_its_own_record(
    tps_server: TpsEmulatorServer, ident: str
) -> None:
    client = TpsClient(tps_server.base_url, tps_server.app.token, retry=FAST)
    made = client.create("clients", {"id": ident, "code": "ODD001", "name": "Odd Id"}, key=ident)
    assert made["id"] == ident
    assert client.get("clients", ident)["name"] == "Odd Id"
    changed = client.update("clients", ident, {"name": "Odd Id Ltd"}, version=made["version"])
    assert changed["id"] == ident and changed["name"] == "Odd Id Ltd"
