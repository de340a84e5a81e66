"""Filter and function arguments are checked by `validate`, from one table of filter
signatures (ruleset/filter_signatures.py) held here to the filters themselves: a call the
sync would fail on for every record is reported, located, with the signature as hint; a
field name given to a filter must be a field of the items filtered."""

from __future__ import annotations

import inspect
from decimal import Decimal
from typing import Any

import pytest
from jinja2.defaults import DEFAULT_FILTERS

from tpsqbo_engine.expr import (
    ENGINE_FILTERS,
    JINJA_FILTERS,
    ExpressionError,
    Scope,
    compile_value,
    rule_function,
)
from tpsqbo_engine.functions import REGISTRY
from tpsqbo_engine.ruleset.filter_signatures import FILTERS
from tpsqbo_engine.ruleset.shapes import entity_catalog
from tpsqbo_engine.ruleset.typecheck import Scope as CheckScope
from tpsqbo_engine.ruleset.typecheck import check_value

_PASSED = ("context", "environment", "env", "eval_ctx")  # Jinja's pass_* first parameter


def _real(name: str) -> list[inspect.Parameter]:
    """The parameters the filter takes after the value it filters."""
    func = ENGINE_FILTERS.get(name) or DEFAULT_FILTERS[name]
    params = list(inspect.signature(func).parameters.values())
    if params and params[0].name in _PASSED:
        params = params[1:]
    return params[1:]


def test_the_table_covers_exactly_the_filters_rules_may_use() -> None:
    assert set(FILTERS) == set(JINJA_FILTERS) | set(ENGINE_FILTERS)


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_the_table_says_what_the_filter_takes(name: str) -> None:
    signature, real = FILTERS[name], _real(name)
    if signature.variadic:
        assert any(p.kind is p.VAR_POSITIONAL for p in real)
        return
    assert [p.name for p in signature.params] == [p.name for p in real]
    for mine, theirs in zip(signature.params, real, strict=True):
        assert mine.required == (theirs.default is theirs.empty)
        if not mine.required:
            assert mine.default == theirs.default
    if not signature.keywords:
        assert not real  # nothing after the value to name


def test_the_engine_functions_kinds_are_for_their_arguments() -> None:
    for spec in REGISTRY.values():
        assert len(spec.kinds) <= spec.max_args


def _scope() -> CheckScope:
    catalog = entity_catalog()
    return CheckScope(catalog, dict(catalog.shapes["tps.Invoice"].properties()), "tps")


def _found(source: str) -> list[tuple[str, str, str]]:
    return [(f.code, f.message, f.hint) for f in check_value(source, _scope()).findings]


INVOICE = {
    "doc_number": "INV-1",
    "date": "2026-03-01",
    "lines": [
        {"work_code": "TAX", "amount": Decimal("300.00"), "description": "Tax return"},
        {"work_code": "BK", "amount": Decimal("75.00"), "description": "Bookkeeping"},
    ],
}


def _run(source: str) -> Any:
    """The value for one invoice, with the engine's pure functions (add_days, left...)."""
    names = {n: rule_function(s.pure, pure=True) for n, s in REGISTRY.items() if s.pure}
    return compile_value(source, "x.yaml:1").evaluate(Scope({**names, **INVOICE}))


# (expression, code, message): each fails for every record at run time
BAD_CALLS = [
    ("{{ doc_number | money(2) }}", "expr.bad-call", "money takes no arguments, not 1"),
    (
        "{{ doc_number | qbo_name(5, 6) }}",
        "expr.bad-call",
        "qbo_name takes at most 1 argument(s), not 2",
    ),
    ("{{ date | date('%Y', 'x') }}", "expr.bad-call", "date takes at most 1 argument(s), not 2"),
    (
        "{{ lines | sum(attribute='amount') | round('a') }}",
        "expr.bad-call",
        "round's precision must be a whole number, not 'a'",
    ),
    (
        "{{ doc_number | center('a') }}",
        "expr.bad-call",
        "center's width must be a whole number, not 'a'",
    ),
    (
        "{{ doc_number | normalize_email('x') }}",
        "expr.bad-call",
        "normalize_email takes no arguments, not 1",
    ),
    (
        "{{ doc_number | join(1, 2, 3) }}",
        "expr.bad-call",
        "join takes at most 2 argument(s), not 3",
    ),
    (
        "{{ doc_number | truncate(2) }}",
        "expr.bad-call",
        "truncate's length must be at least 3, the length of its end '...', not 2",
    ),
    (
        "{{ lines | merge_by('work_code', 3) }}",
        "expr.bad-call",
        "merge_by takes at most 1 argument(s), not 2",
    ),
    ("{{ lines | merge_by }}", "expr.bad-call", "merge_by needs its argument 'key'"),
    ("{{ doc_number | truncate(lenght=5) }}", "expr.bad-call", "truncate has no argument 'lenght'"),
    (
        "{{ doc_number | truncate(10, length=5) }}",
        "expr.bad-call",
        "truncate's argument 'length' is given twice",
    ),
    (
        "{{ 2.5 | round(1, 'up') }}",
        "expr.bad-call",
        "round's method must be common, ceil, floor",
    ),
    (
        "{{ lines | sum(attribute='amount', start=[]) }}",
        "expr.bad-call",
        "sum's start must be a number, not []",
    ),
    (
        "{{ doc_number | replace('a') }}",
        "expr.bad-call",
        "replace needs its argument 'new'",
    ),
    (
        "{{ add_days(date, 'x') }}",
        "expr.bad-call",
        "add_days()'s argument 2 must be a whole number, not 'x'",
    ),
    (
        "{{ left(doc_number, 'a') }}",
        "expr.bad-call",
        "left()'s argument 2 must be a whole number, not 'a'",
    ),
    (
        "{{ left(doc_number, 20000) }}",
        "expr.bad-call",
        "left()'s argument 2 must be a whole number from 0 to 10,000, not 20000",
    ),
    (
        "{{ add_days(date, none) }}",
        "expr.bad-call",
        "add_days()'s argument 2 must be a whole number, not none",
    ),
    (
        "{{ doc_number | truncate(none) }}",
        "expr.bad-call",
        "truncate's length must be a whole number, not none",
    ),
    ("{{ lines | map('uper') | list }}", "expr.unknown-filter", "unknown filter 'uper'"),
    (
        "{{ lines | map(attribute='description') | map('truncate', 2) | list }}",
        "expr.bad-call",
        "truncate's length must be at least 3, the length of its end '...', not 2",
    ),
    (
        "{{ lines | selectattr('work_code', 'equals', 'X') | list }}",
        "expr.unknown-test",
        "unknown test 'equals'",
    ),
]


