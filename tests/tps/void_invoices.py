"""What the tests of writes applied to a void invoice share: an open invoice of the emulator's
firm, voiding it through the API, and posting a record to the emulator as a client would."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

from tpsqbo_engine.connectors.tps.client import TpsClient
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer


def open_invoice(tps_server: TpsEmulatorServer) -> dict[str, Any]:
    """An outstanding invoice of at least 20.00 still owed."""
    return next(
        i
        for i in tps_server.firm.table("invoices").values()
        if i["status"] == "outstanding" and Decimal(i["balance"]) >= 20
    )


def void(tps: TpsClient, invoice: dict[str, Any]) -> None:
    current = tps.get("invoices", invoice["id"])
    tps.update("invoices", invoice["id"], {"status": "void"}, version=current["version"])


def post(server: TpsEmulatorServer, resource: str, body: dict[str, Any]) -> requests.Response:
    """The emulator's raw answer to a create (its refusals are what the tests look at)."""
    return requests.post(
        f"{server.base_url}/api/v1/{resource}",
        json=body,
        headers={"Authorization": f"Bearer {server.app.token}"},
        timeout=5,
    )
