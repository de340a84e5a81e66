"""Checklist checks as expressions over the company, and one registry of check types."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tpsqbo_engine import resources
from tpsqbo_engine.functions import CHECK_FUNCTIONS, RULE_FUNCTIONS, bound_functions
from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.ruleset.validate import validate_pack
from tpsqbo_engine.sync.checks import CHECK_TYPES
from tpsqbo_engine.sync.company_checks import CompanyFunctions, expression_check
from tpsqbo_engine.sync.demo import demo_firm

CHECKLIST = """kind: checklist
id: firm-checks
checks:
  - id: no-journal-entries
    type: expression
    expect: "{{ count('qbo.JournalEntry') == 0 }}"
    level: warning
    title: QBO holds no journal entries.
    fix: Reverse them in QBO, or leave them out with an exclusion.
  - id: us-company
    type: expression
    expect: >-
      {{ company.Country == 'US' and preferences.SalesFormsPrefs.ETransactionPaymentEnabled }}
  - id: no-bills
    type: expression
    expect: "{{ count('qbo.Bill') == 0 and not exists('qbo.VendorCredit') }}"
    level: warning
    fix: Enter bills in TPS as disbursements, or leave them out with an exclusion.
  - id: customers-exist
    type: expression
    expect: "{{ exists('qbo.Customer', 'Active = true') and phase in ['initial', 'ongoing'] }}"
"""


def _pack(root: Path, checklist: str = CHECKLIST) -> Path:
    (root / "pack.yaml").write_text(
        "kind: pack\nid: firm\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"
    )
    (root / "checks.yaml").write_text(checklist)
    return root


def test_check_types_agree_with_the_schema() -> None:
    schema = json.loads((resources.schemas_dir() / "rules" / "checklist.schema.json").read_text())
    declared = {d["properties"]["type"]["const"] for d in schema["$defs"].values()}
    assert declared == set(CHECK_TYPES)


def test_check_functions_agree_between_checker_and_runtime() -> None:
    runtime = set(bound_functions(CompanyFunctions(None), "qbo", {}, "checks"))  # type: ignore[arg-type]
    assert runtime == set(CHECK_FUNCTIONS)
    assert {"count", "exists", "query"} <= CHECK_FUNCTIONS
    assert not {"count", "exists", "query"} & RULE_FUNCTIONS


def test_expression_checks_validate(tmp_path: Path) -> None:
    assert validate_pack(_pack(tmp_path)).problems == []


@pytest.mark.parametrize(
    ("expect", "code", "hint"),
    [
        ("{{ count('qbo.JournalEntri') == 0 }}", "rules.unknown-entity", "qbo.JournalEntry"),
        ("{{ company.Contry == 'US' }}", "expr.unknown-field", "Country"),
        ("{{ lookup('tax-codes', 'taxable') == 'TAX' and today() }}", "expr.unknown-function", ""),
    ],
)
def test_mistakes_in_expression_checks_are_located(
    tmp_path: Path, expect: str, code: str, hint: str
) -> None:
    checklist = (
        "kind: checklist\nid: c\nchecks:\n  - id: x\n    type: expression\n"
        f'    expect: "{expect}"\n'
    )
    problems = validate_pack(_pack(tmp_path, checklist)).problems
    assert code in [p.code for p in problems]
    found = next(p for p in problems if p.code == code)
    assert (Path(found.file).name, found.line) == ("checks.yaml", 6)
    assert hint in found.hint


def test_count_is_not_a_mapping_function(tmp_path: Path) -> None:
    (tmp_path / "pack.yaml").write_text(
        "kind: pack\nid: firm\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"
        "patches:\n  - document: clients\n"
        "    set: {fields/Notes: {value: \"{{ count('qbo.Bill') }}\", one_way: true}}\n"
    )
    assert [p.code for p in validate_pack(tmp_path).problems] == ["expr.unknown-function"]


def test_expression_checks_run_against_the_company(tmp_path: Path) -> None:
    (tmp_path / "pack").mkdir()
    root = _pack(tmp_path / "pack")
    rules = load_ruleset(root)
    checks = {c.id: c for c in rules.checks}
    with demo_firm(tmp_path / "run", rules=str(root)) as (session, _, _):
        passed, details = expression_check(checks["no-journal-entries"], session.qbo, "initial")
        journal_entries = session.qbo.count("JournalEntry")
        assert passed is (journal_entries == 0)
        assert details == [f"{checks['no-journal-entries'].expect.source} is {str(passed).lower()}"]  # type: ignore[union-attr]
        passed, _ = expression_check(checks["no-bills"], session.qbo, "initial")
        bills = session.qbo.count("Bill") + session.qbo.count("VendorCredit")
        assert passed is (bills == 0)
        passed, _ = expression_check(checks["customers-exist"], session.qbo, "initial")
        assert passed is (session.qbo.count("Customer", "Active = true") > 0)
        country = session.qbo.company_info().get("Country")
        passed, _ = expression_check(checks["us-company"], session.qbo, "initial")
        payments = session.qbo.preferences()["SalesFormsPrefs"].get("ETransactionPaymentEnabled")
        assert passed is bool(country == "US" and payments)
