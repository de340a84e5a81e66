"""The budget's side of every filter call (engine/budget.py holds the limits): arguments
that say how big to make something, or how long to work, refused before the call; what it
made sized after; an argument out of its range (a truncate length below its end's), Jinja's
own asserts and an argument of the wrong kind read from the record (engine/filterfail.py)
made located refusals that name kinds, never the record's values."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from jinja2.runtime import Undefined

from tpsqbo_engine.budget import (
    MAX_ITEMS,
    BudgetExceeded,
    check_format,
    fits,
    shown,
    sized,
    text_inside,
)
from tpsqbo_engine.dotted import get_path
from tpsqbo_engine.exprvalue import listed
from tpsqbo_engine.filterfail import failed_filter, out_of_range


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
PRECHECKED = SIZING_FILTERS | {"format", "replace", "join", "round", "sum", "qbo_name", "string"}
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
    if faults := out_of_range(name, args, kwargs):
        raise failed_filter(name, args, kwargs, faults=faults)
    if name in ("format", "string"):
        # a generator (`lines | batch(2)`) as its list, as `'%s' % x` and `~` make it
        # (operatorfail.formatted), never "<generator object ...>"
        args = tuple(listed(arg) for arg in args)
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
    items = value if attribute is None else [get_path(item, str(attribute)) for item in value]
    fits(text_inside(items) + len(value) * len(separator), "a joined text's length")
    return args


def _counted_items(value: Any) -> Iterator[Any]:
    for count, item in enumerate(value, 1):
        if count > MAX_ITEMS:
            fits(count, "a list's length", MAX_ITEMS)
        yield item


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


# Filters whose result holds, all the way down, no more than the value they were given (which
# was data, or a value sized as it was made): merge_by copies the fields of fewer items, the
# texts joined by "; ". Sized by their length only: measuring every invoice's merged lines
# all the way down cost the planner a fifth of its time.
GIVES_NO_MORE = frozenset({"merge_by"})


def _length_sized(value: Any) -> Any:
    if isinstance(value, list) and len(value) > MAX_ITEMS:
        fits(len(value), "a list's length", MAX_ITEMS)
    return value


def guarded(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """A filter under the budget: arguments checked first, result sized after. Jinja's own
    `assert`s, and ValueErrors, become ordinary refusals saying what the filter takes."""

    skip = 1 if hasattr(func, "jinja_pass_arg") else 0  # the context or environment first
    checked = name in PRECHECKED
    shows = name in SHOWING_FILTERS
    size = _length_sized if name in GIVES_NO_MORE else sized
    lists = name in ("format", "string")

    def run(*args: Any, **kwargs: Any) -> Any:
        if lists:  # `format(x=lines | batch(2))`: the list, as _precheck makes of `args`
            kwargs = {key: listed(arg) for key, arg in kwargs.items()}
        if checked:
            args = (*args[:skip], *_precheck(name, args[skip:], kwargs))
        if shows and len(args) > skip:
            shown(args[skip])
        try:
            result = func(*args, **kwargs)
        except (AssertionError, TypeError, ValueError):  # a value or argument of the wrong
            # kind, read from the record (`truncate(x)` with x a text, `date` of a text that
            # is not one). Never the exception's own message: it may quote the record.
            raise failed_filter(name, args[skip:], kwargs) from None
        return size(result)

    for attribute in ("jinja_pass_arg",):  # Jinja passes context/environment by this mark
        if hasattr(func, attribute):
            setattr(run, attribute, getattr(func, attribute))
    run.__name__ = getattr(func, "__name__", name)
    return run


def tested(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """A test whose failure on what it was given (`x is lt(y)` with `y` a text read from the
    record, `odd` of a text) names the test, the kinds it was given and what it takes."""

    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TypeError:
            raise failed_filter(name, args, kwargs, "test") from None

    if hasattr(func, "jinja_pass_arg"):  # it would lose its context here: refused at start
        raise ValueError(f"the {name} test wants Jinja's context, which rules do not pass on")
    run.__name__ = getattr(func, "__name__", name)
    return run
