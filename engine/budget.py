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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.runtime import Undefined

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


def _text_inside(items: Iterable[Any]) -> int:
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
        fits(_text_inside(items), "a list's text")
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


def shown(value: Any) -> Any:
    """The value, once the text `str` makes of it is known to fit. `sized` counts the text a
    list holds, not the text of the lists it holds, each as often as it is referred to:
    `[[s] * 100] * 10000` holds 10,000 references to a list that fits, and its text was 10 GB.
    Walked only until the limit, so it costs no more than making a text that size would."""
    if type(value) not in _CONTAINERS and not isinstance(value, Mapping):
        return value
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


def _ints(args: Iterable[Any]) -> Iterator[int]:
    return (a for a in args if isinstance(a, int) and not isinstance(a, bool))


# Filters whose number arguments say how big to make something (a width, a length, a count).
SIZING_FILTERS = frozenset({"center", "truncate", "wordwrap", "batch", "indent", "slice"})


# Filters that make a text of the value they are given (`str` of a list, for one).
SHOWING_FILTERS = frozenset(
    {"string", "lower", "upper", "trim", "title", "capitalize", "escape", "e", "replace"}
    | {"truncate", "center", "wordwrap", "join", "date", "qbo_name", "qbo_display_name"}
    | {"normalize_name", "normalize_email"}
)
PRECHECKED = SIZING_FILTERS | {"format", "replace", "join", "round", "sum"}
# `round`'s precision makes a power of ten of that many digits (`x | round(-10000000)` spends
# seconds in one call the clock cannot stop); no amount needs more than this many places.
MAX_PRECISION = 100
# textwrap splits a word longer than the width with one copy of the rest per piece: time
# that grows with the square of the text (a 1,000,000-character word at width 1 took 20 s,
# all in one call the clock cannot stop). Texts up to this length wrap in well under 0.5 s.
MAX_WRAPPED = 100_000


def _precheck(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Refuses, before any work, a filter call whose arguments ask for too much: the
    arguments to call it with. `args` start with the value filtered."""
    if name in SIZING_FILTERS:
        for number in _ints([*args[1:], *kwargs.values()]):
            fits(abs(number), f"a {name} argument")
    value = args[0] if args else None
    if name == "format":
        check_format(value, dict(kwargs) or tuple(args[1:]))
    elif name == "replace" and len(args) >= 3 and isinstance(value, str):
        old, new = str(args[1]), str(args[2])
        made = (value.count(old) if old else len(value) + 1) * len(new)
        fits(len(value) + made, "a replace result")
    elif name == "join":
        return _check_join(args, kwargs)
    elif name == "round":
        _check_precision([*args[1:2], kwargs.get("precision")])
    elif name == "sum":
        _check_sum_start(args[2] if len(args) > 2 else kwargs.get("start", 0))
    elif name == "wordwrap" and isinstance(value, str):
        _check_wrap(value, args[3] if len(args) > 3 else kwargs.get("wrapstring"))
    return args


def _check_join(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """The text a join makes, counted before it is made: its items' texts and the separator
    between them. Items that come one at a time (`map`) are gathered, and sized, first."""
    value = args[0] if args else None
    if not isinstance(value, str | list | tuple | Mapping | Undefined):
        value = sized(list(_counted_items(value)))
        args = (value, *args[1:])
    separator = str(args[1] if len(args) > 1 else kwargs.get("d", ""))
    if isinstance(value, str):  # its characters are the items
        fits(len(value) * (1 + len(separator)), "a joined text's length")
    if not isinstance(value, list | tuple):
        return args
    fits(len(value) * len(separator), "a join separator times its items")
    attribute = args[2] if len(args) > 2 else kwargs.get("attribute")
    items = value if attribute is None else [_attribute(item, attribute) for item in value]
    fits(_text_inside(items) + len(value) * len(separator), "a joined text's length")
    return args


def _counted_items(value: Any) -> Iterator[Any]:
    for count, item in enumerate(value, 1):
        if count > MAX_ITEMS:
            fits(count, "a list's length", MAX_ITEMS)
        yield item


def _attribute(item: Any, attribute: Any) -> Any:
    """What `attribute=` takes of a mapping item (`a.b` a step at a time), as Jinja does."""
    for part in str(attribute).split("."):
        item = item.get(part) if isinstance(item, Mapping) else None
    return item


def _check_sum_start(start: Any) -> None:
    # Python's sum with a list (or text) to start from copies everything added so far at
    # every item: 10,000 lists of 99 took 31 s in one call. Rules add amounts; lines are
    # combined with merge_by.
    if not isinstance(start, int | float | Decimal):
        raise BudgetExceeded(
            f"sum's start must be a number, not a {type(start).__name__}: adding up lists or "
            "texts takes time growing with the square of their size (merge_by combines lines)"
        )


def _check_wrap(text: str, wrapstring: Any) -> None:
    fits(len(text), "a wordwrap text's length", MAX_WRAPPED)
    # at most one break per character, each the wrap string (a newline unless given)
    fits(len(text) * (1 + len(str(wrapstring or "\n"))), "a wordwrap result")


def _check_precision(given: list[Any]) -> None:
    for precision in _ints(given):
        if not -MAX_PRECISION <= precision <= MAX_PRECISION:
            shown = f"{precision:,}" if abs(precision) < 10**18 else "over 18 digits"
            raise BudgetExceeded(
                f"a round precision of {shown} is outside the allowed "
                f"-{MAX_PRECISION} to {MAX_PRECISION}"
            )


def guarded(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """A filter under the budget: arguments checked first, result sized after. Jinja's own
    `assert`s (truncate's minimum length) become ordinary refusals."""

    skip = 1 if hasattr(func, "jinja_pass_arg") else 0  # the context or environment first
    checked = name in PRECHECKED
    shows = name in SHOWING_FILTERS

    def run(*args: Any, **kwargs: Any) -> Any:
        if checked:
            args = (*args[:skip], *_precheck(name, args[skip:], kwargs))
        if shows and len(args) > skip:
            shown(args[skip])
        try:
            result = func(*args, **kwargs)
        except AssertionError as exc:
            raise ValueError(f"{name}: {exc}") from None
        return sized(result)

    for attribute in ("jinja_pass_arg",):  # Jinja passes context/environment by this mark
        if hasattr(func, attribute):
            setattr(run, attribute, getattr(func, attribute))
    run.__name__ = getattr(func, "__name__", name)
    return run


__all__ = [
    "MAX_DEPTH",
    "MAX_ITEMS",
    "MAX_PRECISION",
    "MAX_SECONDS",
    "MAX_SIZE",
    "MAX_STEPS",
    "Budget",
    "BudgetExceeded",
    "budget",
    "check_format",
    "close_budget",
    "counted",
    "deep_fits",
    "fits",
    "guarded",
    "included",
    "open_budget",
    "repeated_fits",
    "shown",
    "sized",
]
