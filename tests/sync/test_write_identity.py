"""A write's identity across runs: its requestid / Idempotency-Key names one attempt. A run
resuming an attempt left without an outcome carries it on (nothing is written twice); a write
made again once its attempt concluded (failed, or undone) is a new request, which QBO and TPS
run. The look-up after a lost answer finds only the record the write made."""

from __future__ import annotations

import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest

from tpsqbo_engine import resources
from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.retry import RetryPolicy
from tpsqbo_engine.connectors.tps.client import TpsClient, TpsSource
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer
from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.state import StateStore
from tpsqbo_engine.sync.bookkeeping import Bookkeeping, intent_row
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.plan import Operation, Plan
from tpsqbo_engine.sync.session import Session
from tpsqbo_engine.sync.undo import plan_undo
from tpsqbo_engine.sync.undo_apply import apply_undo


def _statuses(session: Session, run_id: int, prefix: str) -> Counter[str]:
    return Counter(
        i["status"] for i in session.state.items(run_id) if i["record"].startswith(prefix)
    )


def _live(qbo: QboEmulatorServer, entity: str, ident: str) -> bool:
    record = qbo.company.table(entity).get(ident)
    return record is not None and record.get("TxnStatus") != "Voided"


def test_a_batch_that_failed_is_sent_again_once_its_cause_is_fixed(tmp_path: Path) -> None:
    """Every create of the customer batch is refused (a vendor holds each name); once the
    bookkeeper renames the vendors, the next run's batch is a new request and runs."""
    with demo_firm(tmp_path, tps_seed="large:5") as (session, qbo, _):
        clients = list(session.tps.records("clients"))
        vendors = [qbo.company.create("Vendor", {"DisplayName": c["name"]}) for c in clients]
        session.backup()
        first = session.sync()
        refused = [
            i
            for i in session.state.items(first.run_id, "Failed")
            if i["record"].startswith("tps.Client:")
        ]
        assert len(refused) == len(clients) and all("6240" in i["message"] for i in refused)
        for vendor in vendors:
            current = qbo.company.get("Vendor", vendor["Id"])
            qbo.company.update(
                "Vendor",
                {
                    "Id": vendor["Id"],
                    "SyncToken": current["SyncToken"],
                    "DisplayName": f"{vendor['DisplayName']} (supplier)",
                },
                sparse=True,
            )
        time.sleep(1.1)  # the next run's reads start after the renames
        again = Session(session.config)
        second = again.sync()
        assert _statuses(again, second.run_id, "tps.Client:") == {"Successful": len(clients)}
        assert again.state.items(second.run_id, "Failed") == []
        links = again.state.links("Client|Customer")
        assert len(links) == len(clients)
        assert all(link["qbo_id"] in qbo.company.table("Customer") for link in links)
        assert not again.state.unfinished_intents()


def test_a_sync_after_undo_writes_the_records_again(tmp_path: Path) -> None:
    """The undone creates are written again: every link names a live QBO record. (Two
    clients sharing an email then match two customers the undo deactivated, a matter of
    matching: their invoices fail as not written, and are left out of the count here.)"""
    with demo_firm(tmp_path) as (session, qbo, _):
        session.backup()
        run = session.sync().run_id
        undone = apply_undo(session, plan_undo(session, run), "rules fixed")
        assert undone.complete and not qbo.company.table("Payment")
        again = session.sync()
        failed = session.state.items(again.run_id, "Failed")
        assert all("waits for review, so it is not in qbo.Customer" in i["message"] for i in failed)
        for pair, entity in (("Payment|Payment", "Payment"), ("Invoice|Invoice", "Invoice")):
            links = session.state.links(pair)
            assert links and all(_live(qbo, entity, link["qbo_id"]) for link in links), pair
        created = [
            i
            for i in session.state.items(again.run_id, "Successful")
            if i["record"].startswith("tps.Payment:")
        ]
        assert created and all(_live(qbo, "Payment", i["target"].split(":")[1]) for i in created)
        live = [p for p in qbo.company.table("Payment").values() if p.get("TotalAmt")]
        assert len(live) == len(session.state.links("Payment|Payment"))


def paid_in_qbo(qbo: QboEmulatorServer, session: Session) -> dict[str, Any]:
    """A payment received in QBO on an open invoice the sync wrote."""
    company = qbo.company
    link = next(
        lk
        for lk in session.state.links("Invoice|Invoice")
        if company.table("Invoice")[lk["qbo_id"]]["Balance"] > 0
    )
    invoice = company.table("Invoice")[link["qbo_id"]]
    bank = next(a for a in company.table("Account").values() if a.get("AccountType") == "Bank")
    return company.create(
        "Payment",
        {
            "CustomerRef": invoice["CustomerRef"],
            "TotalAmt": Decimal("10.00"),
            "DepositToAccountRef": {"value": bank["Id"]},
            "Line": [
                {
                    "Amount": Decimal("10.00"),
                    "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}],
                }
            ],
        },
    )


