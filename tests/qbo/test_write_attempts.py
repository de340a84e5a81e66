"""A write's requestid names one attempt: its retries reuse it, a new attempt of the same
write (the caller's `key`) is a new request, which QBO runs. And the look-up after a lost
answer (`find`) takes only a record created since the attempt began, carrying the customer
and marker sent."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.qbo.conftest import Api
from tpsqbo_engine.connectors.qbo.batch import BatchOp
from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.qbo.queries import NaturalKey
from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.sync.single_writes import natural_key


def _invoice_ops(api: Api, attempt: int) -> tuple[list[BatchOp], dict[str, Any]]:
    """Two invoice creates naming an item made inactive in QBO (each refused, 2500)."""
    customer = api.create("Customer", {"DisplayName": "Replay Co"})
    account = api.query("select * from Account where AccountType = 'Income'").json()
    income = account["QueryResponse"]["Account"][0]["Id"]
    item = api.create(
        "Item", {"Name": "Audit work", "Type": "Service", "IncomeAccountRef": {"value": income}}
    )
    line = {
        "Amount": 100,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": 1, "UnitPrice": 100},
    }
    ops = [
        BatchOp(
            "Invoice",
            {"CustomerRef": {"value": customer["Id"]}, "DocNumber": f"T-{i}", "Line": [line]},
            key=f"invoices:tps.Invoice:t-{i}:create@{attempt}",
        )
        for i in range(2)
    ]
    return ops, item


def _set_active(api: Api, item: dict[str, Any], active: bool) -> None:
    current = api.get(f"item/{item['Id']}").json()["Item"]
    body = {"Id": item["Id"], "SyncToken": current["SyncToken"], "sparse": True, "Active": active}
    assert api.post("item", body).ok


def _again(ops: list[BatchOp], attempt: int) -> list[BatchOp]:
    return [BatchOp(op.entity, op.body, key=f"{op.key.rpartition('@')[0]}@{attempt}") for op in ops]


def test_a_batch_sent_again_as_a_new_attempt_is_run(client: QboClient, api: Api) -> None:
    ops, item = _invoice_ops(api, attempt=1)
    _set_active(api, item, False)
    refused = client.batch(ops)
    assert all(r.record is None and "inactive" in str(r.error) for r in refused)
    _set_active(api, item, True)  # the bookkeeper fixes the cause
    # The same attempt is the same request: QBO answers it as it did (requestid replay).
    replayed = client.batch(ops)
    assert all(r.record is None and "inactive" in str(r.error) for r in replayed)
    # A new attempt of the same writes is a new request, which QBO runs.
    written = client.batch(_again(ops, attempt=2))
    assert [r.record["DocNumber"] for r in written if r.record] == ["T-0", "T-1"]


def test_an_update_or_void_made_again_as_a_new_attempt_is_a_new_request(
    client: QboClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same changes to the same version: one requestid per attempt, whatever the call."""
    sent: list[str] = []

    def call(*args: Any, requestid: str = "", **kwargs: Any) -> dict[str, Any]:
        sent.append(requestid)
        return {"Customer": {"Id": "7", "SyncToken": "4"}, "Invoice": {"Id": "7"}}

    monkeypatch.setattr(client, "read", lambda entity, ident: {"Id": ident, "SyncToken": "3"})
    monkeypatch.setattr(client, "call", call)
    for key in ("u@1", "u@1", "u@2"):
        client.update("Customer", "7", {"Notes": "x"}, key=key)
    for key in ("v@1", "v@2"):
        client.void("Invoice", "7", key=key)
    assert sent[0] == sent[1] and len(set(sent)) == 4


def _marked_invoice(api: Api, customer: str, doc: str, note: str) -> dict[str, Any]:
    item = api.query("select * from Item").json()["QueryResponse"]["Item"][0]
    line = {
        "Amount": 10,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": 1, "UnitPrice": 10},
    }
    body = {
        "CustomerRef": {"value": customer},
        "DocNumber": doc,
        "PrivateNote": note,
        "Line": [line],
    }
    response = api.post("invoice", body, include="allowduplicatedocnum")
    assert response.status_code == 200, response.text
    record: dict[str, Any] = response.json()["Invoice"]
    return record


