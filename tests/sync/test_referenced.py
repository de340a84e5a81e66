"""A run after the first plans from what changed and what it names, looked up by index; the
plan is the one the whole firm's clients, customers, links and history give."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.links import pair_of
from tpsqbo_engine.sync.mirror import FIRM_SIZED, Mirror
from tpsqbo_engine.sync.plan import Operation, Plan
from tpsqbo_engine.sync.plan_input import PlanInput
from tpsqbo_engine.sync.planner import OUT_OF_SCOPE, Planner
from tpsqbo_engine.sync.referenced import _not_newer, add_referenced, link_row, named
from tpsqbo_engine.sync.session import Session
from tpsqbo_engine.sync.snapshot import Snapshot


def _whole_plan(session: Session, read: Snapshot) -> Plan:
    """The plan as made before: every mirrored client and customer, every link, all of the
    history's exclusions."""
    whole = copy.deepcopy(read)
    mirror = Mirror(session.state)
    for qualified in FIRM_SIZED:
        every = mirror.records(qualified)
        every.update(whole.records(qualified))
        whole.records(qualified).update(every)
    pairs = {pair_of(m) for m in session.rules.mappings}
    links = {pair: [link_row(r) for r in session.state.links(pair)] for pair in pairs}
    left_out = {
        record: why
        for record, why in session.state.left_out_initially().items()
        if not why.startswith(OUT_OF_SCOPE)
    }
    given = PlanInput(
        session.rules,
        whole,
        links,
        "ongoing",
        session.state.ignored(),
        session.pins(),
        left_out,
        session.state.reported_exclusions(),
    )
    return Planner(given).plan()


def _said(plan: Plan) -> list[str]:
    def one(op: Operation) -> str:
        fields = {k: v for k, v in op.__dict__.items() if k != "content_hash"}
        return json.dumps(fields, default=str, sort_keys=True)

    return sorted(one(op) for op in plan.operations)


def _edit_some(session: Session) -> None:
    """A client renamed, invoices revised, and a new client named as a customer QBO has had
    since before the last run (they match by name; the customer did not change)."""
    clients = list(session.tps.records("clients"))
    renamed = clients[3]
    session.tps.update(
        "clients", renamed["id"], {"name": f"{renamed['name']} Ltd"}, version=renamed["version"]
    )
    invoices = [i for i in session.tps.records("invoices") if i["status"] == "outstanding"]
    for invoice in invoices[:3]:
        lines = [dict(line) for line in invoice["lines"]]
        lines[0]["description"] = f"{lines[0].get('description') or ''} (revised)"
        session.tps.update("invoices", invoice["id"], {"lines": lines}, version=invoice["version"])
    fields = {k: v for k, v in clients[0].items() if k not in ("id", "version", "updated_at")}
    new = {**fields, "name": "Zebedee Walk-in", "code": "ZEB001", "email": "zeb@example.com"}
    session.tps.create("clients", new, key="zebedee")


def test_a_resync_plans_from_what_it_names_as_from_the_whole_firm(tmp_path: Path) -> None:
    with demo_firm(tmp_path, tps_seed="large:30") as (session, qbo, _):
        session.backup()
        session.sync()
        walk_in = qbo.company.create("Customer", {"DisplayName": "Zebedee Walk-in"})
        time.sleep(1.1)  # the next run a second later, as scheduled runs are
        Session(session.config).sync()  # reads the initial sync's writes back
        time.sleep(1.1)
        _edit_some(session)
        time.sleep(1.1)
        again = Session(session.config)
        read = again.snapshot()
        whole = _whole_plan(again, read)
        plan, _ = again.plan(read)
        assert _said(plan) == _said(whole)
        # The new client is matched to the unchanged customer, found by a scan of the mirror.
        targets = {op.target for op in plan.writes()}
        assert f"qbo.Customer:{walk_in['Id']}" in targets
        assert len(targets) >= 5  # the renamed client, the three invoices, the new client
        mirror = Mirror(again.state)
        # What it held: the changes and what they name, not the firm's 30 clients.
        assert 0 < len(read.records("tps.Client")) < mirror.count("tps.Client") // 2
        assert len(read.records("qbo.Customer")) < mirror.count("qbo.Customer") // 2


def test_an_unchanged_resync_holds_no_client_or_customer(tmp_path: Path) -> None:
    with demo_firm(tmp_path, tps_seed="large:20") as (session, _, _):
        session.backup()
        session.sync()
        time.sleep(1.1)
        Session(session.config).sync()
        time.sleep(1.1)
        again = Session(session.config)
        read = again.snapshot()
        assert read.records("tps.Client") == {} and read.records("qbo.Customer") == {}
        assert add_referenced(again.rules, again.state, Mirror(again.state), read) == 0
        # Nothing changed, nothing named: only the lists' own links are looked up.
        assert named(read, lists=False) == set()
        assert again.plan(read)[0].operations == []


def test_links_and_history_are_looked_up_by_the_ids_asked_for(tmp_path: Path) -> None:
    with demo_firm(tmp_path, tps_seed="large:20") as (session, _, _):
        session.backup()
        session.sync()
        state = session.state
        pair = "Client|Customer"
        every = state.links(pair)
        chosen = {every[0]["tps_id"], every[1]["qbo_id"], "no such id"}
        found = state.links_of(pair, chosen)
        assert sorted(r["tps_id"] for r in found) == sorted(
            r["tps_id"] for r in every if r["tps_id"] in chosen or r["qbo_id"] in chosen
        )
        assert len(found) == 2
        left_out = state.left_out_initially()
        assert left_out  # the paid history the initial sync left out
        some = {record.partition(":")[2] for record in list(left_out)[:3]}
        assert state.left_out_initially(some) == {
            r: why for r, why in left_out.items() if r.partition(":")[2] in some
        }
        mirror = Mirror(state)
        customers = mirror.records("qbo.Customer")
        wanted = sorted(customers)[:2]
        assert mirror.find("qbo.Customer", [*wanted, "0"]) == {i: customers[i] for i in wanted}
        assert {r["Id"]: r for r in mirror.scan("qbo.Customer")} == customers


def test_the_run_after_the_initial_sync_holds_none_of_its_echoes(tmp_path: Path) -> None:
    with demo_firm(tmp_path, tps_seed="large:20") as (session, qbo, _):
        session.backup()
        session.sync()
        invoices = list(qbo.company.table("Invoice").values())
        edited = qbo.company.update(
            "Invoice",
            {
                "Id": invoices[0]["Id"],
                "SyncToken": invoices[0]["SyncToken"],
                "CustomerMemo": {"value": "Edited in QBO"},
            },
            sparse=True,
        )
        time.sleep(1.1)
        again = Session(session.config)
        read = again.snapshot()
        # Every invoice and customer CDC brought back was the initial sync's own write, but
        # the invoice edited in QBO since
        assert len(invoices) > 10
        assert set(read.records("qbo.Invoice")) == {edited["Id"]}
        # and the customer it names
        assert set(read.records("qbo.Customer")) == {edited["CustomerRef"]["value"]}
        # The mirror still took the customers as the writes left them.
        mirrored = Mirror(again.state).records("qbo.Customer")
        for customer in qbo.company.table("Customer").values():
            assert mirrored[customer["Id"]]["SyncToken"] == customer["SyncToken"]


def test_an_echo_is_a_version_the_link_was_synced_at_or_an_older_one() -> None:
    assert _not_newer("3", "3") and _not_newer("2", "10")
    assert not _not_newer("11", "10")
    assert _not_newer("v1", "v1") and not _not_newer("v2", "v1")