@pytest.mark.parametrize(("source", "code", "message"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_a_call_that_fails_every_record_is_reported(source: str, code: str, message: str) -> None:
    found = _found(source)
    assert [(c, m) for c, m, _ in found] == [(code, message)]
    assert found[0][2]  # with a hint: the signature, or what was meant
    with pytest.raises(ExpressionError) as failed:
        _run(source)
    assert "not safely callable" not in str(failed.value)  # the call itself failed


def test_the_hint_is_the_signature() -> None:
    assert _found("{{ doc_number | truncate('a') }}") == [
        (
            "expr.bad-call",
            "truncate's length must be a whole number, not 'a'",
            "truncate(length=255, killwords=false, end='...', leeway=none): "
            "the text cut to `length` characters, `end` included",
        )
    ]
    assert _found("{{ doc_number | truncate(lenght=5) }}")[0][2] == "did you mean 'length'?"


# (expression, the field name reported): a typo merges, sums or picks the wrong thing
FIELD_TYPOS = [
    ("{{ lines | merge_by('work_cod') }}", "work_cod"),
    ("{{ lines | sum(attribute='amont') }}", "amont"),
    ("{{ lines | map(attribute='amont') | list }}", "amont"),
    ("{{ lines | selectattr('work_codes', 'eq', 'X') | list }}", "work_codes"),
    ("{{ lines | rejectattr('work_codes') | list }}", "work_codes"),
    ("{{ lines | sort(attribute='work_code,amont') | list }}", "amont"),
    ("{{ lines | unique(attribute='work_cod') | list }}", "work_cod"),
    ("{{ lines | max(attribute='amont') }}", "amont"),
    ("{{ lines | join(', ', attribute='descripton') }}", "descripton"),
]


@pytest.mark.parametrize(("source", "name"), FIELD_TYPOS, ids=[c[0] for c in FIELD_TYPOS])
def test_a_field_name_a_filter_reads_must_exist(source: str, name: str) -> None:
    found = _found(source)
    assert [(c, m) for c, m, _ in found] == [
        ("expr.unknown-field", f"'lines[]' has no field '{name}'")
    ]
    assert found[0][2].startswith("did you mean")


def test_merge_by_with_a_typo_merged_every_line_into_one() -> None:
    """Why the check matters: the filter itself cannot tell a typo from a key all lines
    lack, and merges every line into the first one."""
    merged = _run("{{ lines | merge_by('work_cod') }}")
    assert len(merged) == 1
    assert _found("{{ lines | merge_by('work_code') }}") == []


GOOD_CALLS = [
    "{{ lines | merge_by('work_code') }}",
    "{{ lines | sum(attribute='amount') | money }}",
    "{{ lines | map(attribute='amount') | list }}",
    "{{ lines | map(attribute='amount', default=0) | list }}",
    "{{ lines | map('string') | join(', ') }}",
    "{{ lines | map(attribute='description') | map('truncate', 5) | join(', ') }}",
    "{{ lines | selectattr('work_code', 'eq', 'TAX') | list }}",
    "{{ lines | selectattr('work_code') | list }}",
    "{{ lines | sort(attribute='work_code,amount', reverse=true) | list }}",
    "{{ lines | sort(attribute='work_code.0') | list }}",
    "{{ doc_number | truncate(10, true, '', 0) }}",
    "{{ doc_number | truncate(length=3) }}",
    "{{ 2.5 | round(1, 'floor') }}",
    "{{ doc_number | qbo_name(30) }}",
    "{{ date | date('%Y') }}",
    "{{ doc_number | default('x', true) }}",
    "{{ doc_number | int(none) }}",
    "{{ '%s-%s' | format(doc_number, date) }}",
    "{{ add_days(date, -30) }}",
    "{{ add_days(date, '30') }}",
    "{{ left(doc_number, 10) }}",
    "{{ doc_number | wordwrap(20, none) }}",
    "{{ doc_number | trim(none) }}",
]


@pytest.mark.parametrize("source", GOOD_CALLS)
def test_calls_that_work_are_not_reported(source: str) -> None:
    assert _found(source) == []
    _run(source)


def test_arguments_that_are_not_constants_are_left_to_the_run() -> None:
    assert _found("{{ doc_number | truncate(lines | length) }}") == []
    assert _found("{{ left(doc_number, lines | length) }}") == []
