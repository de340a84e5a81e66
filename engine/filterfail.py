"""What a filter that failed at run time on the arguments it was given says: which filter,
what kind of value each argument was, and what it takes (its signature, from
ruleset/filter_signatures.py). `validate` checks the constants written in a rule; an
argument read from the record (`truncate(x)` with `x` a text) is only known per record, and
Python's own TypeError says nothing a rule's author can act on.

Never the values themselves: they are the record's data (only their kinds are named)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any, TypeGuard

from jinja2.runtime import Undefined

from tpsqbo_engine.filters import ExpressionError


def kind_of(value: Any) -> str:
    """A value's kind as rules speak of it."""
    if isinstance(value, Undefined):
        return "an undefined value"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple | set | frozenset | Iterator):
        return "a list"  # an iterator: items made one at a time (`map`, `batch`)
    return f"a {type(value).__name__}"


@cache
def _limits(name: str) -> tuple[tuple[str, ...], tuple[tuple[str, int], ...]]:
    """Filter `name`'s parameter names, and the least each whole-number one takes."""
    from tpsqbo_engine.ruleset.filter_signatures import FILTERS, MINIMUMS

    signature = FILTERS.get(name)
    names = tuple(p.name for p in signature.params) if signature is not None else ()
    return names, tuple((p, least) for (f, p), least in MINIMUMS.items() if f == name)


def _bound(names: Sequence[str], args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments after the value, by the names of the filter's parameters."""
    return {**dict(zip(names, args[1:], strict=False)), **kwargs}


def _whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def out_of_range(name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, str]:
    """What is wrong with arguments of the right kind that filter `name` still cannot take
    (a truncate length shorter than its end), by parameter; empty when nothing is. Checked
    here rather than left to the filter: Jinja's truncate only `assert`s (gone under
    `python -O`, cutting the text to nonsense), and its message quotes the numbers, which
    may be the record's."""
    if name not in ("truncate", "wordwrap", "batch", "qbo_name") or (len(args) < 2 and not kwargs):
        return {}  # the defaults are in range (`| qbo_name` runs for every name written)
    names, minimums = _limits(name)
    given = _bound(names, args, kwargs)
    faults = {
        param: f"below {least}"
        for param, least in minimums
        if _whole(value := given.get(param)) and value < least
    }
    length, end = given.get("length", 255), given.get("end", "...")
    if name == "truncate" and _whole(length) and isinstance(end, str) and length < len(end):
        # the default end is no record's data: its length may be shown
        faults["length"] = "shorter than its end" + (
            "" if "end" in given else " '...' (3 characters)"
        )
    return faults


def failed_filter(
    name: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    what: str = "filter",
    faults: Mapping[str, str] | None = None,
) -> ExpressionError:
    """The error for filter (or test, `what`) `name` failing on `args` (the value filtered
    first) and `kwargs`: of the wrong kind, or (`faults`, by parameter) out of its range."""
    # Imported here: the signatures' module imports the functions, which import expr, which
    # imports the budget that calls this (once a filter has already failed, all are loaded).
    from tpsqbo_engine.ruleset.filter_signatures import FILTERS, TESTS, wrong_kind

    signature = (TESTS if what == "test" else FILTERS).get(name)
    params = signature.params if signature is not None else ()
    given = [f"the value {kind_of(args[0])}"] if args else []
    named = [
        (params[i] if i < len(params) else None, f"argument {i + 1}", value)
        for i, value in enumerate(args[1:])
    ]
    named += [(signature.param(key) if signature else None, key, v) for key, v in kwargs.items()]
    for param, label, value in named:
        shown = f"{param.name if param else label}: {kind_of(value)}"
        wanted = "" if param is None else wrong_kind(param.kind, value, none_ok=not param.required)
        wanted = wanted.split(", not ")[0]  # "a number, not true or false": the kind is shown
        fault = (faults or {}).get(param.name if param else label, "")
        given.append(f"{shown}, not {wanted}" if wanted else f"{shown} {fault}" if fault else shown)
    if signature is None:
        takes = f"see docs/rules.md for {name}"
    elif signature.params or signature.variadic:
        takes = f"it takes {signature.usage()}"
    else:
        takes = signature.usage()  # "upper takes no arguments: ..."
    # the signature in the message itself: a Failed record keeps the message
    return ExpressionError(
        f"the {name} {what} cannot take what it was given ({'; '.join(given)}); {takes}"
    )
