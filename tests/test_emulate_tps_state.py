"""`emulate tps --state` through the real command: a record made in one serve is there in the
next (port 0, stopped with SIGTERM)."""

from __future__ import annotations

from pathlib import Path

from tests.emulate_cli import serving
from tpsqbo_engine.connectors.tps.client import TpsClient


def test_emulate_tps_state_keeps_the_firm_across_restarts(tmp_path: Path) -> None:
    state = tmp_path / "tps-state.json"
    with serving("tps", "--seed", "empty", "--state", str(state)) as first:
        tps = TpsClient(first["base_url"], first["token"])
        made = tps.create("clients", {"code": "KEPT01", "name": "Kept Firm Client"}, key="k1")
    assert state.exists()
    with serving("tps", "--seed", "empty", "--state", str(state)) as second:
        tps = TpsClient(second["base_url"], second["token"])
        kept = tps.get("clients", str(made["id"]))
        assert (kept["code"], kept["name"]) == ("KEPT01", "Kept Firm Client")
