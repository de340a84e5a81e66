"""The evaluation budget: what one rule expression or template may spend.

Rule packs come from third parties, so every evaluation runs under a budget enforced inside
the sandbox, in three parts:

- size: no value made during an evaluation (by `*`, `+`, `%`, `~`, or a filter) may hold
  more than `MAX_SIZE` characters or `MAX_ITEMS` items, and numeric arguments that say how
  big to make something (widths, lengths, counts, format widths, `round`'s precision) are
  refused past it *before* the work;
- steps: every `{% for %}` iteration and every `{% include %}` counts, at most `MAX_STEPS`
  per evaluation;
- time: an evaluation stops after `MAX_SECONDS` of wall-clock time, checked at every step.

Going over raises `BudgetExceeded`, a Jinja `SecurityError`, so the caller reports it like any
refused operation: at run time a located Failed record, at `validate` an error when the
expression is constant. The budget of the evaluation in progress is held per thread; code
that renders without opening one gets a fresh budget per loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from jinja2.exceptions import SecurityError

from tpsqbo_engine.deepsize import holds_values, measure
from tpsqbo_engine.printf import conversions

MAX_SIZE = 1_000_000  # characters of one text
MAX_ITEMS = 100_000  # items of one list or mapping
MAX_STEPS = 100_000
MAX_SECONDS = 2.0
MAX_DEPTH = 60  # nesting of one expression: brackets, operators, filters


class BudgetExceeded(SecurityError):
    """An evaluation went over its budget; the message names the limit, never the data."""


class Budget:
    # Opened once per evaluation of every rule value: kept as light as a class can be, and
    # one object per thread is refilled for each evaluation rather than made anew.
    __slots__ = ("deadline", "open", "seconds", "steps")

    def __init__(self, steps: int, seconds: float) -> None:
        self.refill(steps, seconds)

    def refill(self, steps: int, seconds: float) -> None:
        self.steps, self.seconds, self.open = steps, seconds, True
        self.deadline = time.monotonic() + seconds

    def tick(self, count: int = 1) -> None:
        self.steps -= count
        if self.steps < 0:
            raise BudgetExceeded(
                f"more than {MAX_STEPS:,} loop iterations and includes in one evaluation"
            )
        if time.monotonic() > self.deadline:
            raise BudgetExceeded(f"evaluation took longer than {self.seconds:g} s")


class _PerThread(threading.local):
    # Per thread, not per context: a context copied into several pool threads (the fleet's)
    # would otherwise hand them one budget object to share.
    budget: Budget | None = None


_THREAD = _PerThread()


def open_budget() -> Budget | None:
    """Opens the budget of one evaluation, unless one is open (nested evaluations share the
    outer one); pass what it returns to `close_budget`. Plain calls, not a context manager:
    this runs for every rule value of every record."""
    spend = _THREAD.budget
    if spend is None:
        spend = _THREAD.budget = Budget(MAX_STEPS, MAX_SECONDS)  # this thread's from now on
        return spend
    if spend.open:
        return None
    spend.steps, spend.seconds, spend.open = MAX_STEPS, MAX_SECONDS, True  # refill, inline
    spend.deadline = time.monotonic() + MAX_SECONDS
    return spend


def _open() -> Budget | None:
    """The budget of the evaluation in progress, if one is."""
    spend = _THREAD.budget
    return spend if spend is not None and spend.open else None


def close_budget(token: Budget | None) -> None:
    if token is not None:
        token.open = False


@contextmanager
def budget() -> Iterator[None]:
    """`open_budget`/`close_budget` around a block."""
    token = open_budget()
    try:
        yield
    finally:
        close_budget(token)


def counted(iterable: Iterable[Any]) -> Iterator[Any]:
    """What a `{% for %}` loops over: each item spends a step."""
    spend = _open() or Budget(MAX_STEPS, MAX_SECONDS)
    for item in iterable:
        spend.tick()
        yield item


def included(name: Any) -> Any:
    """The name of a template an `{% include %}` (or extends, import) is about to render: each
    spends a step, and looks at the clock, like a loop's item (ten includes of ten includes
    of ... made a million renders that no loop counted)."""
    (_open() or Budget(MAX_STEPS, MAX_SECONDS)).tick()
    return name


def text_inside(items: Iterable[Any]) -> int:
    return sum(len(v) for v in items if isinstance(v, str | list | tuple))


_SCALARS = frozenset({int, float, bool, type(None), Decimal, date, datetime})


def sized(value: Any) -> Any:
    """The value, once it is known to fit (a list of long strings is as big as its text);
    texts and lists are also points where the clock is checked."""
    kind = type(value)
    if kind in _SCALARS:
        return value  # a number, a date, None: nothing that grows
    if kind is list or kind is dict:  # the usual ones, without the general checks below
        if len(value) > MAX_ITEMS:
            fits(len(value), "a list's length", MAX_ITEMS)
        _holding_fits(value, value if kind is list else value.values())
    elif kind is str or isinstance(value, str | bytes):
        if len(value) > MAX_SIZE:
            fits(len(value), _TEXT)
    elif holds_values(value):
        fits(len(value), "a list's length", MAX_ITEMS)
        _holding_fits(value, value.values() if isinstance(value, Mapping) else value)
    else:
        return value  # a number, a date, None: nothing that grows
    spend = _THREAD.budget  # `_open()`, inline
    if spend is not None and spend.open:
        spend.tick(0)
    return value


def _holding_fits(value: Any, items: Iterable[Any]) -> None:
    """A list or mapping of numbers fits once its length does; one of texts once their text
    does; one holding lists or mappings once what it holds all the way down does, each part
    counted as often as it is reached (engine/deepsize.py)."""
    kinds = set(map(type, items))  # seen without a loop in Python
    if kinds <= _SCALARS:
        return
    if kinds <= _TEXTS:
        fits(text_inside(items), "a list's text")
        return
    deep_fits(value)


_TEXTS = _SCALARS | {str}


def deep_fits(value: Any) -> None:
    """Refuses a list or mapping holding, all the way down, more than MAX_ITEMS items or
    MAX_SIZE characters (comparing or copying it visits every one)."""
    items, text = measure(value, MAX_ITEMS, MAX_SIZE)
    fits(items, "a list's items, all the way down,", MAX_ITEMS)
    fits(text, "a list's text, all the way down,")


def repeated_fits(seq: Any, count: int) -> None:
    """`seq * count`, refused before it is made when the result would hold too much, all the
    way down: each level of `[[[n] * 100] * 100] * 100` is 100 items long, the whole a
    million."""
    if holds_values(seq):
        items, text = measure(seq, MAX_ITEMS, MAX_SIZE)
        fits(items * count, "a repeated value's items, all the way down,", MAX_ITEMS)
        fits(text * count, "a repeated value's text, all the way down,")


_CONTAINERS = frozenset({list, tuple, dict, set, frozenset})
_UNCONTAINED = frozenset({str, int, bool, float, Decimal, type(None)})


def shown(value: Any) -> Any:
    """The value, once the text `str` makes of it is known to fit. `sized` counts the text a
    list holds, not the text of the lists it holds, each as often as it is referred to:
    `[[s] * 100] * 10000` holds 10,000 references to a list that fits, and its text was 10 GB.
    Walked only until the limit, so it costs no more than making a text that size would."""
    kind = type(value)
    if kind in _UNCONTAINED or (kind not in _CONTAINERS and not isinstance(value, Mapping)):
        return value  # (the common kinds seen first: a Mapping check of a text is slow)
    total, stack = 0, [iter((value,))]
    while stack:
        for item in stack[-1]:
            total += 1 + (len(item) if isinstance(item, str) else 0)
            if total > MAX_SIZE:
                fits(total, "a value's text")
            if isinstance(item, Mapping):
                stack.append(iter([*item.keys(), *item.values()]))
                break
            if type(item) in _CONTAINERS:
                stack.append(iter(item))
                break
        else:
            stack.pop()
    return value


def fitting_parts(parts: Sequence[Any]) -> Sequence[Any]:
    """The parts of a `~`, once the text they join into is known to fit: counted before the
    join, which would otherwise make the whole text (a rule joining one long field to itself
    thousands of times) before `sized` could refuse it."""
    fits(sum([len(part) if type(part) is str else len(str(shown(part))) for part in parts]), _TEXT)
    return parts


_TEXT = "a text's length"


def captured(parts: Iterable[str]) -> str:
    """The text a `{% set x %}...{% endset %}` block (or a macro, a `{% filter %}` block)
    captures, counted before it is joined: a loop of 100,000 outputs of one long field adds
    only references to its buffer, within the clock, and the join would make the whole text
    at once. Only in an evaluation: Jinja joins a whole template's output with this too,
    and the engine's own pages (the run report, rendered with no budget open) may be long."""
    if _open() is None:
        return "".join(parts)
    parts = parts if isinstance(parts, list) else list(parts)
    fits(sum(map(len, parts)), "a captured text's length")
    return "".join(parts)


