"""What the initial sync left out as paid history comes back once it is owed again: a
bounced cheque voided in TPS, a QBO payment of paid history deleted, a walk-in's QBO
invoice once its client is added in TPS and pinned."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.sync.sheets_firm import on_sheets
from tpsqbo_engine import cli
from tpsqbo_engine.emulators.tps.export import export_sheets
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.incremental import _referring_again
from tpsqbo_engine.sync.session import Session
from tpsqbo_engine.sync.snapshot import Snapshot

FIRM = """\
firm: {name: "Reopen & Co", invoice_code: RO}
work_codes:
  - {id: wc-1, code: BK, name: Bookkeeping, node_type: work_code, work_type: Bookkeeping,
     class: chargeable, default_rate: "95.00", active: true, tax1: false, tax2: false,
     tax3: false}
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
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
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
        capsys.readouterr()
        assert cli.main(["explain", "tps.Invoice:i-1", "-c", str(session.config.path)]) == 0
        told = capsys.readouterr().out
        assert "next: create qbo.Invoice" in told and "owed again" in told
        assert "nothing to do" not in told
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
        assert [
            op for op in operations if op.record in ("tps.Invoice:i-1", "tps.Payment:p-1")
        ] == []


def _qbo_invoice(qbo: Any, customer: str, doc: str, amount: str) -> dict[str, Any]:
    item = next(i for i in qbo.company.table("Item").values() if i.get("Name") == "Bookkeeping")
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": amount,
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": 1, "UnitPrice": amount},
    }
    body = {"CustomerRef": {"value": customer}, "DocNumber": doc, "TxnDate": "2024-12-31"}
    return dict(qbo.company.create("Invoice", {**body, "Line": [line]}))


def _qbo_payment(
    qbo: Any, customer: str, invoice: dict[str, Any], amount: str = ""
) -> dict[str, Any]:
    link = [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]
    amount = amount or str(invoice["TotalAmt"])
    return dict(
        qbo.company.create(
            "Payment",
            {
                "CustomerRef": {"value": customer},
                "TxnDate": "2025-01-05",
                "TotalAmt": amount,
                "Line": [{"Amount": amount, "LinkedTxn": link}],
            },
        )
    )


def _tps_by_doc(tps: Any, doc: str) -> list[dict[str, Any]]:
    return [i for i in tps.firm.table("invoices").values() if i["doc_number"] == doc]


def test_qbo_paid_history_whose_payment_is_deleted_goes_to_tps(tmp_path: Path) -> None:
    with demo_firm(tmp_path / "books", tps_seed=_seed(tmp_path)) as (session, qbo, tps):
        customer = qbo.company.create(
            "Customer",
            {"DisplayName": "Bounce Ltd", "PrimaryEmailAddr": {"Address": "ap@bounce.example"}},
        )
        history = _qbo_invoice(qbo, customer["Id"], "H-2024-01", "640.00")
        payment = _qbo_payment(qbo, customer["Id"], history)
        time.sleep(1.1)  # read again for the deletion, not for the second the sync reads
        session.backup()
        first = session.sync()
        assert first.counts["Failed"] == 0
        record = f"qbo.Invoice:{history['Id']}"
        assert [i["status"] for i in _items(session, first.run_id, record)] == ["Excluded"]
        assert _tps_by_doc(tps, "H-2024-01") == []
        paid = qbo.company.get("Payment", payment["Id"])
        qbo.company.delete("Payment", {"Id": paid["Id"], "SyncToken": paid["SyncToken"]})
        assert qbo.company.get("Invoice", history["Id"])["Balance"] == Decimal("640.00")
        # the invoice is read again with its deleted payment, whether or not CDC gives it
        deleted = Snapshot()
        deleted.deleted.add(f"qbo.Payment:{payment['Id']}")
        assert _referring_again(session, deleted) == {"qbo.Invoice": {history["Id"]}}
        run = session.sync()
        assert run.counts["Failed"] == 0
        [created] = _tps_by_doc(tps, "H-2024-01")
        assert (created["balance"], created["client_id"]) == ("640.00", "c-1")
        [item] = _items(session, run.run_id, record)
        assert item["status"] == "Successful"
        assert "left out of the initial sync (Paid in full in QBO" in item["message"]
        assert [b for b in session.reconcile() if b.difference] == []


