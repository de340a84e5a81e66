"""A sync updating an invoice a payment has just moved on (QBO bumps the paid invoice's
SyncToken): the stale token's 5010 is met by reading the invoice again and re-applying."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tpsqbo_engine.sync.demo import demo_firm


def test_an_invoice_paid_between_read_and_write_is_updated_all_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with demo_firm(tmp_path) as (session, qbo, tps):
        session.backup()
        assert session.sync().counts["Failed"] == 0
        links = {r["qbo_id"]: r["tps_id"] for r in session.state.links("Invoice|Invoice")}
        invoice = next(
            i
            for i in qbo.company.table("Invoice").values()
            if i["Id"] in links and i["Balance"] > 0 and i.get("BillEmail")
        )
        owed = invoice["Balance"]
        client_id = tps.firm.table("invoices")[links[invoice["Id"]]]["client_id"]
        client = tps.firm.table("clients")[client_id]
        session.tps.update(
            "clients", client_id, {"email": "ap@changed.example"}, version=client["version"]
        )
        # The client pays in QBO after the engine planned from the invoice as it was, just
        # before the engine's batch of updates goes out.
        client_type = type(session.qbo)
        real_batch = client_type.batch
        paid: list[dict[str, Any]] = []

        def pay_then_batch(self: Any, ops: Any) -> Any:
            if not paid:
                link = [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]
                customer = {"value": invoice["CustomerRef"]["value"]}
                paid.append(
                    qbo.company.create(
                        "Payment",
                        {
                            "CustomerRef": customer,
                            "TotalAmt": "1.00",
                            "Line": [{"Amount": "1.00", "LinkedTxn": link}],
                        },
                    )
                )
            return real_batch(self, ops)

        monkeypatch.setattr(client_type, "batch", pay_then_batch)
        before = qbo.company.get("Invoice", invoice["Id"])["SyncToken"]
        run = session.sync()
        assert run.counts["Failed"] == 0 and paid
        now = qbo.company.get("Invoice", invoice["Id"])
        assert now["BillEmail"]["Address"] == "ap@changed.example"
        assert int(now["SyncToken"]) == int(before) + 2  # the payment's bump, then the update
        assert now["Balance"] == owed - Decimal("1.00")
