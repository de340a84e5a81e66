"""How a compiled expression (engine/exprfast.py) reads its leaves from a scope: each name
path through the plan of the record's shape, the paths read once for the record shape last
met, and the small results of pure functions kept for the same leaves and the same
function objects while one plan is made.

A leaf that cannot be read as Jinja would read it (a key missing, something that is not a
plain dict on the way, a called name that is not one of the engine's functions) makes the
reader answer `SLOW` before anything has run, and Jinja's own code decides.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

SLOW = object()  # "Jinja decides": nothing has run yet
Leaves = list[Any]
Build = Callable[[Leaves], Any]


# A path as read from a record (engine/sync/filling.py makes them for a record's shape): each
# key with whether the value it is read from is a filled one (a None there reads as empty
# fields) and whether the key is declared there (missing, it reads as None); then the filler
# of the value the path ends at (None: as it is), and whether it fills every value (a
# declared object) or lists only.
PathKey = tuple[str, bool, bool]
PathPlan = tuple[tuple[PathKey, ...], Callable[[Any], Any] | None, bool]
_MISSING = object()


def walk(record: Any, plan: PathPlan) -> Any:
    """A path of `record` as its filled copy would give it, or `SLOW`."""
    keys, final, always = plan
    value = record
    for key, parent_filled, declared in keys:
        if type(value) is dict:
            value = value.get(key, _MISSING)
        elif value is None and parent_filled:
            value = _MISSING  # a filled None: every declared field empty
        else:
            return SLOW
        if value is _MISSING:
            if not declared:
                return SLOW
            value = None
    if final is not None and (always or isinstance(value, list)):
        return final(value)
    return value


class Plans(Protocol):
    """The paths of one record shape (engine/sync/filling.Fields)."""

    def plan(self, name: str, steps: tuple[str, ...]) -> PathPlan: ...


class Functions:
    """The functions a scope's names were made with (`by_name`), as long as no name bound
    since has shadowed one (expr.Scope.bind forgets them then): a value that kept results
    for these very functions finds them without looking each name up again."""

    __slots__ = ("__weakref__", "by_name", "names")

    def __init__(self, by_name: dict[str, Any]) -> None:
        self.by_name = dict(by_name)
        self.names = frozenset(by_name)


class Reader(Protocol):
    """Where the names come from (expr.Scope): functions and aliases in `names`, over the
    fields of `record`, read by the plans of `fields` (None: `names` is everything);
    `functions`, what the functions among `names` are known to be (or None)."""

    names: dict[str, Any]
    record: Any
    fields: Plans | None
    functions: Functions | None


Path = tuple[str, tuple[str, ...], bool]
_NO_FIELDS = object()
_DEEP = object()  # a path that is not one top-level field


# Results kept for the same inputs: values nothing can change, and references (copied out),
# when small: at most MAX_KEPT of at most MAX_KEPT_BYTES each (a text of about a thousand
# characters, a reference), so what one value keeps stays a few megabytes however big the
# texts its records hold.
_KEPT = frozenset({str, int, bool, float, Decimal, date, type(None)})
MAX_KEPT = 20_000
MAX_KEPT_BYTES = 1_200
Kept = dict[Any, Any]
_UNKEYED = object()
# The results kept for one record shape (`fields`) and the functions called (weakly, so as
# not to hold a plan's resolver and snapshot alive): another shape or another function
# object starts over, since the same leaves may give another result. Last, the scope's
# `Functions` those very functions were found in (weakly), when they were.
Known = tuple[Any, tuple[weakref.ref[Any], ...], Kept, weakref.ref[Functions] | None]
_NOTHING_KNOWN: Known = (_NO_FIELDS, (), {}, None)


def _functions_known(scope: Reader, found: dict[str, Any]) -> weakref.ref[Functions] | None:
    """The scope's `Functions`, weakly, when the functions `found` by name are theirs."""
    functions = scope.functions
    if functions is None or not found:
        return None
    by_name = functions.by_name
    for name, function in found.items():
        if by_name.get(name) is not function:
            return None
    return weakref.ref(functions)


