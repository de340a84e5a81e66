"""What a filter that failed at run time on the arguments it was given says: which filter,
what kind of value each argument was, and what it takes (its signature, from
ruleset/filter_signatures.py). `validate` checks the constants written in a rule; an
argument read from the record (`truncate(x)` with `x` a text) is only known per record, and
Python's own TypeError says nothing a rule's author can act on.

Never the values themselves: they are the record's data (only their kinds are named)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

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
    if isinstance(value, list | tuple | set | frozenset):
        return "a list"
    return f"a {type(value).__name__}"


def failed_filter(
    name: str, args: Sequence[Any], kwargs: Mapping[str, Any], what: str = "filter"
) -> ExpressionError:
    """The error for filter (or test, `what`) `name` failing with a TypeError on `args` (the
    value filtered first) and `kwargs`."""
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
        given.append(f"{shown}, not {wanted}" if wanted else shown)
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
