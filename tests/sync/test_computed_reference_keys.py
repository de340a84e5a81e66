"""A rule that finds its client by a key it computes (the clients mapping keyed by the
client code, an invoice's description naming the code of the client it is billed to, in
any case, `| upper`) finds it in a run after the first as the initial sync does: the run
reads the records such keys reach, though neither changed nor named as written."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.sync.demo import demo_firm, november_invoice
from tpsqbo_engine.sync.keyed import add_keyed
from tpsqbo_engine.sync.links import Links
from tpsqbo_engine.sync.runtime import Resolver
from tpsqbo_engine.sync.session import Session
from tpsqbo_engine.sync.snapshot import Snapshot

SEED = """\
work_codes:
  - {id: wc-1, code: BK-MONTH, name: Monthly bookkeeping, node_type: work_code,
     class: chargeable, default_rate: "95.00", tax1: false, active: true}
clients:
  - {id: c-1, code: ALD01, name: Alder Creek Dental, email: ap@alder.example}
  - {id: c-2, code: BIR02, name: Birch Hollow Farm, email: office@birch.example,
     address: {postal_code: "97330"}}
invoices:
  - client_id: c-1
    date: "2026-10-01"
    due_date: "2026-10-31"
    type: detail
    description: ald01  # the client billed, by its code
    lines:
      - {line_no: 1, work_code: BK-MONTH, description: Monthly bookkeeping,
         amount: "380.00", markup: "0.00"}
"""

PACK = """\
kind: pack
id: billed-to
version: 1.0.0
extends: [tps-qbo-standard]
patches:
  - document: clients
    set:
      key: code
  - document: invoices
    set:
      fields/CustomerRef: "{{ linked('clients', description | upper) }}"
      fields/BillEmail.Address: "{{ record('clients', description | upper).email }}"
"""


def _firm(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "pack").mkdir()
    (tmp_path / "pack" / "pack.yaml").write_text(PACK)
    (tmp_path / "firm.yaml").write_text(SEED)
    return tmp_path / "pack", tmp_path / "firm.yaml"


def _failed(session: Session) -> list[str]:
    run_id = session.state.runs(1)[-1]["id"]
    return [i["message"] for i in session.state.items(run_id, status="Failed")]


def test_a_second_run_finds_a_client_by_the_key_a_rule_computes(tmp_path: Path) -> None:
    pack, seed = _firm(tmp_path)
    with demo_firm(tmp_path / "run", tps_seed=str(seed), rules=str(pack)) as (session, qbo, _):
        session.backup()
        session.sync()
        assert _failed(session) == []
        customers = {c["DisplayName"]: c["Id"] for c in qbo.company.table("Customer").values()}
        time.sleep(1.1)  # the next run a second later, as scheduled runs are
        invoice = {**november_invoice("c-1"), "description": "bir02"}  # billed to the other
        made = session.tps.create("invoices", invoice, key="billed-to-birch")["id"]
        time.sleep(1.1)
        again = Session(session.config)
        assert again.phase == "ongoing"
        summary = again.sync()
        assert _failed(again) == []
        assert summary.counts.get("Failed", 0) == 0
        (link,) = again.state.links_of("Invoice|Invoice", {made})
        written = qbo.company.table("Invoice")[link["qbo_id"]]
        assert written["CustomerRef"]["value"] == customers["Birch Hollow Farm"]
        assert written["BillEmail"]["Address"] == "office@birch.example"


def test_a_key_no_record_has_fails_its_record_and_plans_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack, seed = _firm(tmp_path)
    with demo_firm(tmp_path / "run", tps_seed=str(seed), rules=str(pack)) as (session, _, _):
        session.backup()
        session.sync()
        time.sleep(1.1)
        invoice = {**november_invoice("c-1"), "description": "nobody"}
        made = session.tps.create("invoices", invoice, key="billed-to-nobody")["id"]
        time.sleep(1.1)
        again = Session(session.config)
        planned: list[int] = []
        real = Session._planner

        def counted(self: Session, *args: Any) -> Any:
            planned.append(1)
            return real(self, *args)

        monkeypatch.setattr(Session, "_planner", counted)
        plan, _ = again.plan()
        assert len(planned) == 1  # the key reaches no record: nothing read, nothing planned again
        (op,) = [o for o in plan.operations if o.record == f"tps.Invoice:{made}"]
        assert op.action == "fail"
        assert "tps.Client has no record with code as given" in op.message


def test_records_are_read_by_key_from_the_mirror_or_their_system(tmp_path: Path) -> None:
    pack, seed = _firm(tmp_path)
    with demo_firm(tmp_path / "run", tps_seed=str(seed), rules=str(pack)) as (session, qbo, _):
        session.backup()
        session.sync()
        (invoice,) = qbo.company.table("Invoice").values()
        (tps_invoice,) = session.tps.records("invoices")
        read = Snapshot()
        missed = {
            ("tps.Client", "code", "BIR02"),  # mirrored: the mirror, by any field
            ("tps.Client", "id", "c-1"),
            ("qbo.Customer", "DisplayName", "Birch Hollow Farm"),
            ("qbo.Invoice", "DocNumber", str(invoice["DocNumber"])),  # a query by the field
            ("tps.Invoice", "description", "ald01"),  # TPS's list, read through
            ("tps.Client", "code", "NOBODY"),
            ("qbo.Invoice", "NoSuchField", "x"),  # refused by QBO's query: said, not fatal
        }
        assert add_keyed(Session(session.config), read, missed) == 5
        by_postcode = Snapshot()  # a dotted key: the mirror scanned by the path
        dotted = {("tps.Client", "address.postal_code", "97330")}
        assert add_keyed(Session(session.config), by_postcode, dotted) == 1
        assert set(by_postcode.records("tps.Client")) == {"c-2"}
        (note,) = read.notes
        assert note.startswith("qbo.Invoice could not be looked up by NoSuchField (")
        assert sorted(read.records("tps.Client")) == ["c-1", "c-2"]
        assert set(read.records("tps.Invoice")) == {str(tps_invoice["id"])}
        assert set(read.records("qbo.Invoice")) == {str(invoice["Id"])}
        # and what those are linked to, compared with them as with a change
        customers = {c["DisplayName"] for c in read.records("qbo.Customer").values()}
        assert customers == {"Alder Creek Dental", "Birch Hollow Farm"}


def test_a_dotted_key_finds_its_record_and_a_miss_is_noted(tmp_path: Path) -> None:
    (tmp_path / "pack.yaml").write_text(PACK.replace("key: code", "key: address.postal_code"))
    snapshot = Snapshot()
    snapshot.records("tps.Client")["c-1"] = {
        "id": "c-1",
        "code": "ALD01",
        "address": {"postal_code": "97201"},
    }
    resolver = Resolver(load_ruleset(tmp_path), snapshot, Links())
    assert resolver.record("tps", "clients", "97201")["code"] == "ALD01"
    assert resolver.missed == set()
    assert resolver.record("tps", "clients", "97999") is None
    assert resolver.missed == {("tps.Client", "address.postal_code", "97999")}
