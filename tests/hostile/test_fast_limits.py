"""The compiled ways of evaluating a rule value stay inside the same limits as Jinja's code:
the budget's clock, the arguments a filter may take, what is kept between records."""

from __future__ import annotations

import gc
import time
import tracemalloc
from typing import Any

import pytest

from tpsqbo_engine import budget
from tpsqbo_engine.expr import ExpressionError, RuleFunction, Scope, compile_value
from tpsqbo_engine.exprfast import UNBUDGETED_OPERATIONS
from tpsqbo_engine.exprread import Functions
from tpsqbo_engine.filters import merge_by
from tpsqbo_engine.sync.filling import Fields

NOTES = "a" * 1_000_000


def _chain(parts: int) -> str:
    return " ~ ".join(["notes|upper|length"] * parts)


@pytest.mark.parametrize("form", ["{{ %s }}", "text {{ %s }} end", "x{{ %s }}|{{ %s }}"])
def test_a_long_chain_of_cheap_filters_is_stopped_by_the_clock(
    form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(budget, "MAX_SECONDS", 0.2)
    value = compile_value(form.replace("%s", _chain(3_000)), "rules/t.yaml:1")
    for way in (value, value.jinja_only()):
        started = time.monotonic()
        with pytest.raises(ExpressionError, match=r"rules/t\.yaml:1: .*longer than 0\.2 s"):
            way.evaluate({"notes": NOTES})
        assert time.monotonic() - started < 0.7


def test_a_text_of_many_short_parts_runs_under_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(budget, "MAX_SECONDS", 0.2)
    value = compile_value("{{ notes|upper|length }} " * 3_000, "rules/t.yaml:2")
    started = time.monotonic()
    with pytest.raises(ExpressionError, match=r"longer than 0\.2 s"):
        value.evaluate({"notes": NOTES})
    assert time.monotonic() - started < 0.7


def test_short_expressions_still_run_without_the_budget() -> None:
    parts = UNBUDGETED_OPERATIONS // 3  # two filters and a `~` part each
    short = compile_value("{{ " + _chain(parts) + " }}", "r:1")
    longer = compile_value("{{ " + _chain(parts + 1) + " }}", "r:1")
    assert short.compiled_ways == (True, False)
    assert longer.compiled_ways == (False, True)
    context = {"notes": "ab"}
    assert short.evaluate(context) == short.evaluate_slowly(context) == "2" * parts
    assert longer.evaluate(context) == longer.evaluate_slowly(context) == "2" * (parts + 1)


@pytest.mark.parametrize(
    "source",
    [
        "{{ days | round(-10000000) }}",
        "{{ days | round(10000000, 'ceil') }}",
        "{{ days | round(precision=-10000000) }}",
        "{{ (days | round(-101)) ~ code }}",
        "days: {{ days | round(-10000000) }}",
    ],
)
def test_a_round_precision_past_the_limit_is_refused_before_the_work(source: str) -> None:
    value = compile_value(source, "rules/r.yaml:4")
    for way in (value, value.jinja_only()):
        started = time.monotonic()
        with pytest.raises(ExpressionError) as caught:
            way.evaluate({"days": 30, "code": "x"})
        assert time.monotonic() - started < 0.5
        assert caught.value.message.startswith("rules/r.yaml:4: ")
        assert "round precision of" in caught.value.message
        assert "outside the allowed -100 to 100" in caught.value.message


def test_a_round_precision_within_the_limit_rounds() -> None:
    value = compile_value("{{ days | round(-100) }} {{ amount | round(2) }}", "r:1")
    context = {"days": 30, "amount": 2.345}
    assert value.evaluate(context) == value.evaluate_slowly(context) == "0 2.35"


def test_merging_many_lines_of_one_work_code_takes_time_in_line_with_them() -> None:
    lines = [
        {"work_code": "W", "description": f"work item number {i:06d}", "amount": "1"}
        for i in range(20_000)
    ]
    lines[1]["description"] = lines[0]["description"]  # the whole text so far: left out
    started = time.monotonic()
    (merged,) = merge_by(lines, "work_code")
    assert time.monotonic() - started < 0.5
    expected = [f"work item number {i:06d}" for i in range(20_000) if i != 1]
    assert merged["description"] == "; ".join(expected)
    assert merged["amount"] == "20000"


@pytest.mark.parametrize(
    ("descriptions", "merged"),
    [
        (["a", "a", "b", "a"], "a; b; a"),
        (["a", "b", "a; b", "c"], "a; b; c"),
        (["", None, ""], None),
        ([None, "x", None], "x"),
    ],
)
def test_merged_descriptions_leave_out_a_repeat_of_the_whole_text(
    descriptions: list[str | None], merged: str | None
) -> None:
    lines = [{"work_code": "W", "description": text} for text in descriptions]
    assert merge_by(lines, "work_code")[0]["description"] == merged


def _counted(calls: list[Any], answer: str = "yes") -> RuleFunction:
    return RuleFunction(lambda _table, key: calls.append(key) or answer, pure=True)


@pytest.mark.parametrize("source", ["{{ (notes | upper) if lookup('t', 'k') else '' }}"])
def test_only_small_results_are_kept(source: str) -> None:
    value = compile_value(source, "r:1")
    fields, calls = Fields(None), []
    names = {"lookup": _counted(calls)}
    for notes in ("short", "short", "b" * 2_000, "b" * 2_000):
        scope = Scope(dict(names), record={"notes": notes}, fields=fields, fill=lambda: {})
        assert value.evaluate(scope) == notes.upper()
    assert calls == ["k", "k", "k"]  # the short one made once, the long one each time


def test_what_is_kept_of_big_results_is_bounded_in_bytes() -> None:
    value = compile_value("{{ (notes | upper) if lookup('t', 'k') else '' }}", "r:1")
    fields, names = Fields(None), {"lookup": _counted([])}
    gc.collect()
    tracemalloc.start()
    try:
        for i in range(40):
            notes = f"{i:05d}" + "a" * 500_000
            scope = Scope(dict(names), record={"notes": notes}, fields=fields, fill=lambda: {})
            assert len(value.evaluate(scope)) == len(notes)
        del notes, scope
        gc.collect()
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 2_000_000  # 20 MB when every result was kept


@pytest.mark.parametrize("source", ["{{ fn('t', code) }}", "{{ fn('t', code) ~ fn('u', code) }}"])
def test_results_are_kept_apart_for_another_function_object(source: str) -> None:
    value = compile_value(source, "r:1")
    fields = Fields(None)
    for answer in ("A", "B", "A"):
        fn = RuleFunction(lambda _table, code, answer=answer: f"{answer}:{code}", pure=True)
        for _ in range(2):
            scope = Scope({"fn": fn}, record={"code": "x"}, fields=fields, fill=lambda: {})
            assert value.evaluate(scope) == value.evaluate_slowly({"fn": fn, "code": "x"})
            assert value.evaluate(scope).startswith(f"{answer}:x")


def test_a_name_bound_to_none_where_a_kept_function_was_gets_no_kept_result() -> None:
    value = compile_value("{{ fn(code, 't') }}", "r:1")
    fields = Fields(None)
    fn = RuleFunction(lambda code, _table: f"A:{code}", pure=True)
    scope = Scope({"fn": fn}, record={"code": "x"}, fields=fields, fill=lambda: {})
    assert value.evaluate(scope) == "A:x"
    del fn, scope
    gc.collect()  # the function kept for is gone: its weak reference answers None
    scope = Scope({"fn": None}, record={"code": "x"}, fields=fields, fill=lambda: {"code": "x"})
    with pytest.raises(ExpressionError, match="r:1"):
        value.evaluate(scope)  # as Jinja's code: None cannot be called


@pytest.mark.parametrize(
    "source",
    ["{{ none[0] and name }}", "TPS {{ none[0] ~ name }}", "{{ 'a' if none[0] else name }}"],
)
def test_a_value_whose_constant_part_fails_is_a_located_error_when_loaded(source: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_value(source, "rules/c.yaml:7")
    assert caught.value.message.startswith(f"rules/c.yaml:7: `{source}` fails for every record")
    assert "(None has no element 0)" in caught.value.message
    assert caught.value.hint


def test_a_value_failing_only_for_some_records_still_loads() -> None:
    value = compile_value("{{ name and none[0] }}", "rules/c.yaml:8")
    assert value.evaluate({"name": ""}) == ""
    with pytest.raises(ExpressionError, match=r"rules/c\.yaml:8: "):
        value.evaluate({"name": "x"})


def _answering(answer: str, calls: list[str] | None = None) -> RuleFunction:
    def fn(table: str, code: str) -> str:
        if calls is not None:
            calls.append(code)
        return f"{answer}:{table}:{code}"

    return RuleFunction(fn, pure=True)


TWO_SHAPES = ["{{ fn('t', code) }}", "{{ fn('t', code) ~ '/' ~ fn('u', code) }}"]


@pytest.mark.parametrize("source", TWO_SHAPES)
def test_results_are_kept_for_the_functions_every_scope_shares(source: str) -> None:
    value = compile_value(source, "r:1")
    fields, calls = Fields(None), []
    shared = Functions({"fn": _answering("A", calls)})
    for code in ("x", "x", "y", "x"):
        scope = Scope(None, record={"code": code}, fields=fields, functions=shared)
        assert value.evaluate(scope) == value.evaluate_slowly({**shared.by_name, "code": code})
    calls.clear()
    scope = Scope(None, record={"code": "x"}, fields=fields, functions=shared)
    assert scope.functions is shared
    value.evaluate(scope)
    assert calls == []  # kept, and found without looking the function up


@pytest.mark.parametrize("source", TWO_SHAPES)
def test_a_name_bound_over_a_shared_function_is_the_one_called(source: str) -> None:
    value = compile_value(source, "r:1")
    fields = Fields(None)
    shared = Functions({"fn": _answering("A")})
    scope = Scope(None, record={"code": "x"}, fields=fields, functions=shared)
    assert value.evaluate(scope).startswith("A:")  # kept for the shared function
    inner = scope.inner()
    inner.bind("fn", _answering("B"))  # an `each` alias named like the function
    assert inner.functions is None
    assert value.evaluate(inner).startswith("B:")
    assert value.evaluate(inner) == value.evaluate_slowly({"fn": inner.names["fn"], "code": "x"})


@pytest.mark.parametrize("source", TWO_SHAPES)
def test_a_name_given_over_shared_functions_is_the_one_called(source: str) -> None:
    value = compile_value(source, "r:1")
    fields = Fields(None)
    shared = Functions({"fn": _answering("A")})
    for answer in ("B", "B", "A", "B", "A"):
        given = {} if answer == "A" else {"fn": _answering("B")}
        scope = Scope(given, record={"code": "x"}, fields=fields, functions=shared)
        assert (scope.functions is shared) == (answer == "A")
        assert value.evaluate(scope).startswith(f"{answer}:")


def test_binding_a_name_in_one_scope_leaves_every_other_scope_as_it_was() -> None:
    shared = Functions({"fn": _answering("A")})
    first = Scope(None, record={"code": "x"}, fields=Fields(None), functions=shared)
    second = Scope(None, record={"code": "y"}, fields=Fields(None), functions=shared)
    first.bind("line", {"amount": "1"})
    first.bind("fn", _answering("B"))
    assert first.names["line"] == {"amount": "1"} and first.names["fn"].func("t", "x") == "B:t:x"
    assert "line" not in second.names and "line" not in shared.by_name
    assert second.names["fn"] is shared.by_name["fn"] and second.functions is shared
    assert compile_value("{{ fn('t', code) }}", "r:1").evaluate(second) == "A:t:y"
    unfilled = Scope(None, functions=shared)  # names are what Jinja's code reads as well
    unfilled.bind("code", "z")
    assert unfilled.values["code"] == "z" and "code" not in shared.by_name


@pytest.mark.parametrize("parts", [10, 40])  # compiled closures, and the budgeted ways
@pytest.mark.parametrize("way", ["evaluate", "evaluate_slowly"])
def test_a_join_of_long_parts_is_refused_before_it_is_made(parts: int, way: str) -> None:
    value = compile_value("{{ " + " ~ ".join(["notes"] * parts) + " }}", "r:1")
    notes = "n" * 900_000  # one field within the limit; the join of them is not
    scope = Scope({"notes": notes})
    gc.collect()
    tracemalloc.start()
    try:
        with pytest.raises(ExpressionError, match="text's length"):
            getattr(value, way)(scope)
        _held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000  # the joined text (9 MB and more) was never made


def test_a_name_bound_after_jinja_read_the_shared_names_is_seen_by_jinja() -> None:
    value = compile_value("{{ code if code is defined else 'unbound' }}", "r:1")
    scope = Scope(None, functions=Functions({"fn": _answering("A")}))
    assert value.evaluate_slowly(scope) == "unbound"  # Jinja's context made over them
    scope.bind("code", "z")
    assert value.evaluate_slowly(scope) == "z"


def test_results_are_found_by_the_shared_functions_only_while_they_live() -> None:
    import weakref

    from tpsqbo_engine.exprread import _known_here

    fields = Fields(None)
    shared = Functions({"fn": _answering("A")})
    scope = Scope(None, record={}, fields=fields, functions=shared)
    kept_for = (fields, (), {}, weakref.ref(shared))
    assert _known_here(scope, kept_for) is shared  # the kept results, no function looked up
    other = Scope(None, record={}, fields=fields, functions=Functions(shared.by_name))
    assert _known_here(other, kept_for) is None  # other functions (the same objects or not)
    assert (
        _known_here(Scope(None, record={}, fields=Fields(None), functions=shared), kept_for) is None
    )
    assert _known_here(scope, (fields, (), {}, None)) is None  # kept without knowing them
    gone = Functions(shared.by_name)
    dead = (fields, (), {}, weakref.ref(gone))
    del gone
    gc.collect()
    assert _known_here(scope, dead) is None
