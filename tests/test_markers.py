"""The engine owns its bookkeeping: the crash-recovery marker is written by the engine from
the mapping's `natural_key`, not by the rules, so a pack cannot break recovery by editing a
note."""

from __future__ import annotations

from pathlib import Path

from tpsqbo_engine import resources
from tpsqbo_engine.packtest import run_pack_tests
from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.ruleset.validate import validate_pack
from tpsqbo_engine.sync.markers import engine_note, marker_of
from tpsqbo_engine.sync.single_writes import natural_key

CASE = """tps:
  Client:
    - {id: c-1, code: A1, name: Acme Ltd, email: a@acme.example, active: true}
  FinanceCharge:
    - {id: fc-9, client_id: c-1, date: "2026-11-30", amount: "8.48", balance: "8.48"}
qbo:
  Item:
    - {Id: "9", Name: Finance Charges, Type: Service}
expect: {}
"""


def _firm(root: Path, patch: str = "") -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "pack.yaml").write_text(
        "kind: pack\nid: f\nversion: 1.0.0\nextends: [tps-qbo-standard]\n" + patch
    )
    (root / "tests" / "fc.yaml").write_text(CASE)
    return root


def _note(root: Path) -> str:
    (result,) = run_pack_tests(root, load_ruleset(root), update=True)
    write = next(w for w in result.actual["writes"] if w["mapping"] == "finance-charges")
    return str(write["fields"]["PrivateNote"])


def test_the_standard_pack_leaves_markers_to_the_engine() -> None:
    rules = load_ruleset(resources.rules_dir())
    marked = {m.id: m.marker for m in rules.mappings if m.marker}
    assert marked["invoices"] == "invoice" and marked["payments"] == "payment"
    text = "".join(p.read_text() for p in resources.rules_dir().glob("*.yaml"))
    assert "PrivateNote:" not in text


def test_the_engine_writes_the_marker(tmp_path: Path) -> None:
    assert _note(_firm(tmp_path)) == "sync:tps:finance-charge:fc-9"


def test_a_note_of_the_firm_cannot_remove_the_marker(tmp_path: Path) -> None:
    root = _firm(
        tmp_path,
        "patches:\n  - document: finance-charges\n"
        "    set: {fields/PrivateNote: 'Charged by {{ client_id }}'}\n",
    )
    assert validate_pack(root).problems == []
    note = _note(root)
    assert note == "sync:tps:finance-charge:fc-9 Charged by c-1"
    assert marker_of(note) == "sync:tps:finance-charge:fc-9"
    mapping = next(m for m in load_ruleset(root).mappings if m.id == "finance-charges")
    guard = natural_key(mapping, "Invoice", {"PrivateNote": note})
    assert guard is not None and guard.value == "sync:tps:finance-charge:fc-9"


def test_hand_written_markers_and_missing_keys_are_reported(tmp_path: Path) -> None:
    root = _firm(
        tmp_path,
        "patches:\n  - document: finance-charges\n"
        "    set: {fields/PrivateNote: 'sync:tps:fc:{{ id }}'}\n"
        "    remove: [natural_key]\n",
    )
    codes = {p.code: p for p in validate_pack(root).problems}
    assert codes["mapping.engine-marker"].level.value == "warning"
    assert codes["mapping.no-natural-key"].level.value == "warning"
    assert engine_note("x", "1", "sync:tps:other:1") == "sync:tps:x:1"


def test_a_natural_key_field_must_be_set(tmp_path: Path) -> None:
    root = _firm(
        tmp_path,
        "patches:\n  - document: finance-charges\n    set: {natural_key: {field: DocNumber}}\n"
        "  - document: clients\n    set: {natural_key: {marker: client}}\n",
    )
    problems = [p for p in validate_pack(root).problems if p.code == "mapping.natural-key"]
    messages = sorted(p.message for p in problems)
    assert len(messages) == 2
    assert "DocNumber is not a field this mapping sets" in messages[1]
    assert "PrivateNote, which qbo.Customer does not have" in messages[0]
