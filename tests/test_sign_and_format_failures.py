"""`-x` and `+x` on what is not a number say which operator and the kind they were given, as
every other operator does (engine/operatorfail.py), never Python's bare TypeError; and
`'%s' % generator` gives the generator's list, as `~` and `{{ ... }}` do, never
"<generator object ...>", and nor do the `format` and `string` filters."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tpsqbo_engine.expr import ExpressionError, compile_value
from tpsqbo_engine.ruleset.shapes import entity_catalog
from tpsqbo_engine.ruleset.typecheck import Scope, check_value

RECORD = {
    "name": "Private 7",
    "amount": Decimal("1.50"),
    "count": 3,
    "lines": ["Private a", "Private b", "Private c"],
    "flag": True,
}
SIGN_FAILURES = [
    (
        "{{ -name }}",
        "the `-` operator cannot take what it was given (a text); before a value it makes a "
        "number negative; convert a text first (`| int`, `| decimal`)",
    ),
    (
        "{{ +name }}",
        "the `+` operator cannot take what it was given (a text); before a value it takes a number",
    ),
    ("No. {{ -name }}", "the `-` operator cannot take what it was given (a text)"),
    ("{{ -lines }}", "the `-` operator cannot take what it was given (a list)"),
    ("{{ -(lines | batch(2)) }}", "the `-` operator cannot take what it was given (a list)"),
    ("{{ amount - -name }}", "the `-` operator cannot take what it was given (a text)"),
]


def _fails_readably(evaluate: object, message: str) -> None:
    with pytest.raises(ExpressionError) as failed:
        evaluate(RECORD)  # type: ignore[operator]
    told = failed.value.told
    assert told.startswith("rules/clients.yaml:12: the `")
    assert message in told
    assert "TypeError" not in told and "Private" not in told


@pytest.mark.parametrize(("source", "message"), SIGN_FAILURES)
def test_a_sign_on_a_text_says_which_operator_and_the_kind_through_jinjas_code(
    source: str, message: str
) -> None:
    _fails_readably(compile_value(source, "rules/clients.yaml:12").evaluate_slowly, message)


@pytest.mark.parametrize(("source", "message"), SIGN_FAILURES[:3])
def test_a_sign_on_a_text_says_the_same_through_the_closures(source: str, message: str) -> None:
    value = compile_value(source, "rules/clients.yaml:12")
    assert value.compiled_ways[0]  # the closures are what `evaluate` runs
    _fails_readably(value.evaluate, message)


def test_signs_still_work_on_numbers_both_ways() -> None:
    cases = {
        "{{ -count }}": -3,
        "{{ -amount }}": Decimal("-1.50"),
        "{{ +amount }}": Decimal("1.50"),
        "{{ -(amount * 2) }}": Decimal("-3.00"),
        "{{ 1 - -count }}": 4,
        "{{ -flag }}": -1,  # true is the number 1 to Python, as it was
        "{{ not name }}": False,
    }
    for source, expected in cases.items():
        value = compile_value(source, "r:1")
        assert value.evaluate(RECORD) == expected, source
        assert value.evaluate_slowly(RECORD) == expected, source


def test_a_sign_on_an_undefined_value_still_names_it() -> None:
    value = compile_value("{{ -missing }}", "r:1")
    for evaluate in (value.evaluate, value.evaluate_slowly):
        with pytest.raises(ExpressionError, match="missing"):
            evaluate(RECORD)


def _scope() -> Scope:
    catalog = entity_catalog()
    return Scope(catalog, dict(catalog.shapes["tps.Invoice"].properties()), "tps")


@pytest.mark.parametrize(("source", "kind"), [("{{ -'a' }}", "a text"), ("{{ +[1] }}", "a list")])
def test_validate_says_ahead_that_a_sign_on_a_constant_fails(source: str, kind: str) -> None:
    (finding,) = check_value(source, _scope()).findings
    assert finding.code == "expr.always-fails"
    assert finding.message.startswith(
        f"this value fails for every record: the `{source[3]}` operator cannot take what it "
        f"was given ({kind})"
    )


def test_validate_passes_signs_on_constant_numbers() -> None:
    assert check_value("{{ -1 }} {{ -(2.5) }} {{ +3 }}", _scope()).findings == ()


FORMATS = {
    "{{ '%s' % (lines | batch(2)) }}": "[['Private a', 'Private b'], ['Private c']]",
    "rows: {{ '%s' % (lines | batch(2)) }}": "rows: [['Private a', 'Private b'], ['Private c']]",
    "{{ '%s/%d' % (lines | batch(3), count) }}": "[['Private a', 'Private b', 'Private c']]/3",
    "{{ '%(rows)s' % {'rows': lines | batch(2)} }}": "[['Private a', 'Private b'], ['Private c']]",
    "{{ '%s' % (lines | map('upper')) }}": "['PRIVATE A', 'PRIVATE B', 'PRIVATE C']",
    "{{ '%s' % (lines | batch(2) | map('batch', 1)) }}": (
        "[[['Private a'], ['Private b']], [['Private c']]]"
    ),
    "{{ '%s' | format(lines | batch(2)) }}": "[['Private a', 'Private b'], ['Private c']]",
    "{{ '%s-%d' | format(lines | batch(3), count) }}": (
        "[['Private a', 'Private b', 'Private c']]-3"
    ),
    "{{ lines | batch(2) | string }}": "[['Private a', 'Private b'], ['Private c']]",
    "{{ '%s-%s' % (count, name) }}": "3-Private 7",  # no generator: as ever
    "{{ lines | string }}": "['Private a', 'Private b', 'Private c']",
    "{{ count % 2 }}": 1,
}


@pytest.mark.parametrize(("source", "expected"), FORMATS.items())
def test_a_generator_formatted_with_percent_s_is_its_list(source: str, expected: object) -> None:
    value = compile_value(source, "r:1")
    assert value.evaluate(RECORD) == expected
    assert value.evaluate_slowly(RECORD) == expected


def test_percent_s_of_a_generator_is_the_text_tilde_makes() -> None:
    tilde = compile_value("{{ (lines | batch(2)) ~ '' }}", "r:1").evaluate(RECORD)
    percent = compile_value("{{ '%s' % (lines | batch(2)) }}", "r:1").evaluate(RECORD)
    assert percent == tilde
    assert "generator" not in percent


def test_a_generator_where_a_number_is_asked_says_it_is_a_list() -> None:
    value = compile_value("{{ '%d' % (lines | batch(2)) }}", "rules/clients.yaml:12")
    for evaluate in (value.evaluate, value.evaluate_slowly):
        _fails_readably(
            evaluate,
            "the `%` operator cannot take what it was given (a text and a list, the values "
            "not matching the text's %-codes in number or kind)",
        )


def test_a_generator_whose_list_is_too_long_is_refused_by_the_budget() -> None:
    long = "x" * 600_000  # two of them: a text over the limit of 1,000,000 characters
    value = compile_value("{{ '%s' % ([name, name] | batch(1)) }}", "r:1")
    for evaluate in (value.evaluate, value.evaluate_slowly):
        with pytest.raises(ExpressionError, match="over the limit"):
            evaluate({**RECORD, "name": long})
