"""A transaction voided in TPS owes nothing there, whatever balance or amount it keeps: the
sync voids its QBO copy, and the reconciliation finds the books agreeing."""

from __future__ import annotations

from pathlib import Path

from tpsqbo_engine.sync.demo import demo_firm


def test_voided_adjustments_and_finance_charges_reconcile(tmp_path: Path) -> None:
    with demo_firm(tmp_path) as (session, _qbo, tps):
        session.backup()
        session.sync()
        assert [b.client for b in session.reconcile() if b.difference] == []
        increase = next(
            a for a in tps.firm.table("adjustments").values() if a["direction"] == "increase"
        )
        charge = next(iter(tps.firm.table("finance-charges").values()))
        assert charge.get("balance") not in (None, "0", "0.00")  # it still shows as owed
        for resource, record in (("adjustments", increase), ("finance-charges", charge)):
            changes = {"status": "void"}
            session.tps.update(resource, record["id"], changes, version=record["version"])
        summary = session.sync()
        assert summary.counts["Failed"] == 0
        voided = [
            item["record"]
            for item in session.state.items(summary.run_id)
            if item["message"].startswith("voided")
        ]
        assert f"tps.Adjustment:{increase['id']}" in voided
        assert f"tps.FinanceCharge:{charge['id']}" in voided
        assert [b.client for b in session.reconcile() if b.difference] == []
