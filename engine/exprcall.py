"""The calls a compiled expression makes (engine/exprfast.py), with their constant arguments
bound once at compile time, and what is known of the filters they call.

Rules mostly hand a filter or a function the value they read and a few constants:
`amount | money`, `linked('clients', client_id)`, `lookup('tax-codes', 'exempt')`. Building
each argument through a closure of its own cost more than the call: here the constants are
bound once and only the values read are built per evaluation. The calls, their order and
their arguments are the very ones Jinja's code makes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tpsqbo_engine.filters import ALLOWED_TESTS, ENGINE_FILTERS, money, to_decimal

Leaves = Any  # what the builds read their leaves from (a list or a tuple)
Build = Callable[[Leaves], Any]
_NONE: tuple[Any, ...] = ()
STOPPED = "value was undefined because a callable raised a StopIteration exception"

# Jinja's filters that only change case, count or convert the value they are given: they
# make no Undefined of their own, and take time and space in line with their input.
_TRANSFORMING = frozenset(
    [
        "abs",
        "length",
        "lower",
        "upper",
        "trim",
        "title",
        "capitalize",
        "string",
        "int",
        "round",
        "list",
    ]
)
# Filters and tests that make no Undefined of their own (`first` of an empty list, `map` of
# a missing attribute do): the engine's filters, Jinja's that only transform their input,
# and every test rules may use, as a test answers True or False.
DEFINED_OUT = (
    frozenset({"money", "decimal", "merge_by", "qbo_name", "qbo_display_name"})
    | _TRANSFORMING
    | {"replace", "truncate"}
    | ALLOWED_TESTS
)
# Filters that only read or transform the value they are given, in time and size in line
# with it (the engine's own, and Jinja's that change case, pick, count or convert): an
# expression made of at most exprfast.UNBUDGETED_OPERATIONS of those, paths, calls of the
# engine's functions, comparisons, `~` (sized as ever) and literals takes at most that many
# such passes, so it runs without opening the budget. The sizes checked on every value it
# makes stay the same. Filters that repeat or pad (`center`, `replace`, `join`,
# `format`...), `*`, `+`, `%` and longer expressions run under the budget.
BOUNDED_FILTERS = frozenset(ENGINE_FILTERS) | _TRANSFORMING | {"default", "first", "last"}
# The engine's filters that always give a Decimal, called as they are: the budget's wrapper
# (engine/filterbudget.guarded) would check nothing of their arguments and size a number.
UNWRAPPED: dict[str, Callable[..., Any]] = {"money": money, "decimal": to_decimal}


def same(value: Any) -> Any:
    """The build of the one leaf of an expression that reads one (exprfast's single mode)."""
    return value


def positional(args: tuple[Build, ...]) -> Callable[[Leaves], tuple[Any, ...]]:
    # the usual counts spelled out: these run for every argument of every call
    if not args:
        return lambda _leaves: _NONE
    if len(args) == 1:
        (first,) = args
        return lambda leaves: (first(leaves),)
    if len(args) == 2:
        first, second = args
        return lambda leaves: (first(leaves), second(leaves))
    return lambda leaves: tuple([arg(leaves) for arg in args])


def keywords(kwargs: tuple[tuple[str, Build], ...]) -> Callable[[Leaves], dict[str, Any]]:
    if not kwargs:
        return lambda _leaves: {}
    return lambda leaves: {key: value(leaves) for key, value in kwargs}


def _bound(builds: tuple[Build, ...], constants: Mapping[Build, Any]) -> tuple[Any, ...] | None:
    """The values of `builds` when every one is a constant, else None."""
    if all(build in constants for build in builds):
        return tuple(constants[build] for build in builds)
    return None


def fixed(
    func: Callable[..., Any],
    builds: tuple[Build, ...],
    kwargs: tuple[tuple[str, Build], ...],
    constants: Mapping[Build, Any],
) -> Build:
    """`func(value, *args, **kwargs)` of a filter or test known at compile time: the value
    built per evaluation, constant arguments bound here."""
    first, rest = builds[0], builds[1:]
    bound = _bound(rest, constants) if not kwargs else None
    if bound is None:
        args, named = positional(builds), keywords(kwargs)
        return lambda leaves: func(*args(leaves), **named(leaves))
    if not bound:
        return func if first is same else lambda leaves: func(first(leaves))
    if len(bound) == 1:
        (only,) = bound
        if first is same:
            return lambda value: func(value, only)
        return lambda leaves: func(first(leaves), only)
    return lambda leaves: func(first(leaves), *bound)


def called(
    function: Build,
    builds: tuple[Build, ...],
    kwargs: tuple[tuple[str, Build], ...],
    constants: Mapping[Build, Any],
    undefined: Callable[[str], Any],
) -> Build:
    """A call of one of the engine's functions (read as a leaf, checked before anything ran):
    what the environment's `call` does for it, calling what it wraps with the arguments
    evaluated first; a StopIteration out of the call is an Undefined."""
    lead = 0
    while lead < len(builds) and builds[lead] in constants:
        lead += 1
    head, rest = tuple(constants[build] for build in builds[:lead]), builds[lead:]
    if kwargs or len(rest) > 1:
        args, named = positional(builds), keywords(kwargs)

        def call(leaves: Leaves) -> Any:
            wrapped = function(leaves).func
            given, keyed = args(leaves), named(leaves)
            try:
                return wrapped(*given, **keyed)
            except StopIteration:
                return undefined(STOPPED)

        return call
    if not rest:

        def call_constants(leaves: Leaves) -> Any:
            wrapped = function(leaves).func
            try:
                return wrapped(*head)
            except StopIteration:
                return undefined(STOPPED)

        return call_constants
    (last,) = rest

    def call_one(leaves: Leaves) -> Any:  # `linked('clients', client_id)`: the usual call
        wrapped = function(leaves).func
        value = last(leaves)
        try:
            return wrapped(*head, value)
        except StopIteration:
            return undefined(STOPPED)

    return call_one