def _known_here(scope: Reader, known: Known) -> Functions | None:
    """The scope's `Functions`, when `known` was kept for them and the same record shape."""
    functions = scope.functions
    if functions is None or known[0] is not scope.fields or known[3] is None:
        return None
    return functions if functions is known[3]() else None


def _key_of(value: Any) -> Any:
    """A value read as a key that only equal values share, or `_UNKEYED`. Equal is not
    enough: 1, 1.0, True and Decimal('1.00') are equal in Python but not to `| string`, so
    a number is keyed with what tells them apart; a float or anything that can change is
    not keyed."""
    kind = type(value)
    if kind is str or kind is int or kind is date or value is None:
        return value
    if kind is Decimal:
        return value.as_tuple()  # a tuple of three: no other key is one
    if kind is bool:
        return (value,)
    return _UNKEYED


def _key(leaves: Leaves, values_at: tuple[int, ...]) -> Any:
    """The key of the values read (not of the functions called: the results are kept
    apart per function object, see `Known`): a tuple of their keys. One value is keyed by
    its own key."""
    key = tuple([_key_of(leaves[at]) for at in values_at])
    return _UNKEYED if _UNKEYED in key else key


def path_reader(
    name: str, steps: tuple[str, ...], then: Build | None = None
) -> Callable[[Reader], Any]:
    """One path read as Jinja would read it, or `SLOW` (a key missing, something not a
    plain dict on the way): a rule value that is a path, and each leaf of `reader`. With
    `then`, what `then` builds of the value read (a value that reads one path)."""
    # Per record shape (the one last met): the path's plan, what a record without the field
    # gives (`_DEEP`: not one top-level field), its filler, and whether it fills every value.
    last: list[tuple[Any, PathPlan | None, Any, Any, bool]] = [
        (_NO_FIELDS, None, _DEEP, None, False)
    ]

    def get(scope: Reader) -> Any:
        value = scope.names.get(name, SLOW)
        if value is not SLOW:  # a function, an `each` alias: the record's shape plays no part
            for step in steps:
                if type(value) is not dict:
                    return SLOW
                value = value.get(step, SLOW)
        else:
            known = last[0]  # read once: another thread may replace it meanwhile
            if known[0] is not scope.fields:
                known = last[0] = _known(scope.fields, name, steps)
            _fields, plan, absent, final, always = known
            if plan is None:
                return SLOW
            record = scope.record
            if absent is _DEEP or type(record) is not dict:
                value = walk(record, plan)
            else:
                value = record.get(name, absent)  # a top-level field
                if final is not None and value is not SLOW and (always or isinstance(value, list)):
                    value = final(value)
        return value if then is None or value is SLOW else then(value)

    return get


def _known(
    fields: Plans | None, name: str, steps: tuple[str, ...]
) -> tuple[Any, PathPlan | None, Any, Any, bool]:
    plan = None if fields is None else fields.plan(name, steps)
    final, always = (None, False) if plan is None else (plan[1], plan[2])
    return fields, plan, _absent(plan), final, always


def _absent(plan: PathPlan | None) -> Any:
    """What a record without the field gives, for a path that is one top-level field (None
    when declared); `_DEEP` for any other."""
    if plan is None or len(plan[0]) != 1:
        return _DEEP
    return None if plan[0][0][2] else SLOW


