"""A linked client renamed in TPS only in case or spaces: text that differs only as people
type it is not a change, so the run writes nothing and its history says nothing was
written; and undo never says it removed a link the run did not make."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tpsqbo_engine.sync import before_image
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.session import Session
from tpsqbo_engine.sync.undo import plan_undo
from tpsqbo_engine.sync.undo_apply import apply_undo


def _linked_then_renamed(session: Session, qbo: Any) -> tuple[Session, str, str]:
    """Syncs the firm, then renames its first client only in case and spaces: a Session
    for the run that follows, the client's record key and its QBO customer's."""
    session.backup()
    session.sync()
    client = next(iter(session.tps.records("clients")))
    (link,) = session.state.db.table("links").rows_where(
        "mapping = 'clients' and tps_id = ?", [client["id"]]
    )
    time.sleep(1.1)  # the next run a second later, as scheduled runs are
    renamed = "  " + client["name"].upper() + " "
    session.tps.update("clients", client["id"], {"name": renamed}, version=client["version"])
    time.sleep(1.1)
    return Session(session.config), f"tps.Client:{client['id']}", f"qbo.Customer:{link['qbo_id']}"


def test_a_case_only_rename_plans_no_write_and_records_nothing(tmp_path: Path) -> None:
    with demo_firm(tmp_path) as (session, qbo, _):
        again, client, customer = _linked_then_renamed(session, qbo)
        token = qbo.company.get("Customer", customer.split(":")[1])["SyncToken"]
        plan, _ = again.plan(again.snapshot())
        ours = [op for op in plan.operations if op.record == client]
        assert [op.action for op in ours] == ["refresh"]  # the new version kept, nothing sent
        assert [op for op in plan.writes() if op.record == client] == []

        again.sync()
        run = again.state.runs(1)[-1]["id"]
        assert [i for i in again.state.items(run) if i["record"] in (client, customer)] == []
        assert [r for r in again.state.journal(run) if r["target"] == customer] == []
        assert qbo.company.get("Customer", customer.split(":")[1])["SyncToken"] == token
        # the link now holds the renamed client's version: the run after plans nothing for it
        time.sleep(1.1)
        later, _ = Session(again.config).plan(Session(again.config).snapshot())
        assert [op.action for op in later.operations if op.record == client] == []


def _empty_update(session: Session, run: int, client: str, customer: str) -> None:
    """Gives run N a journaled `update` of the customer with no field changed, as runs
    before this fix recorded a case-only rename."""
    journal = session.state.intend(
        run, f"clients:{client}:empty", "update", customer, before_image.dumps(customer, {})
    )
    session.state.conclude(journal, "written", customer.split(":")[1], "0")


def test_undo_of_an_update_that_changed_nothing_removes_no_link(tmp_path: Path) -> None:
    with demo_firm(tmp_path) as (session, qbo, _):
        again, client, customer = _linked_then_renamed(session, qbo)
        again.sync()
        run = again.state.runs(1)[-1]["id"]
        _empty_update(again, run, client, customer)
        links_before = list(again.state.db.table("links").rows_where("mapping = 'clients'"))

        undo = plan_undo(again, run)
        (op,) = [op for op in undo.plan.operations if op.target == customer]
        assert "link" not in op.message and "changed nothing" in op.message
        assert not op.writes and op.level == "Undone"
        summary = apply_undo(again, undo, "test")

        rows = [(i["status"], i["message"]) for i in again.state.items(summary.run_id)]
        assert rows == [("Undone", op.message)]
        assert not any("link is removed" in message for _, message in rows)
        after = list(again.state.db.table("links").rows_where("mapping = 'clients'"))
        assert after == links_before  # the link the first run made is kept, as it was
        assert summary.complete


def test_undo_of_an_update_already_taken_back_keeps_the_link(tmp_path: Path) -> None:
    """An update whose fields are as they were before it: nothing to write, and the link
    (made by an earlier run) stays, marked for the next run to compare again."""
    with demo_firm(tmp_path) as (session, qbo, _):
        again, client, customer = _linked_then_renamed(session, qbo)
        again.sync()
        run = again.state.runs(1)[-1]["id"]
        notes = qbo.company.get("Customer", customer.split(":")[1])["Notes"]
        journal = again.state.intend(
            run,
            f"clients:{client}:update",
            "update",
            customer,
            before_image.dumps(customer, {"Notes": notes}),
        )
        again.state.conclude(journal, "written", customer.split(":")[1], "0")

        undo = plan_undo(again, run)
        (op,) = [op for op in undo.plan.operations if op.target == customer]
        assert op.message == f"{customer} is already as it was before; nothing to write"
        summary = apply_undo(again, undo, "test")
        assert [i["message"] for i in again.state.items(summary.run_id)] == [op.message]
        (link,) = again.state.db.table("links").rows_where(
            "mapping = 'clients' and qbo_id = ?", [customer.split(":")[1]]
        )
        assert link["tps_id"] == client.split(":")[1] and link["content_hash"] == ""


def test_a_customer_changed_in_qbo_only_in_case_sends_nothing_back(tmp_path: Path) -> None:
    """The clients mapping goes both ways: a QBO edit that is only typing (an email's case)
    has nothing to send to TPS, and nothing is written to QBO either."""
    with demo_firm(tmp_path) as (session, qbo, _):
        session.backup()
        session.sync()
        (link,) = list(session.state.db.table("links").rows_where("mapping = 'clients'"))[:1]
        customer = qbo.company.get("Customer", link["qbo_id"])
        email = customer["PrimaryEmailAddr"]["Address"]
        time.sleep(1.1)
        edited = session.qbo.update(
            "Customer",
            link["qbo_id"],
            {"SyncToken": customer["SyncToken"], "PrimaryEmailAddr": {"Address": email.upper()}},
        )
        time.sleep(1.1)
        again = Session(session.config)
        plan, _ = again.plan(again.snapshot())
        client = f"tps.Client:{link['tps_id']}"
        assert [op.action for op in plan.operations if op.record == client] == ["refresh"]
        again.sync()
        run = again.state.runs(1)[-1]["id"]
        assert [i for i in again.state.items(run) if i["record"] == client] == []
        assert again.state.journal(run) == []
        assert qbo.company.get("Customer", link["qbo_id"])["SyncToken"] == edited["SyncToken"]
