"""What the initial sync left out as paid history comes back once it is owed again: a
bounced cheque voided in TPS, a QBO payment of paid history deleted, a walk-in's QBO
invoice once its client is added in TPS and pinned."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.session import Session

FIRM = """\
firm: {name: "Reopen & Co", invoice_code: RO}
work_codes:
  - {id: wc-1, code: BK, name: Bookkeeping, node_type: work_code, work_type: Bookkeeping,
     class: chargeable, default_rate: "95.00", active: true, tax1: false}
clients:
  - {id: c-1, code: BOU01, name: "Bounce Ltd", email: ap@bounce.example}
invoices:
  - {id: i-1, client_id: c-1, date: "2025-01-31", due_date: "2025-03-02",
     lines: [{line_no: 1, work_code: BK, description: Jan, amount: "100.00"}]}
  - {id: i-2, client_id: c-1, date: "2025-02-28", due_date: "2025-03-30",
     lines: [{line_no: 1, work_code: BK, description: Feb, amount: "40.00"}]}
payments:
  - {id: p-1, client_id: c-1, date: "2025-02-15", amount: "100.00", method: Cheque,
     reference: "CHQ 2001", applications: [{invoice_id: i-1, amount: "100.00"}]}
"""


def _seed(tmp_path: Path) -> str:
    path = tmp_path / "firm.yaml"
    path.write_text(FIRM, encoding="utf-8")
    return str(path)


def _items(session: Session, run_id: int, record: str) -> list[dict[str, Any]]:
    return [i for i in session.state.items(run_id) if i["record"] == record]


def _by_doc(qbo: Any, doc: str) -> list[dict[str, Any]]:
    return [i for i in qbo.company.table("Invoice").values() if i.get("DocNumber") == doc]


def test_a_paid_invoice_whose_cheque_bounced_goes_across_with_what_is_owed(
    tmp_path: Path,
) -> None:
    with demo_firm(tmp_path / "books", tps_seed=_seed(tmp_path)) as (session, qbo, tps):
        session.backup()
        first = session.sync()
        assert first.counts["Failed"] == 0
        assert [i["status"] for i in _items(session, first.run_id, "tps.Invoice:i-1")] == [
            "Excluded"
        ]
        doc = tps.firm.table("invoices")["i-1"]["doc_number"]
        assert _by_doc(qbo, doc) == []
        cheque = tps.firm.table("payments")["p-1"]
        session.tps.update("payments", "p-1", {"status": "void"}, version=cheque["version"])
        assert tps.firm.table("invoices")["i-1"]["balance"] == "100.00"
        # what the next run would do is said before it is done
        upcoming = [op for op in session.plan()[0].operations if op.record == "tps.Invoice:i-1"]
        assert [op.action for op in upcoming] == ["create"]
        assert "left out of the initial sync" in upcoming[0].message
        run = session.sync()
        assert run.counts["Failed"] == 0
        [created] = _by_doc(qbo, doc)
        assert created["Balance"] == Decimal("100.00")
        [item] = _items(session, run.run_id, "tps.Invoice:i-1")
        assert item["status"] == "Successful"
        assert "left out of the initial sync (Fully paid" in item["message"]
        assert "owed again" in item["message"]
        assert [b for b in session.reconcile() if b.difference] == []
        # the next run has nothing more to do for it
        assert _items(session, session.sync().run_id, "tps.Invoice:i-1") == []
        assert len(_by_doc(qbo, doc)) == 1


def test_paid_history_still_paid_stays_out_without_a_word(tmp_path: Path) -> None:
    with demo_firm(tmp_path / "books", tps_seed=_seed(tmp_path)) as (session, _, tps):
        session.backup()
        session.sync()
        # a change that leaves it paid (its cheque's memo) brings it into the read, not back
        cheque = tps.firm.table("payments")["p-1"]
        session.tps.update("payments", "p-1", {"reference": "CHQ 2001A"}, version=cheque["version"])
        operations = session.plan()[0].operations
        assert [op for op in operations if op.record in ("tps.Invoice:i-1", "tps.Payment:p-1")] == []
