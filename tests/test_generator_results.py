"""A value that is a generator (`batch`, `map`, `selectattr`, `unique`... give one) is made the
list of what it gives, where it is a rule's value and where it is written into a text: never
Jinja's "<generator object ...>"."""

from __future__ import annotations

import pytest

from tpsqbo_engine.expr import ExpressionError, compile_value

RECORD = {"lines": ["a", "b", "c"], "flag": True, "rows": [{"n": 1}, {"n": 2}]}
CASES = {
    "{{ lines | batch(2) }}": [["a", "b"], ["c"]],
    "{{ lines | map('upper') }}": ["A", "B", "C"],
    "{{ rows | selectattr('n', 'ne', 1) }}": [{"n": 2}],
    "{{ rows | rejectattr('n', 'ne', 1) }}": [{"n": 1}],
    "{{ lines | unique }}": ["a", "b", "c"],
    "{{ rows | map(attribute='n') }}": [1, 2],
    "{{ (lines | batch(2)) if flag else [] }}": [["a", "b"], ["c"]],
    "{{ lines | batch(2) | list }}": [["a", "b"], ["c"]],
    "{{ [lines, lines] | map('batch', 2) }}": [[["a", "b"], ["c"]], [["a", "b"], ["c"]]],
    "rows: {{ lines | batch(2) }}": "rows: [['a', 'b'], ['c']]",
    "{{ 'rows: ' ~ lines | batch(2) }}": "rows: [['a', 'b'], ['c']]",
    "{{ lines | unique ~ '/' ~ lines | map('upper') }}": "['a', 'b', 'c']/['A', 'B', 'C']",
    "{{ lines | map('upper') }}/{{ lines | unique }}": "['A', 'B', 'C']/['a', 'b', 'c']",
}


@pytest.mark.parametrize(("source", "expected"), CASES.items())
def test_a_generator_is_made_the_list_it_gives(source: str, expected: object) -> None:
    value = compile_value(source, "r:1")
    assert value.evaluate(RECORD) == expected
    assert value.evaluate_slowly(RECORD) == expected  # Jinja's own code alone says the same


def test_an_undefined_inside_the_list_made_is_found() -> None:
    value = compile_value("{{ rows | map(attribute='x') }}", "r:1")
    with pytest.raises(ExpressionError, match="no value for this record"):
        value.evaluate(RECORD)  # the generator itself hid it