def test_find_takes_only_the_record_the_write_made(client: QboClient, api: Api) -> None:
    one = api.create("Customer", {"DisplayName": "One Co"})["Id"]
    two = api.create("Customer", {"DisplayName": "Two Co"})["Id"]
    theirs = _marked_invoice(api, one, "HP-1", "sync:tps:invoice:inv-1")
    mine = _marked_invoice(api, two, "HP-1", "sync:tps:invoice:inv-2")
    started = datetime.now().astimezone()
    by_number = NaturalKey("DocNumber", "HP-1", customer=two)
    found = client.find("Invoice", by_number, started)
    assert found is not None and found["Id"] == mine["Id"]  # not the other customer's
    elsewhere = NaturalKey("DocNumber", "HP-1", customer="999")
    assert client.find("Invoice", elsewhere, started) is None
    marked = NaturalKey("DocNumber", "HP-1", customer=one, marker="sync:tps:invoice:inv-9")
    assert client.find("Invoice", marked, started) is None  # its customer, not its marker
    by_marker = NaturalKey("PrivateNote", "sync:tps:invoice:inv-1", customer=one)
    found = client.find("Invoice", by_marker, started)
    assert found is not None and found["Id"] == theirs["Id"]
    assert client.find("Invoice", NaturalKey("PrivateNote", "sync:tps:invoice:inv-")) is None
    _marked_invoice(api, one, "HP-5", "Voided - sync:tps:invoice:inv-5")  # as QBO voids it
    voided = NaturalKey("PrivateNote", "sync:tps:invoice:inv-5", marker="sync:tps:invoice:inv-5")
    assert client.find("Invoice", voided, started) is None


def test_find_looks_no_further_back_than_the_attempt(client: QboClient, api: Api) -> None:
    customer = api.create("Customer", {"DisplayName": "Old Co"})
    key = NaturalKey("DisplayName", "Old Co")
    now = datetime.now().astimezone()
    found = client.find("Customer", key, now)
    assert found is not None and found["Id"] == customer["Id"]
    # A record made before the attempt (less the clocks' margin) is not the one it wrote.
    assert client.find("Customer", key, now + timedelta(hours=1)) is None
    invoice = NaturalKey("PrivateNote", "sync:tps:invoice:inv-1")
    _marked_invoice(api, customer["Id"], "HP-9", "sync:tps:invoice:inv-1")
    assert client.find("Invoice", invoice, now + timedelta(hours=1)) is None
    assert client.find("Invoice", invoice, now) is not None


def _mapping(root: Path, patch: str, mapping_id: str) -> Any:
    root.mkdir(exist_ok=True)
    (root / "pack.yaml").write_text(
        "kind: pack\nid: f\nversion: 1.0.0\nextends: [tps-qbo-standard]\n" + patch
    )
    return next(m for m in load_ruleset(root).mappings if m.id == mapping_id)


def test_the_natural_key_is_the_one_the_mapping_declares(tmp_path: Path) -> None:
    body = {
        "DocNumber": "HP-7",
        "CustomerRef": {"value": "58"},
        "PrivateNote": "sync:tps:invoice:inv-7 Billed in October",
    }
    marked = _mapping(tmp_path / "a", "", "invoices")
    assert marked.marker == "invoice"
    assert natural_key(marked, "Invoice", body) == NaturalKey(
        "PrivateNote", "sync:tps:invoice:inv-7", customer="58", marker="sync:tps:invoice:inv-7"
    )
    patch = (
        "patches:\n  - document: invoices\n    remove: [natural_key]\n"
        "  - document: invoices\n    set: {natural_key: {field: DocNumber}}\n"
    )
    by_field = _mapping(tmp_path / "b", patch, "invoices")
    assert (by_field.marker, by_field.natural_key_field) == ("", "DocNumber")
    assert natural_key(by_field, "Invoice", {**body, "PrivateNote": "Billed"}) == NaturalKey(
        "DocNumber", "HP-7", customer="58"
    )
    clients = _mapping(tmp_path / "a", "", "clients")
    assert natural_key(clients, "Customer", {"DisplayName": "Lakeside"}) == NaturalKey(
        "DisplayName", "Lakeside"
    )
    assert natural_key(clients, "Customer", {"Notes": "no name"}) is None
