"""More than 1,000 changes in one second, which CDC cannot page past (QBO stamps to the
second): no change is lost, deletions included, or the read stops with what to run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.qbo.conftest import Api
from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer


def test_cdc_saturated_in_one_second_keeps_deletions(
    client: QboClient, qbo_server: QboEmulatorServer, api: Api
) -> None:
    company = qbo_server.company
    stamp = company.timestamp()
    company.timestamp = lambda: stamp  # type: ignore[method-assign]  # all in one second
    item = api.query("SELECT * FROM Item WHERE Type = 'Service'").json()["QueryResponse"]["Item"][0]
    gone_co = company.create("Customer", {"DisplayName": "Gone Co"})
    line = {"ItemRef": {"value": item["Id"]}, "Qty": 1, "UnitPrice": 10}
    invoice = company.create(
        "Invoice",
        {
            "CustomerRef": {"value": gone_co["Id"]},
            "Line": [
                {"Amount": 10, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": line}
            ],
        },
    )
    for n in range(1000):
        company.create("Customer", {"DisplayName": f"Bulk {n}"})
    token = company.get("Invoice", invoice["Id"])["SyncToken"]
    company.delete("Invoice", {"Id": invoice["Id"], "SyncToken": token})
    current = company.get("Customer", gone_co["Id"])
    company.update(
        "Customer",
        {"Id": current["Id"], "SyncToken": current["SyncToken"], "Active": False},
        sparse=True,
    )
    since = datetime.fromisoformat(stamp) - timedelta(seconds=5)
    raw = api.get("cdc", entities="Customer,Invoice", changedSince=since.isoformat()).json()
    first = raw["CDCResponse"][0]["QueryResponse"]
    assert sum(len(v) for e in first for v in e.values() if isinstance(v, list)) == 1000

    changes = client.cdc(["Customer", "Invoice"], since)

    deleted = [r["Id"] for r in changes["Invoice"] if r.get("status") == "Deleted"]
    assert deleted == [invoice["Id"]]
    names = {r["DisplayName"]: r for r in changes["Customer"]}
    assert {f"Bulk {n}" for n in range(1000)} <= set(names)
    assert names["Gone Co"]["Active"] is False  # made inactive in that second: seen too


def _one_second(entity: str) -> Any:
    """A server whose every CDC answer is 1,000 changes of `entity` in one second."""
    moment = datetime(2026, 11, 2, 9, 0, tzinfo=UTC).isoformat()
    rows = [{"Id": str(n), "MetaData": {"LastUpdatedTime": moment}} for n in range(1000)]
    return {"CDCResponse": [{"QueryResponse": [{entity: rows}]}]}


def test_a_transaction_saturating_one_second_alone_is_queried_and_the_run_says_so(
    client: QboClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[str] = []

    def answer(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        if path == "cdc":
            return _one_second("Invoice")
        statements.append(str(kwargs["text"]))
        rows = [{"Id": "1001", "MetaData": {"LastUpdatedTime": "x"}}]
        return {"QueryResponse": {"Invoice": rows}}

    monkeypatch.setattr(client, "call", answer)
    changes = client.cdc(["Invoice"], datetime(2026, 11, 2, 8, 0, tzinfo=UTC))
    assert "MetaData.LastUpdatedTime >= '2026-11-02T09:00:00+00:00'" in statements[0]
    assert "Active" not in statements[0]  # a transaction has no Active to ask for
    assert len(changes["Invoice"]) == 1001  # CDC's 1,000 and the query's one
    (note,) = client.stats.notes
    assert "more than 1,000 Invoice records" in note and "2026-11-02T09:00:00+00:00" in note
    assert "deleted in QBO in that second is not seen" in note


def test_a_name_list_saturating_one_second_alone_is_queried_inactive_ones_included(
    client: QboClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[str] = []

    def answer(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        if path == "cdc":
            return _one_second("Customer")
        statements.append(str(kwargs["text"]))
        rows = [{"Id": "1", "Active": False, "MetaData": {"LastUpdatedTime": "x"}}]
        return {"QueryResponse": {"Customer": rows}}

    monkeypatch.setattr(client, "call", answer)
    changes = client.cdc(["Customer"], datetime(2026, 11, 2, 8, 0, tzinfo=UTC))
    assert "Active IN (true, false)" in statements[0]
    assert "MetaData.LastUpdatedTime >= '2026-11-02T09:00:00+00:00'" in statements[0]
    assert len(changes["Customer"]) == 1001  # CDC's 1,000 and the query's one
