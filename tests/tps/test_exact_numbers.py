"""Numbers in TPS request bodies are read as Decimal, never float, and still answered."""

from __future__ import annotations

from decimal import Decimal

import requests

from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer, TpsOptions, load_firm


def test_a_number_in_a_body_is_read_exactly_and_answered(tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "tps.json"
    with TpsEmulatorServer(TpsOptions(state=state)) as server:
        url = f"{server.base_url}/api/v1/clients"
        headers = {"Authorization": f"Bearer {server.app.token}"}
        body = '{"code": "Z9", "name": "Zed", "retainer": 12345678901234567.89}'
        made = requests.post(url, data=body, headers=headers, timeout=10)
        assert made.status_code == 201, made.text
        kept = server.app.firm.get("clients", made.json()["id"])["retainer"]
        assert kept == Decimal("12345678901234567.89")  # exact inside the emulator
        again = requests.get(f"{url}/{made.json()['id']}", headers=headers, timeout=10)
        assert again.json()["retainer"] == made.json()["retainer"]
    firm, _ = load_firm(state)
    assert isinstance(firm.get("clients", made.json()["id"])["retainer"], Decimal)
