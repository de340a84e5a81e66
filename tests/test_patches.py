"""Changing inherited documents without copying: patches, disable, no double-posting."""

from __future__ import annotations

from pathlib import Path

import pytest

from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.ruleset.validate import validate_pack

PACK = "kind: pack\nid: firm\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"


def _pack(tmp_path: Path, extra: str = "", **files: str) -> Path:
    (tmp_path / "pack.yaml").write_text(PACK + extra)
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    return tmp_path


def _codes(root: Path) -> list[tuple[str, int, str]]:
    return [(Path(p.file).name, p.line, p.code) for p in validate_pack(root).problems]


def test_a_patch_sets_removes_and_adds_without_copying(tmp_path: Path) -> None:
    root = _pack(
        tmp_path,
        "patches:\n"
        "  - document: clients\n"
        "    set:\n"
        "      conflict: source_wins\n"
        "      fields/DisplayName: {value: '{{ name }} ({{ code }})', one_way: true}\n"
        "    remove: [fields/Notes]\n"
        "    add:\n"
        "      match: {source: code, target: Notes}\n"
        "  - document: standard-exclusions\n"
        "    set: {rules/qbo-deposits/ongoing: skip}\n",
    )
    assert _codes(root) == []
    rules = load_ruleset(root)
    clients = next(m for m in rules.mappings if m.id == "clients")
    assert clients.conflict == "source_wins"
    assert "Notes" not in {f.path for f in clients.fields}
    assert [k.source for k in clients.match] == ["email", "name", "code"]
    display = next(f for f in clients.fields if f.path == "DisplayName")
    assert display.value is not None and display.value.source == "{{ name }} ({{ code }})"
    # the patched value says where it was written: the pack's own pack.yaml
    assert display.where.endswith("pack.yaml:9")
    deposits = next(r for r in rules.exclusions if r.id == "qbo-deposits")
    assert deposits.ongoing.value == "skip"
    # everything else of the document is still the standard one
    assert "PrimaryEmailAddr.Address" in {f.path for f in clients.fields}


def test_a_patch_that_matches_nothing_is_reported_where_it_is_written(tmp_path: Path) -> None:
    root = _pack(
        tmp_path,
        "patches:\n"
        "  - document: clientz\n"
        "    set: {conflict: flag}\n"
        "  - document: clients\n"
        "    remove: [fields/Nope]\n"
        "  - document: standard-exclusions\n"
        "    set: {rules/no-such-rule/ongoing: skip}\n",
    )
    problems = validate_pack(root).problems
    assert [(Path(p.file).name, p.line, p.code) for p in problems] == [
        ("pack.yaml", 6, "pack.patch-unmatched"),
        ("pack.yaml", 9, "pack.patch-unmatched"),
        ("pack.yaml", 11, "pack.patch-unmatched"),
    ]
    assert "did you mean 'clients'?" in problems[0].hint
    assert "qbo-deposits" in problems[2].hint


def test_mistakes_inside_a_patch_point_at_the_patch(tmp_path: Path) -> None:
    root = _pack(
        tmp_path,
        "patches:\n  - document: clients\n    set:\n      fields/CompanyName: '{{ nmae }}'\n",
    )
    assert _codes(root) == [("pack.yaml", 8, "expr.unknown-variable")]
    (root / "pack.yaml").write_text(
        PACK + "patches:\n  - document: clients\n    set:\n      conflict: sometimes\n"
    )
    assert _codes(root) == [("pack.yaml", 8, "schema.enum")]


def test_an_ambiguous_or_duplicate_patch_is_refused(tmp_path: Path) -> None:
    root = _pack(
        tmp_path,
        "patches:\n"
        "  - document: standard-exclusions\n"
        "    add:\n"
        "      rules: {id: qbo-deposits, entity: qbo.Deposit, initial: skip, reason: x}\n",
    )
    assert [c for _, _, c in _codes(root)] == ["pack.patch-duplicate"]


def test_disable_removes_an_inherited_document_and_is_recorded(tmp_path: Path) -> None:
    root = _pack(tmp_path, "disable: [finance-charges]\n")
    assert _codes(root) == []
    rules = load_ruleset(root)
    assert "finance-charges" not in {m.id for m in rules.mappings}
    (gone,) = rules.disabled_for("tps.FinanceCharge")
    assert gone.id == "finance-charges" and gone.by == "firm"
    assert gone.describe().endswith("pack.yaml:5)")
    assert rules.disabled_for("tps.Client") == []


def test_disabling_a_document_others_use_is_reported_at_the_users(tmp_path: Path) -> None:
    root = _pack(tmp_path, "disable: [mapping/work-codes, nothing]\n")
    codes = [c for _, _, c in _codes(root)]
    assert "pack.patch-unmatched" in codes  # 'nothing'
    assert "expr.unknown-mapping" in codes  # invoices call linked('work-codes', ...)


COPY = """kind: mapping
id: my-finance-charges
source: tps.FinanceCharge
target: qbo.Invoice
direction: one-way
fields:
  TxnDate: "{{ date }}"
"""


def test_two_mappings_writing_the_same_records_are_an_error(tmp_path: Path) -> None:
    root = _pack(tmp_path, copy=COPY)
    (problem,) = [p for p in validate_pack(root).problems if p.is_error]
    assert problem.code == "mapping.double-write"
    assert (Path(problem.file).name, problem.line) == ("copy.yaml", 4)
    assert "disable: [finance-charges]" in problem.hint


@pytest.mark.parametrize(
    ("first", "second", "clean"),
    [
        ("office == 'A'", "office == 'B'", True),
        ("office == 'A'", "office == 'A'", False),
        ("office in ['A', 'B']", "office == 'C'", True),
        ("office in ['A', 'B']", "office == 'B'", False),
        ("office == 'A' and amount > 0", "office != 'A'", True),
        ("active", "not active", True),
        ("amount > 0", "amount < 0", False),  # not provable: reported
    ],
)
def test_disjoint_when_conditions_make_two_mappings_fine(
    tmp_path: Path, first: str, second: str, clean: bool
) -> None:
    a = COPY.replace("my-finance-charges", "fc-a") + f'when: "{{{{ {first} }}}}"\n'
    b = COPY.replace("my-finance-charges", "fc-b") + f'when: "{{{{ {second} }}}}"\n'
    root = _pack(tmp_path, "disable: [finance-charges]\n", a=a, b=b)
    codes = [c for _, _, c in _codes(root) if c == "mapping.double-write"]
    assert (codes == []) is clean, codes


def test_a_lookup_key_names_an_entity_field(tmp_path: Path) -> None:
    root = _pack(
        tmp_path,
        lookup="kind: lookup\nid: offices\nkey: tps.Client.ofice\nentries: {Toronto: T}\n",
    )
    (problem,) = validate_pack(root).problems
    assert problem.code == "rules.unknown-field" and "did you mean 'office'?" in problem.hint
    (root / "lookup.yaml").write_text("kind: lookup\nid: offices\nkey: office\nentries: {a: b}\n")
    assert [p.code for p in validate_pack(root).problems] == ["schema.pattern"]