def _tps_copies(session: Session, tps: Any, qbo_id: str) -> list[tuple[str, str]]:
    tps_ids = [
        lk["tps_id"] for lk in session.state.links("Payment|Payment") if lk["qbo_id"] == qbo_id
    ]
    return [(i, tps.firm.table("payments")[i]["status"]) for i in tps_ids]


def test_a_tps_record_undone_is_created_again_by_the_next_sync(tmp_path: Path) -> None:
    """TPS's side: the undone copy of a QBO payment was voided; the next sync makes a new
    one (a new Idempotency-Key), where replaying the old key would link the voided one."""
    with demo_firm(tmp_path) as (session, qbo, tps):
        session.backup()
        session.sync()
        payment = paid_in_qbo(qbo, session)
        brought = session.sync()
        [(first, status)] = _tps_copies(session, tps, payment["Id"])
        assert status == "active"
        apply_undo(session, plan_undo(session, brought.run_id), "test")
        assert tps.firm.table("payments")[first]["status"] == "void"
        session.sync()
        [(second, status)] = _tps_copies(session, tps, payment["Id"])
        assert second != first and status == "active"


def test_a_tps_create_whose_answer_was_lost_is_resumed_with_the_same_key(tmp_path: Path) -> None:
    """The TPS create's answer is lost and the call gives up: the attempt stays open, and the
    next run sends the same Idempotency-Key, so TPS answers it without a second copy."""
    with demo_firm(tmp_path) as (session, qbo, tps):
        session.backup()
        session.sync()
        payment = paid_in_qbo(qbo, session)
        client = cast(TpsClient, session.tps)
        retry = client.retry
        client.retry = RetryPolicy(1, 0.01, 0.05, retry.timeout)  # the call gives up at once
        tps.app.plan.add("commit-timeout#1")
        lost = session.sync()
        [failed] = session.state.items(lost.run_id, "Failed")
        assert "may have been written" in failed["message"]
        assert session.state.unfinished_intents()
        before = len(tps.firm.table("payments"))
        client.retry = retry
        session.sync()
        assert len(tps.firm.table("payments")) == before  # answered from the first attempt
        [(_, status)] = _tps_copies(session, tps, payment["Id"])
        assert status == "active"
        assert not session.state.unfinished_intents()


@pytest.mark.parametrize("sent", [False, True])
def test_a_crashed_runs_writes_are_resumed_under_their_first_attempts_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sent: bool
) -> None:
    """A crash leaves intents open; the next run finds the writes the crashed call made
    (by their natural key) and sends the others with the keys their first attempts had;
    its outcomes conclude the first attempts."""
    keys: list[list[str]] = [[]]
    real = QboClient.batch

    def batch(self: QboClient, ops: list[Any]) -> Any:
        keys[-1].extend(str(op.key) for op in ops)
        return real(self, ops)

    class _Crash(Exception):
        pass

    def crash(self: QboClient, ops: list[Any]) -> Any:
        if len(keys[-1]) + len(ops) <= 40:
            return batch(self, ops)
        if sent:
            batch(self, ops)  # the batch was written; the run never hears of it
        else:
            keys[-1].extend(str(op.key) for op in ops)  # journaled, never sent
        raise _Crash

    with demo_firm(tmp_path) as (session, qbo, _):
        session.backup()
        monkeypatch.setattr(QboClient, "batch", crash)
        with pytest.raises(_Crash):
            session.sync()
        opened = session.state.unfinished_intents()
        assert opened
        first_keys = {k for k in keys[0] if k.rpartition("@")[0] in opened}
        keys.append([])
        monkeypatch.setattr(QboClient, "batch", batch)
        session.sync()
        resumed = {k for k in keys[1] if k.rpartition("@")[0] in opened}
        assert resumed == (set() if sent else first_keys)
        assert not session.state.unfinished_intents()
        crashed = min(r["id"] for r in session.state.runs())
        outcomes = Counter(
            row["outcome"] for row in session.state.journal(crashed) if row["intent"] in opened
        )
        assert outcomes["resumed"] == len(opened) and outcomes[""] == 0
        numbers = Counter(str(i.get("DocNumber")) for i in qbo.company.table("Invoice").values())
        assert max(numbers.values()) == 1