def test_a_walk_in_invoice_goes_to_tps_once_its_client_is_added(tmp_path: Path) -> None:
    with demo_firm(tmp_path / "books", tps_seed=_seed(tmp_path)) as (session, qbo, tps):
        walk_in = qbo.company.create("Customer", {"DisplayName": "Walk-in Wanda"})
        invoice = _qbo_invoice(qbo, walk_in["Id"], "W-1", "120.00")
        time.sleep(1.1)  # not read again for being changed in the second the sync reads
        session.backup()
        first = session.sync()
        record = f"qbo.Invoice:{invoice['Id']}"
        [item] = _items(session, first.run_id, record)
        assert item["status"] == "Excluded" and "not linked to a TPS client" in item["message"]
        # as the message advises: the client added in TPS (and matched by its name)
        session.tps.create(
            "clients", {"id": "c-2", "code": "WAN01", "name": "Walk-in Wanda"}, key="c-2"
        )
        runs = [session.sync()]  # links the client to the customer
        time.sleep(1.1)
        # a reconcile run in between (as `watch --reconcile` records one) reads nothing
        session.state.finish_run(session.state.start_run("reconcile"), "completed")
        assert _referring_again(session, Snapshot()) == {"qbo.Invoice": {invoice["Id"]}}
        runs.append(session.sync())
        # read again once, in the run after the link, not in every run from then on
        assert _referring_again(session, Snapshot()) == {}
        assert [r.counts["Failed"] for r in runs] == [0, 0]
        [created] = _tps_by_doc(tps, "W-1")
        assert (created["balance"], created["client_id"]) == ("120.00", "c-2")
        said = [i for r in runs for i in _items(session, r.run_id, record)]
        assert [i["status"] for i in said] == ["Successful"]
        assert (said[0]["run_id"], said[0]["target"]) == (
            runs[1].run_id,
            f"tps.Invoice:{created['id']}",
        )
        assert "left out of the initial sync (refers to qbo.Customer:" in said[0]["message"]
        assert [b for b in session.reconcile() if b.difference] == []


SPLIT = FIRM.replace(
    """  - {id: p-1, client_id: c-1, date: "2025-02-15", amount: "100.00", method: Cheque,
     reference: "CHQ 2001", applications: [{invoice_id: i-1, amount: "100.00"}]}
""",
    """  - {id: p-1, client_id: c-1, date: "2025-02-15", amount: "60.00", method: Cheque,
     reference: "CHQ 2001", applications: [{invoice_id: i-1, amount: "60.00"}]}
  - {id: p-2, client_id: c-1, date: "2025-02-20", amount: "40.00", method: Cheque,
     reference: "CHQ 2002", applications: [{invoice_id: i-1, amount: "40.00"}]}
""",
)


def test_the_payment_that_still_stands_follows_the_reopened_invoice(tmp_path: Path) -> None:
    seed = tmp_path / "split.yaml"
    seed.write_text(SPLIT, encoding="utf-8")
    with demo_firm(tmp_path / "books", tps_seed=str(seed)) as (session, qbo, tps):
        session.backup()
        first = session.sync()
        left_out = {i["record"] for i in session.state.items(first.run_id, "Excluded")}
        assert {"tps.Invoice:i-1", "tps.Payment:p-1", "tps.Payment:p-2"} <= left_out
        time.sleep(1.1)  # the cheque that stands is not read for the second the sync read
        bounced = tps.firm.table("payments")["p-2"]
        session.tps.update("payments", "p-2", {"status": "void"}, version=bounced["version"])
        run = session.sync()
        assert run.counts["Failed"] == 0
        doc = tps.firm.table("invoices")["i-1"]["doc_number"]
        [created] = _by_doc(qbo, doc)
        # created whole, and the cheque that still pays it goes across with it
        assert (created["TotalAmt"], created["Balance"]) == (Decimal("100.00"), Decimal("40.00"))
        assert [i["status"] for i in _items(session, run.run_id, "tps.Payment:p-1")] == [
            "Successful"
        ]
        assert _items(session, run.run_id, "tps.Payment:p-2") == []
        assert [b for b in session.reconcile() if b.difference] == []