def fits(amount: int, what: str, limit: int | None = None) -> None:
    limit = MAX_SIZE if limit is None else limit
    if amount > limit:
        raise BudgetExceeded(f"{what} of {amount:,} is over the limit of {limit:,}")


def check_format(text: Any, args: Any = ()) -> None:
    """`'%3000000000d' % x`: a printf width or precision past the limit is refused before the
    text is made, also one taken from the arguments (`'%*d' % (3000000000, x)`), and so is a
    text whose widths and texts put in add up past it (`'%999999d' * 10000 % many`). `args`
    is the right side of `%` (a tuple, a mapping or one value), as Python takes it."""
    if not isinstance(text, str):
        return
    total = len(text)
    for widths, argument in conversions(text, list(args) if isinstance(args, tuple) else [args]):
        for width in widths:
            fits(abs(width), "a format width")
            total += abs(width)
        if isinstance(argument, str):
            total += len(argument)  # `%s` of a long text, perhaps many times over
        shown(argument)  # `%s` of a list
    fits(total, "a formatted text's length")


__all__ = [
    "MAX_DEPTH",
    "MAX_ITEMS",
    "MAX_SECONDS",
    "MAX_SIZE",
    "MAX_STEPS",
    "Budget",
    "BudgetExceeded",
    "budget",
    "captured",
    "check_format",
    "close_budget",
    "counted",
    "deep_fits",
    "fits",
    "included",
    "open_budget",
    "repeated_fits",
    "shown",
    "sized",
]
