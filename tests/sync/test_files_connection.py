"""The sync with TPS as sheets: export sheets in, TPS import sheets out."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sync.sheets_firm import example_sheets_firm
from tpsqbo_engine.connectors.tps import sheetreading
from tpsqbo_engine.sync.session import Session


def test_a_firm_without_an_endpoint_syncs_from_sheets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with example_sheets_firm(tmp_path, monkeypatch) as (session, sheets, qbo):
        first = session.sync()
        failed = [(i["record"], i["message"]) for i in session.state.items(first.run_id, "Failed")]
        assert failed == []
        assert first.counts["Successful"] > 100
        assert all(not row.difference for row in session.reconcile())
        customer = qbo.company.find_by("Customer", "DisplayName", "Red Rock Diner")
        item = qbo.company.find_by("Item", "Name", "Monthly bookkeeping")
        assert customer is not None and item is not None
        qbo.company.create(
            "Invoice",
            {
                "CustomerRef": {"value": customer["Id"]},
                "DocNumber": "Q-9",
                "Line": [
                    {
                        "Amount": 80,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
                    }
                ],
            },
        )
        second = Session(session.config).sync()
        assert second.counts["Failed"] == 0
    outbox = sheetreading.read_invoices(sheets / "outbox" / "import-invoices.csv")
    assert [(i["doc_number"], i["client_id"], i["subtotal"]) for i in outbox] == [
        ("Q-9", "REDROC005", "80.00")
    ]
