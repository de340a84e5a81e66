"""An argument of the right kind that a filter still cannot take (a truncate length shorter
than its end, a wordwrap width of 0) is refused at run time saying what the filter was given
and what it takes, never a bare "ValueError" and never the record's values; written as a
constant, `validate` reports it first."""

from __future__ import annotations

import pytest

from tpsqbo_engine.expr import ExpressionError, compile_value
from tpsqbo_engine.ruleset.shapes import entity_catalog
from tpsqbo_engine.ruleset.typecheck import Scope as CheckScope
from tpsqbo_engine.ruleset.typecheck import check_value

RECORD = {"name": "Private Client Holdings", "n": 2, "w": 0, "tail": "[Private]", "lee": -4}
TAKES = "it takes truncate(length=255, killwords=false, end='...', leeway=none)"
FAILURES = [
    (
        "{{ name | truncate(2) }}",
        "the truncate filter cannot take what it was given (the value a text; length: a whole"
        f" number shorter than its end '...' (3 characters)); {TAKES}",
    ),
    (
        "{{ name | truncate(n) }}",
        "the truncate filter cannot take what it was given (the value a text; length: a whole"
        f" number shorter than its end '...' (3 characters)); {TAKES}",
    ),
    (
        "{{ name | truncate(5, false, tail) }}",
        "the truncate filter cannot take what it was given (the value a text; length: a whole"
        f" number shorter than its end; killwords: true or false; end: a text); {TAKES}",
    ),
    (
        "{{ name | truncate(5, leeway=lee) }}",
        "the truncate filter cannot take what it was given (the value a text; length: a whole"
        f" number; leeway: a whole number below 0); {TAKES}",
    ),
    (
        "{{ name | wordwrap(w) }}",
        "the wordwrap filter cannot take what it was given (the value a text; width: a whole"
        " number below 1); it takes wordwrap(width=79,",
    ),
    (
        "{{ name | batch(w) | list }}",
        "the batch filter cannot take what it was given (the value a text; linecount: a whole"
        " number below 1); it takes batch(linecount, fill_with=none)",
    ),
    (  # a negative limit cut the end off the name, silently
        "{{ name | qbo_name(lee) }}",
        "the qbo_name filter cannot take what it was given (the value a text; limit: a whole"
        " number below 1); it takes qbo_name(limit=100)",
    ),
]


@pytest.mark.parametrize(("source", "message"), FAILURES, ids=[f[0] for f in FAILURES])
def test_an_argument_out_of_range_says_what_the_filter_takes(source: str, message: str) -> None:
    value = compile_value(source, "rules/clients.yaml:7")
    for evaluate in (value.evaluate, value.evaluate_slowly):  # closures and Jinja's own code
        with pytest.raises(ExpressionError) as failed:
            evaluate(RECORD)
        told = failed.value.told
        assert told.startswith(f"rules/clients.yaml:7: {message}")
        assert "ValueError" not in told and "expected" not in told  # Jinja's assert quoted
        assert "Private" not in told and "-4" not in told  # the record's values


def test_true_or_false_for_a_number_is_said_once() -> None:
    with pytest.raises(ExpressionError) as failed:
        compile_value("{{ name | truncate(n) }}", "r:1").evaluate({"name": "abcdef", "n": True})
    assert "(the value a text; length: true or false, not a number); it takes" in str(
        failed.value.told
    )


def test_the_limits_themselves_are_still_taken() -> None:
    value = compile_value(
        "{{ name | truncate(3, true, leeway=0) }}|{{ name | wordwrap(1) }}", "r:1"
    )
    assert value.evaluate({"name": "abcdef"}) == "...|a\nb\nc\nd\ne\nf"
    value = compile_value("{{ name | truncate(6, end='[..]', leeway=0) }}", "r:1")
    assert value.evaluate({"name": "ab cd ef gh"}) == "ab[..]"
    value = compile_value("{{ name | batch(1) | list | length }} {{ name | qbo_name(1) }}", "r:1")
    assert value.evaluate({"name": "abc"}) == "3 a"


def _found(source: str) -> list[tuple[str, str]]:
    catalog = entity_catalog()
    scope = CheckScope(catalog, dict(catalog.shapes["tps.Invoice"].properties()), "tps")
    return [(f.code, f.message) for f in check_value(source, scope).findings]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "{{ doc_number | truncate(2) }}",
            "truncate's length must be at least 3, the length of its end '...', not 2",
        ),
        (
            "{{ doc_number | truncate(4, false, '.....') }}",
            "truncate's length must be at least 5, the length of its end '.....', not 4",
        ),
        (
            "{{ doc_number | truncate(end='[more]', length=5) }}",
            "truncate's length must be at least 6, the length of its end '[more]', not 5",
        ),
        (
            "{{ doc_number | truncate(9, leeway=-1) }}",
            "truncate's leeway must be 0 or more, not -1",
        ),
        ("{{ doc_number | wordwrap(0) }}", "wordwrap's width must be 1 or more, not 0"),
        ("{{ lines | batch(0) | list }}", "batch's linecount must be 1 or more, not 0"),
        ("{{ doc_number | qbo_name(-3) }}", "qbo_name's limit must be 1 or more, not -3"),
    ],
)
def test_validate_reports_a_constant_out_of_range(source: str, message: str) -> None:
    assert _found(source) == [("expr.bad-call", message)]


def test_validate_takes_the_limits_themselves() -> None:
    for source in ("{{ doc_number | truncate(3) }}", "{{ doc_number | truncate(6, end='[..]') }}"):
        assert _found(source) == []
    for source in ("{{ doc_number | wordwrap(1) }}", "{{ lines | batch(1) | list }}"):
        assert _found(source) == []
    assert _found("{{ doc_number | qbo_name(1) }}") == []


def test_items_made_one_at_a_time_are_named_a_list_not_a_python_generator() -> None:
    value = compile_value("{{ lines | map(attribute='a') | max }}", "r:1")
    with pytest.raises(ExpressionError) as failed:
        value.evaluate({"lines": [{"a": 1}, {"a": "Private"}]})
    told = failed.value.told
    assert "(the value a list)" in told and "generator" not in told and "Private" not in told
