"""`undo` of runs on a sheets firm: an invoice change the run made through the outbox is
set back there, the invoice the run sent to TPS is voided there, and each is read back
from the sheets as the write left them, with the version the run kept: the first undo of
each run ends Undone, not "not taken back" or "changed since"."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.sync.sheets_firm import on_sheets
from tpsqbo_engine.connectors.tps.filebooks import FileBooks
from tpsqbo_engine.sync.awkward import sale_line
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.session import Session
from tpsqbo_engine.sync.undo import plan_undo
from tpsqbo_engine.sync.undo_apply import apply_undo


def test_a_first_undo_of_runs_writing_through_the_outbox_ends_undone(
    tmp_path: Path,
) -> None:
    with demo_firm(tmp_path) as (api, qbo, tps):
        folder = tmp_path / "tps-export"
        session = on_sheets(api, tps, folder)
        session.backup()
        session.sync()  # the firm linked, through its sheets

        linked = session.state.links("Invoice|Invoice")[0]["qbo_id"]  # its item is linked
        some = qbo.company.get("Invoice", linked)
        item = some["Line"][0]["SalesItemLineDetail"]["ItemRef"]
        made = qbo.company.create(
            "Invoice",
            {
                "CustomerRef": some["CustomerRef"],
                "DocNumber": "Q-9100",
                "TxnDate": "2026-11-20",
                "Line": [sale_line(item, "120.00", "Year-end review")],
            },
        )
        run = session.sync().run_id
        target = f"qbo.Invoice:{made['Id']}"
        assert [i["status"] for i in session.state.items(run) if i["record"] == target] == [
            "Successful"
        ]
        assert session.tps.get("invoices", "Q-9100")["total"] == Decimal("120.00")

        # Raised in QBO: the next run changes it in TPS (on its waiting import row).
        line = sale_line(item, "150.00", "Year-end review")
        current = qbo.company.get("Invoice", made["Id"])
        body = {"Id": made["Id"], "SyncToken": current["SyncToken"], "Line": [line]}
        qbo.company.update("Invoice", body, sparse=True)
        raised = Session(session.config).sync().run_id
        assert FileBooks(folder, "x").get("invoices", "Q-9100")["total"] == Decimal("150.00")

        for undone, left in ((raised, ("outstanding", "120.00")), (run, ("void", "0.00"))):
            session = Session(session.config)  # `undo --run N`: the sheets read afresh
            summary = apply_undo(session, plan_undo(session, undone), "test")
            said = [(i["status"], i["message"]) for i in session.state.items(summary.run_id)]
            assert said and {s for s, _ in said} == {"Undone"}, said
            assert summary.complete
            (row,) = session.state.db.table("runs").rows_where("id = ?", [undone])
            assert row["status"] == "undone"
            now = FileBooks(folder, "x").get("invoices", "Q-9100")
            assert (now["status"], str(now["balance"])) == left