def test_a_lost_answer_with_two_invoices_of_one_number_fails_one_and_stops_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two TPS invoices numbered alike for two clients, the invoice batch's answer lost:
    the look-up finds each write's own record only, the second is refused by QBO (a
    duplicate number), and every run ends."""
    with demo_firm(tmp_path) as (session, qbo, tps):
        base = tps.firm.table("invoices")["inv-1002"]
        other = next(
            i
            for i in tps.firm.table("invoices").values()
            if i["client_id"] != base["client_id"] and i["status"] == "outstanding"
        )
        dup = tps.firm.create(
            "invoices",
            {
                "client_id": other["client_id"],
                "date": "2026-10-01",
                "due_date": "2026-10-31",
                "invoice_code": "HP",
                "number": 1002,
                "doc_number": base["doc_number"],
                "lines": [
                    {
                        "work_code": base["lines"][0]["work_code"],
                        "description": "x",
                        "amount": "55.00",
                        "hours": "1",
                    }
                ],
                "taxes": [],
            },
        )
        session.backup()
        real = QboClient.batch

        def batch(self: QboClient, ops: list[Any]) -> Any:
            if any(op.key.startswith("invoices:") for op in ops):
                qbo.emulator.plan.add("commit-timeout#1")
            return real(self, ops)

        monkeypatch.setattr(QboClient, "batch", batch)
        first = session.sync()
        monkeypatch.setattr(QboClient, "batch", real)
        failed = {i["record"]: i["message"] for i in session.state.items(first.run_id, "Failed")}
        assert list(failed) == [f"tps.Invoice:{dup['id']}"]
        links = {lk["tps_id"]: lk["qbo_id"] for lk in session.state.links("Invoice|Invoice")}
        written = qbo.company.table("Invoice")[links[base["id"]]]
        assert written["PrivateNote"].startswith(f"sync:tps:invoice:{base['id']}")
        assert dup["id"] not in links
        second = session.sync()
        assert [i["record"] for i in session.state.items(second.run_id, "Failed")] == list(failed)
        assert not session.state.unfinished_intents()
        assert all(r["status"] != "running" for r in session.state.runs(2))


def _books(tmp_path: Path) -> tuple[Bookkeeping, StateStore]:
    state = StateStore(tmp_path / "state.db")
    rules = load_ruleset(resources.rules_dir())
    run_id = state.start_run("incremental")
    qbo, tps = cast(QboClient, object()), cast(TpsSource, object())
    return Bookkeeping(Plan("incremental", []), rules, state, qbo, tps, run_id), state


def _create(books: Bookkeeping, record: str, found: str) -> None:
    """A create of `record` whose write came back as (or was found to be) QBO `found`."""
    op = Operation("invoices", record, "create", "qbo.Invoice", body={"DocNumber": "HP-1"})
    [journal] = books._begin([intent_row(op)])
    books._commit_record(op, journal, {"Id": found, "SyncToken": "0"}, op.body)
    books._flush()


def test_a_record_found_that_is_linked_to_another_is_that_writes_failure(
    tmp_path: Path,
) -> None:
    """Never a second link (the state would refuse it and every later run would stop)."""
    books, state = _books(tmp_path)
    state.link("Invoice|Invoice", "inv-1", "238", mapping="invoices")
    _create(books, "tps.Invoice:inv-2", "238")  # linked by an earlier run
    _create(books, "tps.Invoice:inv-3", "300")
    _create(books, "tps.Invoice:inv-4", "300")  # linked by this run
    _create(books, "tps.Invoice:inv-3", "300")  # the same record again: its own link
    items = {i["record"]: (i["status"], i["message"]) for i in state.items(books.run_id)}
    assert items["tps.Invoice:inv-2"] == (
        "Failed",
        "qbo.Invoice:238, the record found for this create, is already linked to "
        "tps.Invoice:inv-1: not linked to a second record",
    )
    assert (
        items["tps.Invoice:inv-4"][0] == "Failed"
        and "tps.Invoice:inv-3" in items["tps.Invoice:inv-4"][1]
    )
    assert items["tps.Invoice:inv-3"][0] == "Successful"
    links = {lk["tps_id"]: lk["qbo_id"] for lk in state.links("Invoice|Invoice")}
    assert links == {"inv-1": "238", "inv-3": "300"}
    outcomes = [row["outcome"] for row in state.journal(books.run_id)]
    assert outcomes == ["failed", "written", "failed", "written"]
    assert not state.unfinished_intents()


def test_an_open_attempt_a_later_one_wrote_is_not_carried_on(tmp_path: Path) -> None:
    """A state from before attempts were settled: the open attempt a later attempt of the
    same write concluded as written is not resumed; one still open after a failure is."""
    state = StateStore(tmp_path / "state.db")
    run = state.start_run("incremental")
    first = state.intend(run, "invoices:tps.Invoice:inv-1:create", "create", "qbo.Invoice")
    state.conclude(
        state.intend(run, "invoices:tps.Invoice:inv-1:create", "create", "qbo.Invoice"),
        "written",
        "238",
    )
    state.intend(run, "invoices:tps.Invoice:inv-2:create", "create", "qbo.Invoice")
    second = state.intend(run, "invoices:tps.Invoice:inv-2:create", "create", "qbo.Invoice")
    state.conclude(second, "failed")
    opened = state.unfinished_intents()
    assert list(opened) == ["invoices:tps.Invoice:inv-2:create"]
    assert opened["invoices:tps.Invoice:inv-2:create"].journals == (first + 2,)
