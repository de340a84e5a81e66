"""An invoice raised in QBO with the number of a TPS invoice the sync has not read this run
(paid history the initial sync left out) is held for review, as in the initial sync, not
created in TPS a second time under that number."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.sync.test_reopened_history import FIRM, _qbo_invoice, _tps_by_doc
from tpsqbo_engine.sync.demo import demo_firm


def test_a_qbo_invoice_numbered_as_a_left_out_tps_invoice_waits_for_review(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = tmp_path / "firm.yaml"
    seed.write_text(FIRM, encoding="utf-8")
    with demo_firm(tmp_path / "books", tps_seed=str(seed)) as (session, qbo, tps):
        session.backup()
        assert session.sync().counts["Failed"] == 0
        [customer] = [r["qbo_id"] for r in session.state.links("Client|Customer")]
        doc = tps.firm.table("invoices")["i-1"]["doc_number"]  # paid, so left out
        time.sleep(1.1)  # the TPS invoice is unchanged since: not read again
        rush = _qbo_invoice(qbo, customer, doc, "75.00")
        run = session.sync()
        assert [i["doc_number"] for i in _tps_by_doc(tps, doc)] == [doc]  # no second one
        [item] = [
            i for i in session.state.items(run.run_id) if i["record"] == f"qbo.Invoice:{rush['Id']}"
        ]
        assert (item["status"], item["action"]) == ("Warning", "review")
        assert f"{doc} exists in TPS" in item["message"] and "tps.Invoice:i-1" in item["message"]
        assert run.counts["Failed"] == 0
        # while the review waits on the firm, each run looks again reading the TPS invoice
        # it names, not TPS's whole list of invoices
        wholes: list[str] = []
        records = session.tps.records

        def counted(resource: str, updated_since: str = "", page_size: int = 500) -> Any:
            if not updated_since:
                wholes.append(resource)
            return records(resource, updated_since, page_size)

        monkeypatch.setattr(session.tps, "records", counted)
        again = session.sync()
        [item] = [
            i
            for i in session.state.items(again.run_id)
            if i["record"] == f"qbo.Invoice:{rush['Id']}"
        ]
        assert (item["status"], item["action"]) == ("Warning", "review")
        assert "invoices" not in wholes
        assert len(_tps_by_doc(tps, doc)) == 1


def test_a_qbo_invoice_of_a_new_number_still_goes_to_tps(tmp_path: Path) -> None:
    seed = tmp_path / "firm.yaml"
    seed.write_text(FIRM, encoding="utf-8")
    with demo_firm(tmp_path / "books", tps_seed=str(seed)) as (session, qbo, tps):
        session.backup()
        session.sync()
        [customer] = [r["qbo_id"] for r in session.state.links("Client|Customer")]
        _qbo_invoice(qbo, customer, "Q-5001", "75.00")
        run = session.sync()
        assert run.counts["Successful"] >= 1
        [made] = _tps_by_doc(tps, "Q-5001")
        assert made["balance"] == "75.00"


def test_a_qbo_invoice_numbered_as_a_void_tps_invoice_neither_links_nor_rewrites_it(
    tmp_path: Path,
) -> None:
    seed = tmp_path / "firm.yaml"
    void = """  - {id: i-3, client_id: c-1, status: void, date: "2025-01-15",
     due_date: "2025-02-15",
     lines: [{line_no: 1, work_code: BK, description: Cancelled, amount: "500.00"}]}
"""
    seed.write_text(FIRM.replace("payments:\n", void + "payments:\n"), encoding="utf-8")
    with demo_firm(tmp_path / "books", tps_seed=str(seed)) as (session, qbo, tps):
        session.backup()
        assert session.sync().counts["Failed"] == 0
        [customer] = [r["qbo_id"] for r in session.state.links("Client|Customer")]
        before = dict(tps.firm.table("invoices")["i-3"])
        time.sleep(1.1)
        rush = _qbo_invoice(qbo, customer, before["doc_number"], "75.00")
        run = session.sync()
        [item] = [
            i for i in session.state.items(run.run_id) if i["record"] == f"qbo.Invoice:{rush['Id']}"
        ]
        assert (item["status"], item["action"]) == ("Warning", "review")
        assert "it is void in TPS" in item["message"]
        assert tps.firm.table("invoices")["i-3"] == before  # not rewritten
        assert len(_tps_by_doc(tps, before["doc_number"])) == 1
        assert session.state.links_of("Invoice|Invoice", {rush["Id"]}) == []
