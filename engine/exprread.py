"""How a compiled expression (engine/exprfast.py) reads its leaves from a scope: each name
path through the plan of the record's shape, the paths read once for the record shape last
met, and the results of pure functions kept for the same leaves while one plan is made.

A leaf that cannot be read as Jinja would read it (a key missing, something that is not a
plain dict on the way, a called name that is not one of the engine's functions) makes the
reader answer `SLOW` before anything has run, and Jinja's own code decides.
"""

from __future__ import annotations

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


class Reader(Protocol):
    """Where the names come from (expr.Scope): functions and aliases in `names`, over the
    fields of `record`, read by the plans of `fields` (None: `names` is everything)."""

    names: dict[str, Any]
    record: Any
    fields: Plans | None


Path = tuple[str, tuple[str, ...], bool]
_NO_FIELDS = object()
_DEEP = object()  # a path that is not one top-level field


# Results kept for the same inputs: values nothing can change, and references (copied out).
_KEPT = frozenset({str, int, bool, float, Decimal, date, type(None)})
MAX_KEPT = 20_000
Kept = dict[Any, Any]
_UNKEYED = object()


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
    """The key of the values read (not of the functions called: the kept results outlive
    the plan, and a plan's functions hold its resolver and snapshot; which function a
    name gives is the same for every record of one plan's record kind, per `fields`, where
    results are kept apart): a tuple of their keys. One value is keyed by its own key."""
    key = tuple([_key_of(leaves[at]) for at in values_at])
    return _UNKEYED if _UNKEYED in key else key


def path_reader(
    name: str, steps: tuple[str, ...], then: Build | None = None
) -> Callable[[Reader], Any]:
    """One path read as Jinja would read it, or `SLOW` (a key missing, something not a
    plain dict on the way): a rule value that is a path, and each leaf of `reader`. With
    `then`, what `then` builds of the value read (a value that reads one path)."""
    last: list[tuple[Any, PathPlan | None, Any]] = [(_NO_FIELDS, None, _DEEP)]

    def get(scope: Reader) -> Any:
        fields = scope.fields
        known = last[0]  # read once: another thread may replace it meanwhile
        if known[0] is not fields:
            plan = None if fields is None else fields.plan(name, steps)
            known = last[0] = (fields, plan, _absent(plan))
        value = scope.names.get(name, SLOW)
        if value is not SLOW:
            for step in steps:
                if type(value) is not dict:
                    return SLOW
                value = value.get(step, SLOW)
        else:
            plan, absent = known[1], known[2]
            if plan is None:
                return SLOW
            record = scope.record
            if absent is _DEEP or type(record) is not dict:
                value = walk(record, plan)
            else:
                value = record.get(name, absent)  # a top-level field
                final = plan[1]
                if final is not None and value is not SLOW and (plan[2] or isinstance(value, list)):
                    value = final(value)
        return value if then is None or value is SLOW else then(value)

    return get


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
    only = values_at[0] if len(values_at) == 1 else -1  # `ref(..., line.work_code)`: one value
    kept_for = _keeper()

    def run(scope: Reader) -> Any:
        fields, names = scope.fields, scope.names
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
        key = _key_of(leaves[only]) if only >= 0 else _key(leaves, values_at)
        if key is _UNKEYED:
            return build(leaves)
        kept = kept_for(fields)
        found = kept.get(key, SLOW)
        if found is not SLOW:
            return dict(found) if type(found) is dict else found
        return _kept(kept, key, build(leaves))

    return run


def _keeper() -> Callable[[Any], Kept]:
    """The results kept per record shape (the one last met)."""
    last: list[tuple[Any, Kept]] = [(_NO_FIELDS, {})]

    def kept_for(fields: Any) -> Kept:
        known = last[0]  # read once: another thread may replace it meanwhile
        if known[0] is not fields:
            known = last[0] = (fields, {})
        return known[1]

    return kept_for


def _kept(kept: Kept, key: Any, made: Any) -> Any:
    """`made`, kept for `key` when nothing can change it (a reference is kept as a copy)."""
    kind = type(made)
    if kind in _KEPT or (kind is dict and all(type(v) is str for v in made.values())):
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
    kept_for = _keeper()

    def run(scope: Reader) -> Any:
        called: Any = scope.names.get(function)
        if type(called) is not function_type:
            return SLOW
        wrapped = called.func  # one of the engine's functions
        value = read(scope)
        if value is SLOW:
            return SLOW
        fields = scope.fields
        if fields is None or getattr(called, "pure", False) is not True:
            try:  # `_call`, spelled out for `linked`
                return wrapped(*head, value)
            except StopIteration:
                return stopped()
        key = _key_of(value)
        if key is _UNKEYED:
            return _call(wrapped, head, value, stopped)
        kept = kept_for(fields)
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
