"""Scope that follows changes: exclusions hold for linked records on every run, and records
a mapping's `when:` leaves out are reported as Excluded with the rule's place."""

from __future__ import annotations

from pathlib import Path

from tpsqbo_engine.packtest import run_pack_tests
from tpsqbo_engine.ruleset.model import load_ruleset

OFFICES = """kind: exclusions
id: offices
rules:
  - id: ottawa-office
    entity: tps.Client
    when: "{{ office == 'Ottawa' }}"
    initial: skip
    ongoing: skip
    reason: The Ottawa office keeps its own books.
"""

CASE = """phase: ongoing
today: 2026-12-05
tps:
  Client:
    - {id: c-1, code: A1, name: Acme Ltd, email: a@acme.example, office: OFFICE,
       active: true, version: 4}
  Invoice:
    - {id: inv-9, doc_number: "9", client_id: c-1, date: "2026-12-01", status: outstanding,
       subtotal: "10.00", tax_total: "0.00", total: "10.00", balance: "10.00", lines: [],
       version: 1}
qbo:
  Customer:
    - {Id: "31", SyncToken: "2", DisplayName: Acme Ltd, CompanyName: Acme Ltd,
       PrimaryEmailAddr: {Address: old@acme.example}, Notes: TPS client A1}
links:
  - {mapping: clients, tps: c-1, qbo: "31", tps_version: "3", qbo_version: "2"}
expect: {}
"""


def _plan(tmp_path: Path, office: str, case: str = CASE) -> dict[str, list[dict[str, object]]]:
    (tmp_path / "tests").mkdir(exist_ok=True)
    (tmp_path / "pack.yaml").write_text(
        "kind: pack\nid: f\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"
    )
    (tmp_path / "offices.yaml").write_text(OFFICES)
    (tmp_path / "tests" / "move.yaml").write_text(case.replace("OFFICE", office))
    (result,) = run_pack_tests(tmp_path, load_ruleset(tmp_path), update=True)
    return result.actual  # type: ignore[no-any-return]


def test_a_linked_client_moving_into_an_excluded_office_stops_syncing(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "Ottawa")
    assert plan["writes"] == []
    excluded = {e["record"]: e for e in plan["excluded"]}
    client = excluded["tps.Client:c-1"]
    assert client["reason"] == "The Ottawa office keeps its own books."
    assert client["rule"] == "ottawa-office"
    # its invoices stop with it, saying why
    assert "tps.Client:c-1, which is left out" in str(excluded["tps.Invoice:inv-9"]["reason"])


def test_moving_out_starts_again(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "Toronto")
    records = {w["record"]: w["action"] for w in plan["writes"]}
    assert records["tps.Client:c-1"] == "update"
    assert records["tps.Invoice:inv-9"] == "create"
    assert plan["excluded"] == []


def test_records_a_when_leaves_out_are_excluded_with_the_rule(tmp_path: Path) -> None:
    case = CASE.replace("status: outstanding", "status: void")
    plan = _plan(tmp_path, "Toronto", case)
    (void,) = [e for e in plan["excluded"] if e["record"] == "tps.Invoice:inv-9"]
    assert void["level"] == "Excluded"
    assert void["reason"] == "left out by the mapping's when: {{ status != 'void' }}"
    assert "invoices.yaml:" in str(void["rule"])  # file:line:column of the when


def test_reconcile_compares_clients_in_scope_and_lists_the_others(tmp_path: Path) -> None:
    from decimal import Decimal

    from tpsqbo_engine.sync.reconcile import reconcile
    from tpsqbo_engine.sync.render import reconcile_text
    from tpsqbo_engine.sync.scope import out_of_scope
    from tpsqbo_engine.sync.snapshot import Snapshot

    _plan(tmp_path, "Ottawa")  # writes the pack with the Ottawa exclusion
    rules = load_ruleset(tmp_path)
    snapshot = Snapshot(
        tps={
            "Client": {
                "c-1": {"id": "c-1", "code": "A1", "name": "Acme", "office": "Ottawa"},
                "c-2": {"id": "c-2", "code": "B2", "name": "Birch", "office": "Toronto"},
            },
            "Invoice": {
                "i-1": {"id": "i-1", "client_id": "c-1", "balance": "100.00"},
                "i-2": {"id": "i-2", "client_id": "c-2", "balance": "50.00"},
            },
        },
        qbo={
            "Invoice": {"9": {"Id": "9", "CustomerRef": {"value": "32"}, "Balance": "50.00"}},
        },
    )
    scope = out_of_scope(rules, snapshot)
    assert scope == {"c-1": "The Ottawa office keeps its own books. (ottawa-office)"}
    rows = {r.client: r for r in reconcile(snapshot, {"c-1": "31", "c-2": "32"}, scope=scope)}
    assert rows["A1"].tps == Decimal("100.00") and rows["A1"].difference == 0
    assert rows["B2"].difference == 0
    text = "\n".join(reconcile_text(rows.values()))
    assert "0 client(s) with a difference" in text
    assert "out of the sync's scope, not compared (1):" in text
    assert "The Ottawa office keeps its own books." in text


def test_out_of_scope_in_the_initial_sync_is_not_left_out_for_good(tmp_path: Path) -> None:
    from tpsqbo_engine.state import StateStore

    state = StateStore(tmp_path / "state.db")
    run = state.start_run("initial")
    when = "left out by the mapping's when: {{ status != 'void' }}"
    state.record_item(run, "tps.Invoice:v-1", "invoices", "out-of-scope", "Excluded", when, "x:1")
    state.record_item(run, "tps.Invoice:p-1", "invoices", "exclude", "Excluded", "Fully paid", "")
    state.finish_run(run, "completed")
    # a paid invoice stays out for good; a void one is only out while its when: is false
    assert set(state.left_out_initially()) == {"tps.Invoice:p-1"}
    # both were said once: later runs do not repeat them
    assert state.reported_exclusions() == {"tps.Invoice:v-1", "tps.Invoice:p-1"}