def reader(paths: tuple[Path, ...], build: Build, function_type: type) -> Callable[[Reader], Any]:
    """Reads the leaves, then builds the value. A value that calls functions, when every
    leaf is a plain value or a pure function, is built once per set of leaves and record
    shape (a new plan reads new records through new shapes' plans): `ref('TaxCode',
    lookup('tax-codes', ...))` gives the same for the same inputs."""
    if any(called for _name, _steps, called in paths):
        return _calling(paths, build, function_type)
    if len(paths) == 1:  # `amount | money`: its builds take the leaf as it is
        return path_reader(paths[0][0], paths[0][1], build)
    getters = tuple(path_reader(name, steps) for name, steps, _called in paths)

    def run(scope: Reader) -> Any:
        leaves = []
        for get in getters:
            value = get(scope)
            if value is SLOW:
                return SLOW
            leaves.append(value)
        return build(leaves)

    return run


def _calling(paths: tuple[Path, ...], build: Build, function_type: type) -> Callable[[Reader], Any]:
    """`reader` for a value that calls functions: each called name must be one of the
    engine's functions, and the results of pure ones are kept."""
    # A called name is read from the names alone: only they hold functions, never a field.
    leaf_readers = tuple(
        (name if called and not steps else None, path_reader(name, steps), called)
        for name, steps, called in paths
    )
    values_at = tuple(at for at, (_name, _steps, called) in enumerate(paths) if not called)
    functions_at = tuple(at for at, (_name, _steps, called) in enumerate(paths) if called)
    only = values_at[0] if len(values_at) == 1 else -1  # `ref(..., line.work_code)`: one value
    last: list[Known] = [_NOTHING_KNOWN]  # the results kept per record shape and functions
    # For shapes and functions already met: the called names (each a plain name; `a.f(x)`
    # is looked up in full every time), and the values' paths.
    called_names = tuple(name for name, steps, called in paths if called and not steps)
    if len(called_names) != len(functions_at):
        called_names = ()
    called_at = tuple(zip(called_names, functions_at, strict=False))  # () as called_names
    value_readers = tuple((at, leaf_readers[at][1]) for at in values_at)
    count = len(paths)

    def again(scope: Reader, known: Known) -> Any:
        """`run` when the record shape is the one the results were kept for: if the names
        called are the very functions kept for (checked pure and the engine's when first
        met), the result kept for the values read, or built and kept; else `SLOW`, and
        `run` looks at everything."""
        names = scope.names
        leaves: Leaves = [None] * count
        for ref, name, at in zip(known[1], called_names, functions_at, strict=True):
            function = names.get(name)
            if function is None or function is not ref():  # (a dead ref gives None)
                return SLOW
            leaves[at] = function
        return values_then_kept(scope, known[2], leaves, None)

    def values_then_kept(
        scope: Reader, kept: Kept, leaves: Leaves, functions: Functions | None
    ) -> Any:
        """The values read into `leaves`, then `kept_or_built`; `SLOW` if one cannot be."""
        for at, get in value_readers:
            value = get(scope)
            if value is SLOW:
                return SLOW
            leaves[at] = value
        return kept_or_built(kept, leaves, functions)

    def kept_or_built(kept: Kept, leaves: Leaves, functions: Functions | None) -> Any:
        """The result kept for the values read, or the one built now (and kept). With
        `functions`, the functions' leaves are still to be put, from there, if it is built."""
        if only < 0:
            key = _key(leaves, values_at)
        else:  # `_key_of`, a text spelled out
            key = leaves[only]
            if type(key) is not str:
                key = _key_of(key)
        if key is not _UNKEYED:
            found = kept.get(key, SLOW)
            if found is not SLOW:
                return dict(found) if type(found) is dict else found
        if functions is not None:
            by_name = functions.by_name
            for name, at in called_at:
                leaves[at] = by_name[name]
        made = build(leaves)
        return made if key is _UNKEYED else _kept(kept, key, made)

    def run(scope: Reader) -> Any:
        fields, names = scope.fields, scope.names
        known = last[0]  # read once: another thread may replace it meanwhile
        if known[0] is fields and called_names:
            functions = _known_here(scope, known)
            if functions is not None:  # the functions kept for, without a look at each
                made = values_then_kept(scope, known[2], [None] * count, functions)
            else:
                made = again(scope, known)
            if made is not SLOW:
                return made
        leaves: Leaves = []
        keep = fields is not None  # plain names alone (a test's scope): nothing kept
        for name, get, called in leaf_readers:
            value = get(scope) if name is None else names.get(name)
            if value is SLOW:
                return SLOW
            if called:
                if type(value) is not function_type:
                    return SLOW
                keep = keep and getattr(value, "pure", False) is True
            leaves.append(value)
        if not keep:
            return build(leaves)
        if known[0] is not fields or not _same_functions(known[1], leaves, functions_at):
            refs = tuple(weakref.ref(leaves[at]) for at in functions_at)
            found = {name: leaves[at] for name, at in called_at}
            known = last[0] = (fields, refs, {}, _functions_known(scope, found))
        return kept_or_built(known[2], leaves, None)

    return run