def test_on_sheets_a_bounced_cheque_brings_its_paid_invoice_across(tmp_path: Path) -> None:
    with demo_firm(tmp_path / "books", tps_seed=_seed(tmp_path)) as (api, qbo, tps):
        session = on_sheets(api, tps, tmp_path / "sheets")
        session.backup()
        assert session.sync().counts["Failed"] == 0
        doc = tps.firm.table("invoices")["i-1"]["doc_number"]
        assert _by_doc(qbo, doc) == []
        # the payment voided in TPS, and the next export read
        version = tps.firm.table("payments")["p-1"]["version"]
        tps.firm.update("payments", "p-1", {"status": "void", "version": version}, partial=True)
        export_sheets(tps.firm, tmp_path / "sheets")
        session = Session(session.config)  # the next run reads the new export
        run = session.sync()
        assert run.counts["Failed"] == 0
        [created] = _by_doc(qbo, doc)
        assert created["Balance"] == Decimal("100.00")
        assert [b for b in session.reconcile() if b.difference] == []


def test_the_qbo_payment_that_still_stands_follows_the_reopened_invoice(tmp_path: Path) -> None:
    with demo_firm(tmp_path / "books", tps_seed=_seed(tmp_path)) as (session, qbo, tps):
        customer = qbo.company.create(
            "Customer",
            {"DisplayName": "Bounce Ltd", "PrimaryEmailAddr": {"Address": "ap@bounce.example"}},
        )
        history = _qbo_invoice(qbo, customer["Id"], "H-2024-02", "100.00")
        halves = [_qbo_payment(qbo, customer["Id"], history, "50.00") for _ in range(2)]
        time.sleep(1.1)
        session.backup()
        assert session.sync().counts["Failed"] == 0
        assert _tps_by_doc(tps, "H-2024-02") == []
        paid = qbo.company.get("Payment", halves[1]["Id"])
        qbo.company.delete("Payment", {"Id": paid["Id"], "SyncToken": paid["SyncToken"]})
        run = session.sync()
        assert run.counts["Failed"] == 0
        [created] = _tps_by_doc(tps, "H-2024-02")
        assert (created["total"], created["balance"]) == ("100.00", "50.00")
        assert [b for b in session.reconcile() if b.difference] == []


def test_a_cheque_reduced_in_tps_reopens_its_invoice_for_what_it_no_longer_pays(
    tmp_path: Path,
) -> None:
    seed = tmp_path / "carried.yaml"
    # one cheque over the paid invoice and the open one: carried with its open part
    seed.write_text(
        FIRM.replace(
            'amount: "100.00", method: Cheque,\n     reference: "CHQ 2001", '
            'applications: [{invoice_id: i-1, amount: "100.00"}]}',
            'amount: "120.00", method: Cheque,\n     reference: "CHQ 2001", '
            'applications: [{invoice_id: i-1, amount: "100.00"}, '
            '{invoice_id: i-2, amount: "20.00"}]}',
        ),
        encoding="utf-8",
    )
    with demo_firm(tmp_path / "books", tps_seed=str(seed)) as (session, qbo, tps):
        session.backup()
        first = session.sync()
        [carried] = _items(session, first.run_id, "tps.Payment:p-1")
        assert (
            carried["status"] == "Successful" and "carried with its open part" in carried["message"]
        )
        time.sleep(1.1)
        cheque = tps.firm.table("payments")["p-1"]
        applied = [
            {"invoice_id": "i-1", "amount": "60.00"},
            {"invoice_id": "i-2", "amount": "20.00"},
        ]
        session.tps.update(
            "payments",
            "p-1",
            {"amount": "80.00", "applications": applied},
            version=cheque["version"],
        )
        run = session.sync()
        assert run.counts["Failed"] == 0
        [created] = _by_doc(qbo, tps.firm.table("invoices")["i-1"]["doc_number"])
        assert (created["TotalAmt"], created["Balance"]) == (Decimal("100.00"), Decimal("40.00"))
        assert [b for b in session.reconcile() if b.difference] == []
