"""A filter failing at run time on an argument read from the record says which filter, what
kind of value each argument was and what the filter takes: never Python's bare TypeError,
never the record's data."""

from __future__ import annotations

import pytest

from tpsqbo_engine.expr import ExpressionError, compile_value
from tpsqbo_engine.filterfail import kind_of

RECORD = {"name": "Private Client", "x": "Private 3", "amount": 1.5, "lines": [1, 2]}
FAILURES = [
    (
        "{{ name | truncate(x) }}",
        "the truncate filter cannot take what it was given (the value a text; length: a text,"
        " not a whole number); it takes truncate(length=255, killwords=false, end='...',"
        " leeway=none)",
    ),
    (
        "{{ amount | round(precision=x) }}",
        "the round filter cannot take what it was given (the value a number; precision: a text,"
        " not a whole number); it takes round(precision=0, method='common')",
    ),
    (
        "{{ name | center(x) }}",
        "the center filter cannot take what it was given (the value a text; width: a text, not"
        " a whole number); it takes center(width=80)",
    ),
    (
        "{{ name | round }}",
        "the round filter cannot take what it was given (the value a text); it takes round(",
    ),
]


@pytest.mark.parametrize(("source", "message"), FAILURES)
def test_a_filter_failing_on_an_argument_of_the_record_says_what_it_takes(
    source: str, message: str
) -> None:
    value = compile_value(source, "rules/clients.yaml:12")
    for evaluate in (value.evaluate, value.evaluate_slowly):  # closures and Jinja's own code
        with pytest.raises(ExpressionError) as failed:
            evaluate(RECORD)
        told = failed.value.told
        assert told.startswith(f"rules/clients.yaml:12: {message}")
        assert "TypeError" not in told and "Private" not in told


def test_kinds_are_named_as_rules_speak_of_them() -> None:
    assert [kind_of(v) for v in ("a", 1, True, None, [1], {"a": 1})] == [
        "a text",
        "a whole number",
        "true or false",
        "none",
        "a list",
        "a mapping",
    ]


def test_the_same_filters_still_work_on_arguments_of_the_right_kind() -> None:
    value = compile_value("{{ name | truncate(n) }} {{ amount | round(precision=p) }}", "r:1")
    assert (
        value.evaluate({"name": "abcdefghijklmnop", "n": 5, "amount": 1.26, "p": 1}) == "ab... 1.3"
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "{{ name is lt(n) }}",
            "the lt test cannot take what it was given (the value a text; other: a whole"
            " number); it takes is lt(other)",
        ),
        (
            "{{ name is odd }}",
            "the odd test cannot take what it was given (the value a text); is odd takes no"
            " arguments",
        ),
    ],
)
def test_a_test_failing_on_what_the_record_gives_says_what_it_takes(
    source: str, message: str
) -> None:
    value = compile_value(source, "rules/clients.yaml:3")
    for evaluate in (value.evaluate, value.evaluate_slowly):
        with pytest.raises(ExpressionError) as failed:
            evaluate({**RECORD, "n": 3})
        assert failed.value.told.startswith(f"rules/clients.yaml:3: {message}")
    assert compile_value("{{ n is lt(4) and n is odd }}", "r:1").evaluate({"n": 3}) is True


def test_a_value_of_the_wrong_kind_names_the_filter_too() -> None:
    value = compile_value("{{ d | date('%Y') }}", "rules/x.yaml:1")
    with pytest.raises(ExpressionError) as failed:
        value.evaluate({"d": "2026-13-45 Private"})
    assert failed.value.told == (
        "rules/x.yaml:1: the date filter cannot take what it was given (the value a text; fmt:"
        " a text); it takes date(fmt=''): the value as a date, or as text in `fmt` (strftime)"
    )
    with pytest.raises(ExpressionError, match=r"it takes format\(\.\.\.\): printf"):
        compile_value("{{ '%d' | format(d) }}", "r:1").evaluate({"d": "x"})
