"""One filter call or `%` the budget's clock cannot interrupt: what it would make, and how
long it would take, is refused from its arguments before the call."""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import pytest

from tpsqbo_engine.expr import ExpressionError, compile_value
from tpsqbo_engine.printf import conversions

WIDTHS_FROM_ARGUMENTS = {
    "star-width-operator": "{{ '%*d' % (300000000, n) }}",
    "star-precision-filter": "{{ '%.*f' | format(300000000, n) }}",
    "star-width-filter": "{{ '%*d' | format(1000000000, n) }}",
    "negative-star-width": "{{ '%*d' % (-300000000, n) }}",
    "width-after-a-key": "{{ '%(a)3000000d' % {'a': n} }}",
    "width-after-a-key-filter": "{{ '%(a)3000000d' | format(a=n) }}",
    "key-with-brackets": "{{ '%(a(b)c)3000000d' % {'a(b)c': n} }}",
    "precision-with-zeros": "{{ '%.00000000000003000000f' % n }}",
    "many-widths-in-limit": "{{ ('%99999d' * 10000) % ((n,) * 10000) }}",
    "one-text-many-times": "{{ ('%(a)s' * 10000) % {'a': ('x' * 10000) * 10} }}",
}


@pytest.mark.parametrize("source", WIDTHS_FROM_ARGUMENTS.values(), ids=WIDTHS_FROM_ARGUMENTS)
def test_format_widths_are_refused_before_the_text_is_made(source: str) -> None:
    value = compile_value(source, "rules/x.yaml:4")
    tracemalloc.start()
    try:
        with pytest.raises(ExpressionError, match=r"BudgetExceeded \(a format"):
            value.evaluate({"n": 1})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000  # the text was never made (it was 300 MB to 1 GB)


@pytest.mark.parametrize(
    ("source", "made"),
    [
        ("{{ '%*d|%-5.*f|%s%%' % (5, n, 2, n, 'ab') }}", "    1|1.00 |ab%"),
        ("{{ '%(a)s-%(b)05d' | format(a='x', b=n) }}", "x-00001"),
        ("{{ '%s' % 'abc' }}", "abc"),
        ("{{ '%-4s|' | format('ab') }}", "ab  |"),
    ],
)
def test_formats_within_the_budget_still_work(source: str, made: str) -> None:
    assert compile_value(source, "rules/x.yaml:4").evaluate({"n": 1}) == made


def test_conversions_read_widths_and_arguments_as_python_does() -> None:
    read = list(conversions("%(k)08.3f %*.*s %% %d", [{"k": 1}]))
    assert read[0] == ([8, 3], 1)
    assert list(conversions("%*.*s %% %d", [7, 2, "abc", 4])) == [
        ([7, 2], "abc"),
        ([], None),
        ([], 4),
    ]


def _refused_quickly(source: str, context: dict[str, Any], reason: str) -> None:
    value = compile_value(source, "rules/x.yaml:9")
    started = time.monotonic()
    with pytest.raises(ExpressionError, match=reason):
        value.evaluate(context)
    # refused before the work: a few milliseconds, where the work takes 2 s and more here
    # (20-31 s at the sizes first met)
    assert time.monotonic() - started < 1


def test_sum_of_lists_is_refused_before_it_runs() -> None:
    # 31 s in one call before: every list added copies all the ones before it
    _refused_quickly(
        "{{ ([[n]*9]*10000) | sum(start=[]) | length }}", {"n": 1}, "sum's start must be a number"
    )
    _refused_quickly("{{ lines | sum(start='') }}", {"lines": ["a"]}, "not a str")


def test_sum_of_amounts_still_works() -> None:
    assert compile_value("{{ xs | sum }}", "r:1").evaluate({"xs": [1, 2, 3]}) == 6
    total = compile_value("{{ lines | sum(attribute='amount', start=10) }}", "r:1")
    assert total.evaluate({"lines": [{"amount": 1}, {"amount": 2}]}) == 13


def test_wordwrap_of_a_long_text_is_refused_before_it_runs() -> None:
    # 20 s in one call before: a 1,000,000-character word split at width 1
    _refused_quickly(
        "{{ (((n|string)*10000)*100) | wordwrap(1) | length }}",
        {"n": 1},
        "a wordwrap text's length of 1,000,000 is over the limit of 100,000",
    )
    _refused_quickly(
        "{{ (('x' * 10000) * 5) | wordwrap(1, wrapstring='<br/>' * 10) }}", {}, "wordwrap result"
    )
    assert compile_value("{{ 'a b c d' | wordwrap(3) }}", "r:1").evaluate({}) == "a b\nc d"


def test_join_counts_its_items_text_before_joining() -> None:
    big = ("x" * 10000) * 100
    for source in (
        "{{ [s, s, s, s, s, s, s, s] | join }}",
        "{{ [s, s, s, s, s, s, s, s] | map('string') | join }}",
        "{{ [{'a': s}, {'a': s}] | join(attribute='a') }}",
        "{{ s | join('-') }}",
    ):
        _refused_quickly(source, {"s": big}, r"a (joined text|list's text)")
    joined = compile_value("{{ [{'a': 'x'}, {'a': 'y'}] | map(attribute='a') | join(',') }}", "r:1")
    assert joined.evaluate({}) == "x,y"


# Once a list of references to one list that fit as it was made; now refused as it is made
# (what it holds, all the way down), its text never made either way.
NESTED = "[[('x' * 10000)] * 100] * 10000"
MADE_TEXT = {
    "string-filter": "{{ (" + NESTED + ") | string | length }}",
    "case-filter": "{{ ([{'a': ('x' * 10000) * 100}] * 10000) | lower }}",
    "concat": "{{ 'a' ~ (" + NESTED + ") }}",
    "percent-s": "{{ '%s' % (" + NESTED + ",) }}",
    "output": "{% set x = " + NESTED + " %}total: {{ x }}",
    "join-of-lists": "{{ (" + NESTED + ") | join }}",
}


@pytest.mark.parametrize("source", MADE_TEXT.values(), ids=MADE_TEXT)
def test_the_text_of_a_list_of_lists_is_sized_before_it_is_made(source: str) -> None:
    value = compile_value(source, "rules/x.yaml:7")
    tracemalloc.start()
    try:
        with pytest.raises(ExpressionError, match=r"a value's text|all the way down"):
            value.evaluate({})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000  # the text was 10 GB


def test_small_lists_still_become_text() -> None:
    made = compile_value("{{ [1, [2, 'ab'], {'k': 'v'}] | string }}", "r:1").evaluate({})
    assert made == "[1, [2, 'ab'], {'k': 'v'}]"
    assert compile_value("n: {{ xs }}", "r:1").evaluate({"xs": [1, 2]}) == "n: [1, 2]"


def test_squaring_a_number_again_and_again_is_refused() -> None:
    # ran 68 s in multiplications the clock cannot interrupt, before
    squarings = "{% set a = a * a %}" * 22
    _refused_quickly(
        "{% set a = 99999999 %}" + squarings + "{{ a }}", {}, "a product of whole numbers"
    )
    assert compile_value("{{ n * 99999999 * 99999999 }}", "r:1").evaluate({"n": 2}) == (
        2 * 99999999 * 99999999
    )
