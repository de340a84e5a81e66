"""The engine's TPS client against the TPS emulator, resource by resource."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from decimal import Decimal

import pytest
import requests

from tests.tps.conftest import FAST
from tpsqbo_engine.connectors.tps.client import TpsClient, TpsConflict, TpsFatalError, TpsRejected
from tpsqbo_engine.connectors.tps.contract import RESOURCES, TpsContract
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer

EXPECTED = {
    "clients": 40,
    "work-codes": 32,
    "invoices": 118,
    "payments": 55,
    "adjustments": 8,
    "finance-charges": 4,
    "wip": 36,
}


@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_every_resource_pages_completely(demo: TpsEmulatorServer, resource: str) -> None:
    client = TpsClient(demo.base_url, demo.app.token, retry=FAST)
    records = list(client.records(resource, page_size=7))
    assert len(records) == EXPECTED[resource]
    assert len({r["id"] for r in records}) == len(records)
    assert client.calls == -(-len(records) // 7)


def test_the_demo_firm_is_awkward(demo: TpsEmulatorServer) -> None:
    client = TpsClient(demo.base_url, demo.app.token, retry=FAST)
    clients = list(client.records("clients"))
    names = [c["name"] for c in clients]
    assert any("'" in n for n in names) and any(":" in n for n in names)
    assert any(len(n) == 150 for n in names) and len(names) != len(set(names))
    assert any(c["email"] is None for c in clients)
    assert any(ord(ch) > 127 for n in names for ch in n)
    invoices = list(client.records("invoices"))
    assert {"quick", "detail", "progress", "opening_balance", "automatic"} <= {
        i["type"] for i in invoices
    }
    assert any(i["total"] == 0 for i in invoices)
    assert any(i["balance"] == 0 and i["total"] > 0 for i in invoices)
    assert any(0 < i["balance"] < i["total"] for i in invoices)
    payments = list(client.records("payments"))
    assert any(p["unapplied_amount"] > 0 for p in payments)
    assert {a["direction"] for a in client.records("adjustments")} == {"increase", "decrease"}


def test_money_is_decimal(demo: TpsEmulatorServer) -> None:
    client = TpsClient(demo.base_url, demo.app.token, retry=FAST)
    invoice = next(client.records("invoices"))
    assert isinstance(invoice["total"], Decimal)
    assert isinstance(invoice["lines"][0]["amount"], Decimal)


def test_the_cursor_returns_only_what_changed_after_it(tps: TpsClient) -> None:
    everything, cursor = tps.changes("clients")
    assert len(everything) == 40
    nothing, same = tps.changes("clients", cursor)
    assert nothing == [] and same == cursor
    edited = tps.update(
        "clients",
        everything[3]["id"],
        {"phone": "(503) 555-9999"},
        version=everything[3]["version"],
    )
    changed, newer = tps.changes("clients", cursor)
    assert [c["id"] for c in changed] == [edited["id"]] and newer > cursor


def test_a_stale_version_is_a_conflict(tps: TpsClient) -> None:
    client = next(tps.records("clients"))
    tps.update("clients", client["id"], {"office": "Salem"}, version=client["version"])
    with pytest.raises(TpsConflict) as conflict:
        tps.update("clients", client["id"], {"office": "Portland"}, version=client["version"])
    assert conflict.value.current_version == client["version"] + 1
    assert "clients " + client["id"] in str(conflict.value)


def test_without_a_token_nothing_is_served(tps_server: TpsEmulatorServer) -> None:
    response = requests.get(f"{tps_server.base_url}/api/v1/clients", timeout=5)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    with pytest.raises(TpsFatalError):
        next(TpsClient(tps_server.base_url, "wrong", retry=FAST).records("clients"))


def test_create_and_read_back_every_writable_resource(tps: TpsClient) -> None:
    client = tps.create("clients", {"code": "NEW001", "name": "Fresh Client: Ltd"}, key="k1")
    invoice = tps.create(
        "invoices",
        {
            "client_id": client["id"],
            "date": "2026-11-01",
            "type": "quick",
            "lines": [{"work_code": "BK-MONTH", "amount": Decimal("300.00")}],
        },
        key="k2",
    )
    assert invoice["total"] == Decimal("300.00") and invoice["doc_number"].startswith("HP-")
    payment = tps.create(
        "payments",
        {
            "client_id": client["id"],
            "date": "2026-11-05",
            "amount": Decimal("500.00"),
            "applications": [{"invoice_id": invoice["id"], "amount": Decimal("300.00")}],
        },
        key="k3",
    )
    assert payment["unapplied_amount"] == Decimal("200.00")
    assert tps.get("invoices", invoice["id"])["status"] == "paid"
    tps.create(
        "adjustments",
        {
            "client_id": client["id"],
            "direction": "increase",
            "date": "2026-11-06",
            "amount": Decimal("10.00"),
        },
        key="k4",
    )
    tps.create(
        "finance-charges",
        {"client_id": client["id"], "date": "2026-11-30", "amount": Decimal("4.50")},
        key="k5",
    )
    tps.create(
        "work-codes", {"code": "NEW-WC", "name": "New work", "node_type": "work_code"}, key="k6"
    )
    tps.create(
        "wip",
        {
            "client_id": client["id"],
            "work_code": "NEW-WC",
            "date": "2026-11-07",
            "amount": Decimal("80.00"),
        },
        key="k7",
    )


def test_a_lost_answer_to_a_create_is_retried_without_a_duplicate(
    tps: TpsClient, tps_server: TpsEmulatorServer
) -> None:
    requests.post(
        f"{tps_server.base_url}/__emulator__/faults", json={"spec": "commit-timeout#1"}, timeout=5
    )
    tps.create("clients", {"code": "ONCE01", "name": "Exactly Once"}, key="once")
    assert sum(c["code"] == "ONCE01" for c in tps.records("clients")) == 1


def test_throttling_and_outages_are_retried(tps: TpsClient, tps_server: TpsEmulatorServer) -> None:
    requests.post(
        f"{tps_server.base_url}/__emulator__/faults", json={"spec": "throttle#1,5xx#1"}, timeout=5
    )
    assert tps.get("clients", "c-1001")["code"] == "ABBOTT001"


def test_refusals_name_the_resource_and_field(tps: TpsClient) -> None:
    with pytest.raises(TpsRejected) as refused:
        tps.create(
            "payments",
            {
                "client_id": "c-1001",
                "date": "2026-11-05",
                "amount": Decimal("10.00"),
                "applications": [{"invoice_id": "inv-1002", "amount": Decimal("10.00")}],
            },
            key="x",
        )
    assert "payments" in str(refused.value) and "another client" in str(refused.value)
    with pytest.raises(TpsRejected, match="clients"):
        tps.create("clients", {"code": "ABBOTT001", "name": "Duplicate Code"}, key="y")


def test_a_contract_translates_field_names(tps_server: TpsEmulatorServer) -> None:
    # The emulator speaks the default names: a field mapped to itself still reads, and a
    # renamed one is translated both ways (paths and fields from a firm config:
    # tests/tps/test_firm_paths.py).
    contract = TpsContract(fields={"Client": {"email": "email"}})
    client = TpsClient(tps_server.base_url, tps_server.app.token, contract=contract, retry=FAST)
    assert client.firm()["name"] == "Harbor & Pine CPAs"
    renamed = TpsContract(fields={"Client": {"email": "email_address"}})
    assert renamed.to_remote("clients", {"email": "a@b.c"}) == {"email_address": "a@b.c"}
    assert renamed.from_remote("clients", {"email_address": "a@b.c"}) == {"email": "a@b.c"}


def test_emulate_tps_prints_json_and_stops_cleanly() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tpsqbo_engine", "emulate", "tps", "--port", "0", "--print-json"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert set(info) == {"base_url", "token"}
        clients = requests.get(
            f"{info['base_url']}/api/v1/clients",
            timeout=10,
            headers={"Authorization": f"Bearer {info['token']}"},
        ).json()
        assert len(clients["data"]) == 40
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    assert process.returncode == 0
