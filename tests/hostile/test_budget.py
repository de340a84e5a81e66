"""Untrusted rule packs: every evaluation runs under a budget of size, steps and time, and a
rule going over it is a located failure of that record, never a hang or a crash."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tpsqbo_engine import budget
from tpsqbo_engine.expr import ExpressionError, compile_value

CONTEXT = {"items": [1, 2], "zeros": [0] * 10_000, "name": "Acme"}
BOMBS = {
    "repeat-of-repeats": ("{{ (('a' * 10000) * 10000) * 10000 }}", "repeated value"),
    "center": ("{{ 'x' | center(3000000000) }}", "center argument"),
    "format-filter": ("{{ '%3000000000d' | format(1) }}", "format width"),
    "format-operator": ("{{ '%.3000000000f' % 1 }}", "format width"),
    "nested-for": (
        "{% for a in zeros %}{% for b in zeros %}{% endfor %}{% endfor %}",
        "loop iterations",
    ),
    "doubling-sets": (
        "{% set a = 'x' * 10000 %}{% set b = a ~ a %}{% set c = b ~ b %}{% set d = c ~ c %}"
        "{% set e = d ~ d %}{% set f = e ~ e %}{% set g = f ~ f %}{% set h = g ~ g %}{{ h }}",
        "limit of 1,000,000",
    ),
    "concat-in-expression": ("{{ ('a' * 10000) * 90 ~ ('a' * 10000) * 90 }}", "a text's length"),
    "plus": ("{{ zeros * 9 + zeros * 9 }}", "a list's length"),
    "replace": ("{{ ('a' * 10000) | replace('', 'b' * 200) }}", "replace result"),
    "join": ("{{ zeros | join('y' * 1000) }}", "join separator"),
    "wordwrap": ("{{ name | wordwrap(3000000000) }}", "wordwrap argument"),
    "output": ("{% for a in zeros %}{{ 'z' * 500 }}{% endfor %}", "rendered text"),
}


@pytest.mark.parametrize(("source", "limit"), BOMBS.values(), ids=BOMBS.keys())
def test_going_over_the_budget_is_a_located_failure(source: str, limit: str) -> None:
    value = compile_value(source, "rules/clients.yaml:12")
    started = time.monotonic()
    with pytest.raises(ExpressionError, match=r"rules/clients\.yaml:12") as failure:
        value.evaluate(CONTEXT)
    assert "BudgetExceeded" in failure.value.message and limit in failure.value.message
    assert time.monotonic() - started < 1.5


def test_the_clock_stops_a_long_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "MAX_STEPS", 10**9)
    monkeypatch.setattr(budget, "MAX_SECONDS", 0.2)
    value = compile_value(
        "{% for a in zeros %}{% for b in zeros %}{% endfor %}{% endfor %}", "rules/x.yaml:3"
    )
    started = time.monotonic()
    with pytest.raises(ExpressionError, match=r"longer than 0\.2 s"):
        value.evaluate(CONTEXT)
    assert time.monotonic() - started < 1.0


CRASHES = {
    "map-dunder": "{{ items | map(attribute='__class__') | list }}",
    "truncate-short": "{{ name | truncate(2) }}",
    "truncate-negative": "{{ name | truncate(-5) }}",
    "nested-brackets": "{{ " + "(" * 500 + "1" + ")" * 500 + " }}",
    "nested-minus": "{{ " + "-" * 3000 + "1 }}",
    "nested-filters": "{{ name" + " | lower" * 300 + " }}",
}


@pytest.mark.parametrize("source", CRASHES.values(), ids=CRASHES.keys())
def test_what_crashed_the_engine_is_a_located_problem(source: str) -> None:
    with pytest.raises(ExpressionError, match=r"rules/x\.yaml:9"):
        compile_value(source, "rules/x.yaml:9").evaluate(CONTEXT)


def test_ordinary_values_are_untouched() -> None:
    assert compile_value("{{ name ~ '-' ~ items | join(',') }}", "r:1").evaluate(CONTEXT) == (
        "Acme-1,2"
    )
    text = "{% for i in items %}{{ i }}{% endfor %} {{ '%05.1f' | format(2.5) }}"
    assert compile_value(text, "r:1").evaluate(CONTEXT) == "12 002.5"
    assert compile_value("{{ 'ab' * 3 }}", "r:1").evaluate(CONTEXT) == "ababab"


def test_a_rule_over_budget_fails_its_records_with_the_rule_located(tmp_path: Path) -> None:
    from tpsqbo_engine import resources
    from tpsqbo_engine.sync.demo import demo_firm

    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "pack.yaml").write_text(
        "kind: pack\nid: greedy\nversion: 0.1.0\nextends: [tps-qbo-standard]\n"
    )
    clients = (resources.rules_dir() / "clients.yaml").read_text()
    original = '  Notes: {value: "TPS client {{ code }}", one_way: true}'
    bomb = '  Notes: {value: "{{ (name * 5000) * 5000 }}", one_way: true}'
    assert original in clients
    (pack / "clients.yaml").write_text(clients.replace(original, bomb))
    line = (pack / "clients.yaml").read_text().splitlines().index(bomb) + 1
    started = time.monotonic()
    with demo_firm(tmp_path / "firm", rules=str(pack)) as (session, _, _):
        plan, _ = session.plan()
    failed = [op for op in plan.operations if op.mapping == "clients" and op.action == "fail"]
    assert failed and all("BudgetExceeded" in op.message for op in failed)
    assert all(f"clients.yaml:{line}" in op.message for op in failed)
    assert time.monotonic() - started < 60


TOO_MUCH_TEXT = ["x" * 600_000, "y" * 600_000]
SIZED = [
    (TOO_MUCH_TEXT, "a list's text"),
    (tuple(TOO_MUCH_TEXT), "a list's text"),
    ({"a": TOO_MUCH_TEXT[0], "b": TOO_MUCH_TEXT[1]}, "a list's text"),
    ([[*TOO_MUCH_TEXT]], "a list's text, all the way down"),  # an inner list's text counts
    (list(range(budget.MAX_ITEMS + 1)), "a list's length"),
    (dict.fromkeys(range(budget.MAX_ITEMS + 1)), "a list's length"),
    ({1, 2}, None),
    ([{"description": TOO_MUCH_TEXT[0]}, {"description": TOO_MUCH_TEXT[1]}], "all the way down"),
    ([{"description": "x" * 1000}] * 500, None),
    ([1, None, 2.5, True], None),
    ("z" * (budget.MAX_SIZE + 1), "a text's length"),
]


@pytest.mark.parametrize(("value", "limit"), SIZED)
def test_what_a_value_holds_is_sized_whatever_its_kind(value: object, limit: str | None) -> None:
    if limit is None:
        assert budget.sized(value) is value
    else:
        with pytest.raises(budget.BudgetExceeded, match=limit):
            budget.sized(value)
