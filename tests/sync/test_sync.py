"""The sync end to end, against both emulators over loopback."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer
from tpsqbo_engine.sync.demo import demo_firm, run_demo
from tpsqbo_engine.sync.executor import Executor
from tpsqbo_engine.sync.plan import Plan
from tpsqbo_engine.sync.session import ChecklistFailed, Session, StalePlan

Firm = tuple[Session, QboEmulatorServer, TpsEmulatorServer]


@pytest.fixture
def firm(tmp_path: Path) -> Iterator[Firm]:
    with demo_firm(tmp_path) as started:
        started[0].backup()
        yield started


def _doc_numbers(qbo: QboEmulatorServer) -> Counter[str]:
    return Counter(str(i.get("DocNumber")) for i in qbo.company.table("Invoice").values())


def test_the_demo_reconciles_to_zero_and_leaves_its_files(tmp_path: Path) -> None:
    lines: list[str] = []
    assert run_demo(tmp_path, lines.append) == 0
    text = "\n".join(lines)
    assert "0 client(s) with a difference" in text and "0 write(s) planned" in text
    for name in ("tpsqbo.yaml", "plan.json", "history.json", "reconciliation.json", "report.html"):
        assert (tmp_path / name).is_file()
    page = (tmp_path / "report.html").read_text()
    assert "Reconciliation" in page and "0 client(s) with a difference" in page
    assert list((tmp_path / ".tpsqbo" / "backups").glob("*.jsonl.gz"))
    assert (tmp_path / ".tpsqbo" / "qbo-tokens.json").stat().st_mode & 0o777 == 0o600
    assert run_demo(tmp_path, lines.append) == 0  # a second demo starts afresh


def test_initial_sync_pushes_open_ar_only_and_a_second_sync_writes_nothing(firm: Firm) -> None:
    session, qbo, tps = firm
    summary = session.sync()
    assert summary.counts["Failed"] == 0 and summary.counts["Successful"] > 100
    paid = [i for i in tps.firm.table("invoices").values() if i["balance"] == "0.00"]
    pushed = _doc_numbers(qbo)
    assert paid and not any(i["doc_number"] in pushed for i in paid)
    assert max(pushed.values()) == 1
    plan, _ = session.plan()
    assert plan.writes() == []
    assert all(not r.difference for r in session.reconcile())


def test_namesake_clients_get_distinct_display_names(firm: Firm) -> None:
    session, qbo, _ = firm
    session.sync()
    names = [
        c["DisplayName"]
        for c in qbo.company.table("Customer").values()
        if c["DisplayName"].startswith("Rosewood Bakery")
    ]
    assert sorted(names) == ["Rosewood Bakery", "Rosewood Bakery (ROSEWO035)"]


class _Crash(BaseException):
    """Stands for the process dying: nothing catches it."""


def _sync_crashing_at(session: Session, monkeypatch: pytest.MonkeyPatch, after: int) -> None:
    """A sync that dies after its `after`-th write reached QBO, before its state did."""
    real = Executor._commit
    calls = {"n": 0}

    def crash_after_the_write(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == after:
            raise _Crash  # the QBO write happened; its link and history did not
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Executor, "_commit", crash_after_the_write)
    with pytest.raises(_Crash):
        session.sync()
    monkeypatch.setattr(Executor, "_commit", real)


def _edit_client(session: Session, tps: TpsEmulatorServer, name: str, changes: dict) -> dict:
    client = next(c for c in tps.firm.table("clients").values() if c["name"] == name)
    return session.tps.update("clients", client["id"], changes, version=client["version"])


def _edit_customer(qbo: QboEmulatorServer, name: str, changes: dict) -> dict:
    customer = qbo.company.find_by("Customer", "DisplayName", name)
    assert customer is not None
    return qbo.company.update(
        "Customer",
        {"Id": customer["Id"], "SyncToken": customer["SyncToken"], "sparse": True, **changes},
        sparse=True,
    )


@pytest.mark.parametrize("after", [1, 45, 120, 160])
def test_a_crash_between_a_write_and_its_state_loses_and_duplicates_nothing(
    firm: Firm, monkeypatch: pytest.MonkeyPatch, after: int
) -> None:
    session, qbo, _ = firm
    _sync_crashing_at(session, monkeypatch, after)
    summary = session.sync()
    assert summary.counts["Failed"] == 0
    assert max(_doc_numbers(qbo).values()) == 1
    displays = Counter(c["DisplayName"] for c in qbo.company.table("Customer").values())
    assert max(displays.values()) == 1
    assert session.plan()[0].writes() == []
    assert all(not r.difference for r in session.reconcile())


@pytest.mark.parametrize("after", [80, 160])
def test_a_crash_with_requestid_ignored_is_caught_by_the_natural_key_guard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after: int
) -> None:
    with demo_firm(tmp_path, faults="ignore-requestid") as (session, qbo, _):
        session.backup()
        _sync_crashing_at(session, monkeypatch, after)
        session.sync()
        assert max(_doc_numbers(qbo).values()) == 1
        notes = Counter(str(p.get("PrivateNote")) for p in qbo.company.table("Payment").values())
        assert max(notes.values()) == 1


def test_the_initial_sync_is_refused_when_qbo_holds_transactions_tps_cannot_read(
    tmp_path: Path,
) -> None:
    with demo_firm(tmp_path, qbo_seed="sandbox-us") as (session, _, _):
        session.backup()
        with pytest.raises(ChecklistFailed) as refused:
            session.sync()
        assert "no-blocking-transactions" in str(refused.value)
        forced = session.sync(force_reason="consultant approved: legacy memos stay in QBO")
        assert forced.forced_reason.startswith("consultant approved")
        blocked = session.state.items(forced.run_id, "Failed")
        # The sandbox's credit memo is unapplied: it is a credit, and goes to TPS as one.
        assert {i["record"].split(":")[0] for i in blocked} >= {"qbo.Deposit", "qbo.JournalEntry"}


def test_a_reviewed_plan_is_refused_if_its_targets_changed(firm: Firm, tmp_path: Path) -> None:
    session, qbo, tps = firm
    session.sync()
    _edit_client(session, tps, "Red Rock Diner", {"phone": "(503) 555-0000"})
    plan, _ = session.plan()
    path = tmp_path / "plan.json"
    path.write_text(plan.to_json())
    _edit_customer(qbo, "Red Rock Diner", {"Notes": "edited meanwhile"})
    with pytest.raises(StalePlan):
        session.sync(given=Plan.from_file(path))


def test_changed_on_both_sides_is_flagged_and_nothing_written(firm: Firm) -> None:
    session, qbo, tps = firm
    session.sync()
    client = _edit_client(session, tps, "Lakeside Marina", {"phone": "(503) 555-1111"})
    customer = _edit_customer(
        qbo, "Lakeside Marina", {"PrimaryPhone": {"FreeFormNumber": "(503) 555-2222"}}
    )
    summary = session.sync()
    flagged = session.state.items(summary.run_id, "Warning")
    assert [i["record"] for i in flagged] == [f"tps.Client:{client['id']}"]
    assert (
        qbo.company.get("Customer", customer["Id"])["PrimaryPhone"]["FreeFormNumber"]
        == "(503) 555-2222"
    )


def test_ignore_takes_a_record_out_and_unignore_brings_it_back(firm: Firm) -> None:
    session, qbo, tps = firm
    invoice = next(i for i in tps.firm.table("invoices").values() if i["status"] == "outstanding")
    record = f"tps.Invoice:{invoice['id']}"
    session.state.ignore(record, "disputed")
    first = session.sync()
    assert [i["record"] for i in session.state.items(first.run_id, "Ignored")] == [record]
    assert invoice["doc_number"] not in _doc_numbers(qbo)
    assert session.state.unignore(record)
    session.sync()
    assert invoice["doc_number"] in _doc_numbers(qbo)


def test_voids_travel_both_ways(firm: Firm) -> None:
    session, qbo, tps = firm
    session.sync()
    open_invoices = [
        i
        for i in tps.firm.table("invoices").values()
        if i["status"] == "outstanding" and i["balance"] == i["total"]
    ]
    in_tps, in_qbo = open_invoices[0], open_invoices[1]
    session.tps.update("invoices", in_tps["id"], {"status": "void"}, version=in_tps["version"])
    pushed = qbo.company.find_by("Invoice", "DocNumber", in_qbo["doc_number"])
    assert pushed is not None
    session.qbo.void("Invoice", pushed["Id"])
    summary = session.sync()
    assert summary.counts["Failed"] == 0
    voided_in_qbo = qbo.company.find_by("Invoice", "DocNumber", in_tps["doc_number"])
    assert voided_in_qbo is not None and voided_in_qbo["TotalAmt"] == 0
    assert tps.firm.get("invoices", in_qbo["id"])["status"] == "void"
    assert all(not r.difference for r in session.reconcile())
    assert session.plan()[0].writes() == []


def test_a_batched_update_that_meets_a_newer_version_is_read_again_and_applied(firm: Firm) -> None:
    session, qbo, tps = firm
    session.sync()
    invoice, other = [
        i
        for i in tps.firm.table("invoices").values()
        if i["status"] == "outstanding" and i["lines"]
    ][:2]
    for changed in (invoice, other):  # two updates of one mapping: they go as one batch
        lines = [dict(line) for line in changed["lines"]]
        lines[0]["description"] = "Revised description"
        session.tps.update("invoices", changed["id"], {"lines": lines}, version=changed["version"])
    plan, _ = session.plan()
    assert len(Executor._batchable(plan.writes(), 0)) == 2
    batches_before = session.qbo.stats.batch_calls
    pushed = qbo.company.find_by("Invoice", "DocNumber", invoice["doc_number"])
    assert pushed is not None
    qbo.company.update(
        "Invoice",
        {
            "Id": pushed["Id"],
            "SyncToken": pushed["SyncToken"],
            "sparse": True,
            "CustomerMemo": {"value": "Edited in QBO"},
        },
        sparse=True,
    )
    run_id = session.state.start_run("ongoing")
    Executor(plan, session.rules, session.state, session.qbo, session.tps, run_id).apply()
    now = qbo.company.get("Invoice", pushed["Id"])
    assert now["CustomerMemo"]["value"] == "Edited in QBO"
    assert any("Revised description" in str(line.get("Description")) for line in now["Line"])
    assert [i["status"] for i in session.state.items(run_id)] == ["Successful"] * 2
    assert session.qbo.stats.batch_calls == batches_before + 1


def test_every_pushed_invoice_has_the_same_balance_in_both_systems(firm: Firm) -> None:
    session, qbo, tps = firm
    summary = session.sync()
    applied = [
        i
        for i in session.state.items(summary.run_id, "Successful")
        if i["mapping"] == "adjustment-decrease-applications"
    ]
    assert applied  # decreases applied to invoices are applied in QBO too
    balances = {str(i["DocNumber"]): i["Balance"] for i in qbo.company.table("Invoice").values()}
    differing = [
        i["doc_number"]
        for i in tps.firm.table("invoices").values()
        if i["doc_number"] in balances and balances[i["doc_number"]] != Decimal(i["balance"])
    ]
    assert differing == []


def test_deletes_in_qbo_void_what_came_from_qbo_and_list_what_came_from_tps(firm: Firm) -> None:
    session, qbo, tps = firm
    session.sync()
    customer = qbo.company.find_by("Customer", "DisplayName", "Red Rock Diner")
    item = qbo.company.find_by("Item", "Name", "Business advisory")
    assert customer is not None and item is not None
    raised = qbo.company.create(
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "DocNumber": "Q-77",
            "Line": [
                {
                    "Amount": Decimal("90.00"),
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
                }
            ],
        },
    )
    session.sync()
    copied = next(i for i in tps.firm.table("invoices").values() if i["doc_number"] == "Q-77")
    unpaid = next(
        i
        for i in tps.firm.table("invoices").values()
        if i["status"] == "outstanding"
        and i["balance"] == i["total"]
        and i["doc_number"].startswith("HP-")
    )
    pushed = qbo.company.find_by("Invoice", "DocNumber", unpaid["doc_number"])
    assert pushed is not None
    for gone in (raised, pushed):
        qbo.company.delete("Invoice", {"Id": gone["Id"], "SyncToken": gone["SyncToken"]})
    summary = session.sync()
    assert tps.firm.get("invoices", copied["id"])["status"] == "void"
    warned = session.state.items(summary.run_id, "Warning")
    assert [i["record"] for i in warned] == [f"tps.Invoice:{unpaid['id']}"]
    assert "deleted in QBO" in warned[0]["message"]
    assert qbo.company.find_by("Invoice", "DocNumber", unpaid["doc_number"]) is None
    assert session.plan()[0].writes() == []


def test_a_clients_new_email_reaches_its_open_invoices(firm: Firm) -> None:
    session, qbo, tps = firm
    session.sync()
    _edit_client(session, tps, "Lakeside Marina", {"email": "new-ap@lakeside.example"})
    session.sync()
    customer = qbo.company.find_by("Customer", "DisplayName", "Lakeside Marina")
    assert customer is not None
    open_invoices = [
        i
        for i in qbo.company.table("Invoice").values()
        if i["CustomerRef"]["value"] == customer["Id"] and i["Balance"] > 0
    ]
    assert open_invoices
    assert {i["BillEmail"]["Address"] for i in open_invoices} == {"new-ap@lakeside.example"}


def test_a_run_resumed_a_day_later_without_requestids_creates_nothing_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lost-response lookup looks back to the journal's first attempt, not 10 minutes."""
    from datetime import UTC, datetime, timedelta

    with demo_firm(tmp_path, faults="ignore-requestid") as (session, qbo, _):
        session.backup()
        _sync_crashing_at(session, monkeypatch, 160)  # a payment reached QBO; its state did not
        day = timedelta(days=1)
        for table in ("Invoice", "Payment", "Customer"):
            for record in qbo.company.table(table).values():
                meta = record["MetaData"]
                for stamp in ("CreateTime", "LastUpdatedTime"):
                    meta[stamp] = (datetime.fromisoformat(meta[stamp]) - day).isoformat()
        earlier = (datetime.now(UTC) - day).isoformat(timespec="seconds")
        session.state.db.execute("update journal set started_at = ?", [earlier])
        session.state.db.conn.commit()
        session.sync()
        notes = Counter(str(p.get("PrivateNote")) for p in qbo.company.table("Payment").values())
        assert notes and max(notes.values()) == 1
