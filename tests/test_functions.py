"""The functions rules call: one registry read by the checker and the runtime, and what
each function gives."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest

from tpsqbo_engine import expr
from tpsqbo_engine.expr import ExpressionError
from tpsqbo_engine.functions import (
    CHECK_FUNCTIONS,
    REGISTRY,
    RULE_FUNCTIONS,
    add_days,
    digits,
    due_by_terms,
    end_of_month,
    join_nonempty,
    left,
    right,
    words,
)
from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.ruleset.shapes import entity_catalog
from tpsqbo_engine.ruleset.typecheck import FUNCTIONS, Scope, _Checker, check_value
from tpsqbo_engine.ruleset.validate import validate_pack
from tpsqbo_engine.sync.links import Links
from tpsqbo_engine.sync.runtime import Resolver, context
from tpsqbo_engine.sync.snapshot import Snapshot


def _resolver() -> Resolver:
    rules = load_ruleset(Path(__file__).parent.parent / "rules")
    return Resolver(rules, Snapshot(), Links(), today_is=lambda: date(2026, 3, 14))


def test_checker_and_runtime_read_the_same_function_registry() -> None:
    runtime = set(_resolver().functions("tps"))
    assert set(FUNCTIONS) == set(RULE_FUNCTIONS) == runtime
    assert set(REGISTRY) == RULE_FUNCTIONS | CHECK_FUNCTIONS


def test_checker_and_runtime_allow_the_same_filters_and_tests() -> None:
    env = expr.environment()
    assert set(env.filters) == _Checker.allowed_filters()
    assert set(env.tests) == set(expr.ALLOWED_TESTS)


def test_no_function_hides_a_field_of_any_entity() -> None:
    catalog = entity_catalog()
    clashes = [
        (name, fn)
        for name in catalog.names()
        for fn in REGISTRY
        if fn in (catalog.get(name) or catalog.shapes[name]).properties()
    ]
    assert clashes == []


def test_every_registered_function_is_documented() -> None:
    docs = (Path(__file__).parent.parent / "docs" / "rules.md").read_text()
    assert [name for name in REGISTRY if f"`{name}(" not in docs] == []


def test_today_is_the_run_clock() -> None:
    value = expr.compile_value("{{ add_days(today(), 1) }}", "t:1")
    scope = context("tps.Client", {"id": "c1"}, _resolver())
    assert value.evaluate(scope) == date(2026, 3, 15)


def test_date_functions() -> None:
    assert add_days("2026-01-30", 3) == date(2026, 2, 2)
    assert add_days(date(2026, 3, 1), -1) == date(2026, 2, 28)
    assert add_days(None, 3) is None
    assert end_of_month("2024-02-10") == date(2024, 2, 29)
    assert due_by_terms("2026-01-15", 30) == date(2026, 2, 14)
    assert due_by_terms("2026-01-15", "Net 15") == date(2026, 1, 30)
    assert due_by_terms("2026-01-15", "Due on receipt") == date(2026, 1, 15)
    assert due_by_terms("2026-01-15", "EOM") == date(2026, 1, 31)
    assert due_by_terms("2026-01-15", None) == date(2026, 1, 15)
    with pytest.raises(ExpressionError, match="terms not understood"):
        due_by_terms("2026-01-15", "when pigs fly")
    with pytest.raises(ExpressionError, match="at most"):
        add_days("2026-01-15", 10**7)
    with pytest.raises(ExpressionError, match="like 2026-01-31"):
        add_days("last tuesday", 1)


def test_string_functions_have_limits() -> None:
    assert left("Abbott & O'Neil LLP", 6) == "Abbott"
    assert right("SD-2042", 4) == "2042"
    assert right("abc", 0) == ""
    assert words("  Personal   tax return 2025 ", 2) == "Personal tax"
    assert digits("(416) 555-0199") == "4165550199"
    assert join_nonempty(", ", "Unit 4", None, "", "Toronto") == "Unit 4, Toronto"
    with pytest.raises(ExpressionError, match="between 0 and"):
        left("x", 10**6)
    with pytest.raises(ExpressionError, match="longer than"):
        left("x" * 200_000, 3)


def test_wip_gives_the_entries_billed_on_a_line() -> None:
    resolver = _resolver()
    resolver.snapshot.tps["WipEntry"] = {
        "w1": {"id": "w1", "invoice_id": "inv-1", "work_code": "TAX", "hours": "1.5"},
        "w2": {"id": "w2", "invoice_id": "inv-1", "work_code": "BK", "hours": "2"},
        "w3": {"id": "w3", "invoice_id": "inv-2", "work_code": "TAX", "hours": "3"},
    }
    value = expr.compile_value("{{ wip(line) | map(attribute='id') | list }}", "t:1")
    scope = context("tps.Invoice", {"id": "inv-1"}, resolver)
    assert value.evaluate({**scope, "line": {"work_code": "TAX"}}) == ["w1"]


def _scope() -> Scope:
    catalog = entity_catalog()
    return Scope(catalog, dict(catalog.shapes["tps.Invoice"].properties()), "tps")


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("{{ add_days(date) }}", "expr.bad-call"),
        ("{{ left(description, 3, 4) }}", "expr.bad-call"),
        ("{{ lookup('t', 1, fallback=2) }}", "expr.bad-call"),
        ("{{ date + 3 }}", "expr.date-arithmetic"),
        ("{{ due_date - 1 }}", "expr.date-arithmetic"),
        ("{{ add_days(date, 3) + 1 }}", "expr.date-arithmetic"),
    ],
)
def test_the_checker_knows_arities_and_date_arithmetic(source: str, code: str) -> None:
    findings = check_value(source, _scope()).findings
    assert code in [f.code for f in findings]


def test_date_plus_a_number_hints_at_add_days(tmp_path: Path) -> None:
    (tmp_path / "pack.yaml").write_text(
        "kind: pack\nid: t\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"
        "patches:\n  - document: invoices\n    set: {fields/DueDate: '{{ date + 30 }}'}\n"
    )
    (problem,) = validate_pack(tmp_path).problems
    assert problem.code == "expr.date-arithmetic"
    assert "add_days(date, N)" in problem.hint
    assert (Path(problem.file).name, problem.line) == ("pack.yaml", 7)


@pytest.mark.parametrize(
    "terms",
    [
        "net 1" + " " * 40_000 + "x",
        "net" + " " * 40_000 + "30" + " " * 40_000 + "x",
        "due" + " " * 40_000 + "on" + " " * 40_000 + "x",
        "end" + " " * 40_000 + "of" + " " * 40_000 + "x",
        " " * 40_000 + "x",
    ],
)
def test_terms_not_understood_are_refused_in_time_in_line_with_them(terms: str) -> None:
    started = time.monotonic()
    with pytest.raises(ExpressionError, match="terms not understood"):
        due_by_terms("2026-01-15", terms)
    assert time.monotonic() - started < 0.2


@pytest.mark.parametrize("terms", ["net 30 days" + " " * 40_000, "Net30day", " NET 30 "])
def test_net_terms_with_spaces_and_days_are_understood(terms: str) -> None:
    assert due_by_terms("2026-01-15", terms) == date(2026, 2, 14)