def _same_functions(
    refs: tuple[weakref.ref[Any], ...], leaves: Leaves, functions_at: tuple[int, ...]
) -> bool:
    """Whether the functions called are the very objects the kept results came from."""
    for ref, at in zip(refs, functions_at, strict=True):  # noqa: SIM110 (runs per value)
        if ref() is not leaves[at]:
            return False
    return True


def _kept(kept: Kept, key: Any, made: Any) -> Any:
    """`made`, kept for `key` when nothing can change it (a reference is kept as a copy)
    and it is small."""
    kind = type(made)
    if kind in _KEPT:
        size = sys.getsizeof(made)  # the bytes it holds, its text's or its digits'
    elif kind is dict and all(type(v) is str for v in made.values()):
        size = sys.getsizeof(made) + sum(map(sys.getsizeof, [*made, *made.values()]))
    else:
        return made
    if size <= MAX_KEPT_BYTES:
        if len(kept) >= MAX_KEPT:
            kept.clear()
        kept[key] = dict(made) if kind is dict else made  # its own copy: nobody changes it
    return made


def call_reader(
    function: str,
    head: tuple[Any, ...],
    path: tuple[str, tuple[str, ...]],
    function_type: type[Any],
    stopped: Callable[[], Any],
) -> Callable[[Reader], Any]:
    """`linked('clients', client_id)`, the call rules make most (a function's name called
    with constants and then a path): `reader` and the call's closure (exprcall.called) in
    one, reading and calling the same, in the same order. `stopped`: the Undefined a
    StopIteration out of the call gives."""
    read = path_reader(*path)
    last: list[Known] = [_NOTHING_KNOWN]  # the results kept per record shape and function

    def run(scope: Reader) -> Any:
        known = last[0]  # read once: another thread may replace it meanwhile
        functions = _known_here(scope, known)
        if functions is not None:  # the function kept for: pure, one of the engine's
            called: Any = functions.by_name[function]
        else:
            called = scope.names.get(function)
            if type(called) is not function_type:
                return SLOW
        wrapped = called.func  # one of the engine's functions
        value = read(scope)
        if value is SLOW:
            return SLOW
        fields = scope.fields
        if functions is None and (fields is None or getattr(called, "pure", False) is not True):
            try:  # `_call`, spelled out for `linked`
                return wrapped(*head, value)
            except StopIteration:
                return stopped()
        key = value if type(value) is str else _key_of(value)
        if key is _UNKEYED:
            return _call(wrapped, head, value, stopped)
        if functions is None and (known[0] is not fields or known[1][0]() is not called):
            found = _functions_known(scope, {function: called})
            known = last[0] = (fields, (weakref.ref(called),), {}, found)
        kept = known[2]
        found = kept.get(key, SLOW)
        if found is not SLOW:
            return dict(found) if type(found) is dict else found
        return _kept(kept, key, _call(wrapped, head, value, stopped))

    return run


def _call(
    wrapped: Callable[..., Any], head: tuple[Any, ...], value: Any, stopped: Callable[[], Any]
) -> Any:
    try:
        return wrapped(*head, value)
    except StopIteration:
        return stopped()
