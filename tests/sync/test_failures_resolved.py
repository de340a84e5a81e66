"""A failure is said to be resolved only by the mapping it failed under, once that mapping
has nothing left to write: a record two mappings write (an adjustment's credit memo and its
application to an invoice) keeps its failure while the invoice it waits for still fails."""

from __future__ import annotations

from pathlib import Path

from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.planner import RESOLVED


def test_a_failure_under_one_mapping_is_not_resolved_by_another(tmp_path: Path) -> None:
    with demo_firm(tmp_path) as (session, _, tps):
        invoice = tps.firm.table("invoices")["inv-1002"]
        good = [dict(line) for line in invoice["lines"]]
        invoice["lines"][0]["amount"] = "NaN"  # the invoice fails, and what waits for it
        session.backup()
        first = session.sync()
        rows = session.state.items(first.run_id)
        failed = {(i["mapping"], i["record"]) for i in rows if i["status"] == "Failed"}
        written = {(i["mapping"], i["record"]) for i in rows if i["status"] == "Successful"}
        both = {record for _, record in failed} & {record for _, record in written}
        assert both  # written under one mapping, failed under another

        second = session.sync()  # nothing changed: the invoice still fails
        said = session.state.items(second.run_id)
        assert not [i for i in said if i["record"] in both and i["message"] == RESOLVED]
        assert both <= session.failed_records()

        tps.firm.update(
            "invoices", "inv-1002", {"lines": good, "version": invoice["version"]}, partial=True
        )
        third = session.sync()
        assert third.counts["Failed"] == 0
        assert not (both & session.failed_records())
