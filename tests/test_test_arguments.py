"""A test's arguments are checked by `validate` as a filter's are (ruleset/arguments.py),
from one table (filter_signatures.TESTS) held here to Jinja's tests themselves: `x is eq`
without what to compare with fails every record at run time."""

from __future__ import annotations

import inspect

import pytest
from jinja2.defaults import DEFAULT_TESTS

from tpsqbo_engine.expr import ALLOWED_TESTS, ExpressionError, compile_value
from tpsqbo_engine.ruleset.filter_signatures import TESTS
from tpsqbo_engine.ruleset.shapes import entity_catalog
from tpsqbo_engine.ruleset.typecheck import Scope as CheckScope
from tpsqbo_engine.ruleset.typecheck import check_value


def test_the_table_covers_exactly_the_tests_rules_may_use() -> None:
    assert set(TESTS) == set(ALLOWED_TESTS)


@pytest.mark.parametrize("name", sorted(ALLOWED_TESTS))
def test_the_table_says_what_the_test_takes(name: str) -> None:
    real = list(inspect.signature(DEFAULT_TESTS[name]).parameters.values())[1:]
    signature = TESTS[name]
    assert len(signature.params) == len(real)
    for mine, theirs in zip(signature.params, real, strict=True):
        assert mine.required == (theirs.default is theirs.empty)
        assert signature.keywords == (theirs.kind is not theirs.POSITIONAL_ONLY)


def _found(source: str) -> list[tuple[str, str, str]]:
    catalog = entity_catalog()
    scope = CheckScope(catalog, dict(catalog.shapes["tps.Invoice"].properties()), "tps")
    return [(f.code, f.message, f.hint) for f in check_value(source, scope).findings]


BAD_TESTS = [
    (
        "{{ doc_number is eq }}",
        "the test eq needs its argument 'other'",
        "is eq(other): the value equal to the other, as `==`",
    ),
    ("{{ doc_number is ne(1, 2) }}", "the test ne takes at most 1 argument(s), not 2", "is ne("),
    ("{{ doc_number is odd(2) }}", "the test odd takes no arguments, not 1", "is odd takes no"),
    ("{{ doc_number is defined(1) }}", "the test defined takes no arguments, not 1", "is defined"),
    ("{{ doc_number is in }}", "the test in needs its argument 'seq'", "is in(seq)"),
    (
        "{{ doc_number is eq(other=1) }}",
        "the test eq takes its arguments in order, not 'other='",
        "",
    ),
    (
        "{{ lines | selectattr('work_code', 'eq') | list }}",
        "the test eq needs its argument 'other'",
        "",
    ),
    (
        "{{ lines | rejectattr('work_code', 'none', 1) | list }}",
        "the test none takes no arguments, not 1",
        "",
    ),
]


@pytest.mark.parametrize(("source", "message", "hint"), BAD_TESTS)
def test_a_test_given_the_wrong_arguments_is_reported(source: str, message: str, hint: str) -> None:
    found = _found(source)
    assert [(code, told) for code, told, _ in found] == [("expr.bad-call", message)]
    assert found[0][2].startswith(hint)
    with pytest.raises(ExpressionError):  # as it would fail for every record
        compile_value(source, "x.yaml:1").evaluate({"doc_number": "A", "lines": [{}]})


def test_an_unknown_test_is_reported_by_name_whatever_its_arguments() -> None:
    assert [f[:2] for f in _found("{{ doc_number is divisibleby(1, 2) }}")] == [
        ("expr.unknown-test", "unknown test 'divisibleby'")
    ]


@pytest.mark.parametrize(
    "source",
    [
        "{{ doc_number is eq 'A' }}",
        "{{ doc_number is eq('A') }}",
        "{{ doc_number is in ['A', 'B'] }}",
        "{{ doc_number is sameas none }}",
        "{{ doc_number is defined and doc_number is string }}",
        "{{ lines | selectattr('work_code', 'eq', 'TAX') | list }}",
        "{{ lines | selectattr('work_code') | list }}",
        "{{ lines | selectattr('work_code', 'defined') | list }}",
    ],
)
def test_tests_given_what_they_take_pass(source: str) -> None:
    assert _found(source) == []
