"""An operator failing at run time on operands read from the record says which operator, what
kind each operand was and what it needs: never Python's bare TypeError, never the record's
data. Jinja's own code and exprfast's closures say the same."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tpsqbo_engine.expr import ExpressionError, compile_value
from tpsqbo_engine.ruleset.shapes import entity_catalog
from tpsqbo_engine.ruleset.typecheck import Scope, check_value

RECORD = {
    "name": "Private 7",
    "code": "Private %q",
    "amount": Decimal("1.50"),
    "count": 3,
    "zero": 0,
    "lines": ["Private a"],
}
KINDS = "a text and a whole number"
FAILURES = [
    (
        "{{ 1 < count < name }}",
        "the `<` operator cannot take what it was given (a whole number and a text)",
    ),
    ("{{ '%d' % name }}", "the `%` operator cannot take what it was given (a text and a text"),
    ("{{ '%d %d' % count }}", "(a text and a whole number, the values not matching"),
    ("{{ code % count }}", "(a text and a whole number, the text with a %-code it does not know"),
    (
        "{{ '%s' % count }}{{ name + count }}",
        f"the `+` operator cannot take what it was given ({KINDS}); it adds",
    ),
    (
        "{{ name + count }}",
        f"({KINDS}); it adds two numbers, or joins two texts or two lists; to join a text"
        " and another value use `~`",
    ),
    (
        "{{ name - count }}",
        f"the `-` operator cannot take what it was given ({KINDS}); it subtracts",
    ),
    (
        "{{ name * amount }}",
        "the `*` operator cannot take what it was given (a text and a number); it multiplies",
    ),
    ("{{ name / count }}", f"the `/` operator cannot take what it was given ({KINDS}); it divides"),
    (
        "{{ name // count }}",
        f"the `//` operator cannot take what it was given ({KINDS}); it divides",
    ),
    (
        "{{ name < count }}",
        f"the `<` operator cannot take what it was given ({KINDS}); it compares",
    ),
    (
        "{{ amount >= name }}",
        "the `>=` operator cannot take what it was given (a number and a text)",
    ),
    (
        "{{ 'x' if count > name else 'y' }}",
        "the `>` operator cannot take what it was given (a whole number and a text)",
    ),
    (
        "{{ count in name }}",
        "the `in` operator cannot take what it was given (a whole number and a text); it looks for",
    ),
    ("{{ count not in name }}", "the `not in` operator cannot take"),
    ("{{ amount / zero }}", "the `/` operator divided a number by zero"),
    ("{{ count % zero }}", "the `%` operator divided a whole number by zero"),
]


@pytest.mark.parametrize(("source", "message"), FAILURES)
def test_an_operator_failing_on_the_record_says_which_and_the_kinds_it_was_given(
    source: str, message: str
) -> None:
    value = compile_value(source, "rules/clients.yaml:12")
    for evaluate in (value.evaluate, value.evaluate_slowly):  # closures and Jinja's own code
        with pytest.raises(ExpressionError) as failed:
            evaluate(RECORD)
        told = failed.value.told
        assert told.startswith("rules/clients.yaml:12: the `")
        assert message in told
        assert "TypeError" not in told and "Private" not in told and "%q" not in told


@pytest.mark.parametrize(
    "source",
    ["{{ name < count }}", "{{ name - count }}", "{{ count in name }}", "{{ name / count }}"],
)
def test_the_closures_themselves_say_it(source: str) -> None:
    # these compile to closures, not only to Jinja's code: both ways are exercised above
    assert compile_value(source, "r:1").compiled_ways != (False, False)


def test_the_same_operators_still_work_on_operands_that_go_together() -> None:
    cases = {
        "{{ '%d/%s' % (count, name) }}": "3/Private 7",
        "{{ count - 1 }}": 2,
        "{{ amount / 2 }}": Decimal("0.75"),
        "{{ count // 2 }}": 1,
        "{{ amount < count }}": True,
        "{{ 'a' in name }}": True,
        "{{ 'Private a' not in lines }}": False,
        "{{ 1 < count < 5 }}": True,  # a chain: each comparison checked, `count` read once
        "{{ 9 < count < name }}": False,  # the second one not made, as in Python
        "{{ count == 3 != name }}": True,
        "{{ name ~ count }}": "Private 73",
    }
    for source, expected in cases.items():
        value = compile_value(source, "r:1")
        assert value.evaluate(RECORD) == expected, source
        assert value.evaluate_slowly(RECORD) == expected, source


def test_an_undefined_operand_is_still_said_to_be_one() -> None:
    value = compile_value("{{ missing - 1 }}", "r:1")
    for evaluate in (value.evaluate, value.evaluate_slowly):
        with pytest.raises(ExpressionError, match="missing"):
            evaluate(RECORD)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ 'a' - 1 }}", "the `-` operator cannot take what it was given (a text and a whole"),
        ("{{ '%d' % 'x' }}", "the `%` operator cannot take what it was given (a text and a text"),
        ("{{ 'a' < 1 }}", "the `<` operator cannot take what it was given (a text and a whole"),
        ("{{ 1 / 0 }}", "the `/` operator divided a whole number by zero"),
    ],
)
def test_validate_says_ahead_that_an_operator_of_constants_fails(source: str, message: str) -> None:
    catalog = entity_catalog()
    scope = Scope(catalog, dict(catalog.shapes["tps.Invoice"].properties()), "tps")
    (finding,) = check_value(source, scope).findings
    assert finding.code == "expr.always-fails"
    assert finding.message.startswith(f"this value fails for every record: {message}")


def test_validate_passes_operators_of_constants_that_go_together() -> None:
    catalog = entity_catalog()
    scope = Scope(catalog, dict(catalog.shapes["tps.Invoice"].properties()), "tps")
    assert check_value("{{ 'No. %d' % (7 - 2) }} {{ 1 < 2 }}", scope).findings == ()
