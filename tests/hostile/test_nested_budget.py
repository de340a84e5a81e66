"""Lists of lists are sized by what they hold all the way down, each shared part as often as
it is reached: comparing two values visits every item reached, in one call the clock cannot
stop (`[[[[[n]*100]*100]*100]*100]*100 == ...` took 9 s)."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from tpsqbo_engine import budget
from tpsqbo_engine.deepsize import measure
from tpsqbo_engine.expr import ExpressionError, compile_value

LEVEL = "[n] * 100"
for _ in range(4):
    LEVEL = f"[{LEVEL}] * 100"
SETS = "{% set b = [n] * 1000 %}{% set a = [b, b, b, b, b, b, b, b, b, b] %}"
BOMBS = {
    "repeated-levels": f"{{{{ ({LEVEL}) == ({LEVEL}) }}}}",
    "three-levels": "{{ ([[[n] * 100] * 100] * 11) | length }}",
    "list-literal": SETS + "{% set c = [a, a, a, a, a, a, a, a, a, a, a] %}{{ c | length }}",
    "dict-literal": SETS + "{{ {'a': a, 'b': a, 'c': a, 'd': a, 'e': a, 'f': a, 'g': a,"
    " 'h': a, 'i': a, 'j': a, 'k': a} | length }}",
    "tuple-literal": "{{ (([[n] * 10000] * 5), ([[n] * 10000] * 5), ([[n] * 10000] * 5)) }}",
    "plus": "{{ ([[n] * 10000] * 5) + ([[n] * 10000] * 5) }}",
    "text-inside": "{{ ([[t ~ '']] * 2000) | length }}",
    "filter-result": "{{ (([n] * 10000) + [n]) | batch(10000, fill_with=[n] * 10000) | list }}",
}


@pytest.mark.parametrize("source", BOMBS.values(), ids=BOMBS)
def test_what_a_value_holds_all_the_way_down_is_refused_as_it_is_made(source: str) -> None:
    value = compile_value(source, "rules/x.yaml:3")
    for evaluate in (value.evaluate, value.evaluate_slowly):  # closures and Jinja's own code
        started = time.monotonic()
        with pytest.raises(ExpressionError, match=r"rules/x.yaml:3: .*all the way down"):
            evaluate({"n": 1, "t": "x" * 1000})
        assert time.monotonic() - started < 5  # refused as made, not after


def test_the_closures_are_the_way_tried_first() -> None:
    # the single expressions above are compiled to closures (with the budget, or without it
    # for a literal), so both ways are tested
    assert compile_value(BOMBS["repeated-levels"], "r:1").compiled_ways == (False, True)
    assert compile_value(BOMBS["dict-literal"].removeprefix(SETS), "r:1").compiled_ways[0]


@pytest.mark.parametrize(
    ("source", "made"),
    [
        ("{{ [[n] * 9] * 1000 == [[n] * 9] * 1000 }}", True),
        ("{{ ([[n] * 9] * 1000) | length }}", 1000),
        ("{{ [[n, n], {'k': [n]}] }}", [[1, 1], {"k": [1]}]),
        ("{% set b = [n] * 100 %}{{ [b, b, b] | length }}", "3"),
        ("{{ ((n, n), [n]) }}", ((1, 1), [1])),
    ],
)
def test_values_that_fit_all_the_way_down_are_made(source: str, made: object) -> None:
    value = compile_value(source, "r:1")
    assert value.evaluate({"n": 1}) == made
    assert value.evaluate_slowly({"n": 1}) == made


def test_shared_parts_are_measured_once_and_counted_each_time_reached() -> None:
    inner = ["ab"] * 10
    middle = [inner] * 10
    assert measure([middle, middle, inner], 10**9, 10**9) == (3 + 2 * 110 + 10, 2 * 200 + 20)
    started = time.monotonic()
    shared: list[object] = [1]
    for _ in range(60):  # 2**60 items reached, 60 lists to measure
        shared = [shared, shared]
    items, _ = measure(shared, budget.MAX_ITEMS, budget.MAX_SIZE)
    assert items > budget.MAX_ITEMS
    assert time.monotonic() - started < 5  # 60 lists measured, not 2**60 items walked
    with pytest.raises(budget.BudgetExceeded, match="all the way down"):
        budget.sized([shared])


def test_a_value_holding_itself_is_refused() -> None:
    looped: list[object] = [1]
    looped.append(looped)
    with pytest.raises(budget.BudgetExceeded, match="all the way down"):
        budget.sized([looped])


@pytest.mark.parametrize(
    "source",
    [
        "{% set x %}{% for a in [1] * 10000 %}{{ s }}{% endfor %}{% endset %}{{ x | length }}",
        "{% filter upper %}{% for a in [1] * 10000 %}{{ s }}{% endfor %}{% endfilter %}",
    ],
)
def test_the_text_a_block_captures_is_sized_before_it_is_joined(source: str) -> None:
    value = compile_value(source, "rules/x.yaml:5")
    tracemalloc.start()
    try:
        with pytest.raises(ExpressionError, match=r"captured text's length of 10,000,000"):
            value.evaluate({"s": "x" * 1000})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # the 10 MB text was never made
    assert compile_value(source, "r:1").evaluate({"s": "ab"}).lower() == (
        "20000" if "set" in source else "ab" * 10000
    )


def test_validate_reports_a_constant_list_of_lists_over_the_budget() -> None:
    from tpsqbo_engine.ruleset.shapes import entity_catalog
    from tpsqbo_engine.ruleset.typecheck import Scope, check_value

    catalog = entity_catalog()
    scope = Scope(catalog, dict(catalog.shapes["tps.Invoice"].properties()), "tps")
    found = check_value("{{ ([[[1] * 100] * 100] * 11) | length }}", scope).findings
    assert [(f.code, f.message) for f in found] == [
        (
            "expr.budget",
            "this value goes over the evaluation budget: a repeated value's items, all the way"
            " down, of 111,111 is over the limit of 100,000",
        )
    ]


def test_a_whole_page_rendered_outside_an_evaluation_is_not_a_captured_text() -> None:
    # the run report: the engine's own template, rendered with no budget open, may be long
    from tpsqbo_engine.exprenv import environment

    page = environment(autoescape=True).from_string("{% for a in x %}{{ s }}{% endfor %}")
    assert len(page.render(x=[1] * 200, s="y" * 10_000)) == 2_000_000
