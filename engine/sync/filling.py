"""A record as rules see it: every declared field present, those the record leaves out read
as empty (None), nested ones and those of list elements too (a QBO line without a
Description).

Two ways to the same values. `filled` makes the whole filled record, what Jinja's own code
reads. `Fields` reads one path of the record as the filled record would give it, without
filling anything first: most rules read a few plain paths, and filling every declared field
of every record cost more than the rules themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tpsqbo_engine.exprread import PathKey, PathPlan, walk
from tpsqbo_engine.ruleset.shapes import Shape

MAX_FILL_DEPTH = 6
Fill = Callable[[Any], Any]
_FILLERS: dict[tuple[int, int], tuple[Any, Fill]] = {}


def filled(value: Any, shape: Shape, depth: int = 0) -> Any:
    """`value` with its declared fields filled in (a new dict; the value is not changed)."""
    return filler(shape, depth)(value)


def filler(shape: Shape, depth: int = 0) -> Fill:
    """`filled` for one shape, compiled once: its properties and their own fillers are
    resolved here, not for every record."""
    key = (id(shape.node), depth)
    known = _FILLERS.get(key)
    if known is not None and known[0] is shape.node:
        return known[1]
    made = _identity if depth > MAX_FILL_DEPTH else _make_filler(shape, depth)
    _FILLERS[key] = (shape.node, made)  # holding the node keeps its id unique
    return made


def _identity(value: Any) -> Any:
    return value


# The types of fields that are not lists (nor anything else `fill` could fill but a dict).
_NO_LISTS = frozenset({str, int, float, bool, type(None), Decimal, dict, date, datetime})


# The fillers of records whose declared fields hold no objects of their own, with the blank
# record each copies and whether a list in one of those fields is filled too (its items, or
# theirs, declare fields): a list of them is filled without a call per item.
_FLAT_BLANKS: dict[Fill, tuple[dict[str, Any], bool]] = {}


def _fills_items(shape: Shape, depth: int) -> bool:
    """Whether filling a list `shape` declares fills its items (they, or the items of lists
    they are, have fields of their own); if not, the filled list only equals the list."""
    for _ in range(depth, MAX_FILL_DEPTH + 1):
        shape = shape.item()
        if not shape.known:
            return False
        if shape.properties():
            return True
    return True  # deeper than filling goes: looked at item by item, as ever


def _make_filler(shape: Shape, depth: int) -> Fill:
    item = filler(shape.item(), depth + 1)
    props = shape.properties()
    names = tuple(props)
    subs = {name: filler(sub, depth + 1) for name, sub in props.items()}
    # Fields without properties of their own take a scalar as it is (a list is still copied);
    # the others are filled even when missing (an absent address reads as empty lines).
    flat = frozenset(name for name, sub in props.items() if not sub.properties())
    nested = tuple(name for name in names if name not in flat)
    blank = dict.fromkeys(names)  # copied for each record: cheaper than made anew

    # a list's items: records without nested objects; `lists_filled`: a list they hold is
    # filled, so each item's values are looked at (a cold read of every value of every line)
    each_blank, lists_filled = _FLAT_BLANKS.get(item, (None, True))

    def fill(value: Any) -> Any:
        kind = type(value)
        if kind is list or (kind is not dict and isinstance(value, list)):
            if each_blank is None:
                return [item(element) for element in value]
            made = []
            for element in value:  # what `item` does for each, spelled out: invoice lines
                if type(element) is dict and (
                    not lists_filled or _NO_LISTS.issuperset(map(type, element.values()))
                ):
                    filled_element = each_blank.copy()
                    filled_element.update(element)
                    made.append(filled_element)
                else:
                    made.append(item(element))
            return made
        if not props or not (kind is dict or value is None or isinstance(value, Mapping)):
            return value
        out = blank.copy()  # declared fields first, in the schema's order, all empty
        if kind is dict and _NO_LISTS.issuperset(map(type, value.values())):
            # no list to fill anywhere (checked without a loop in Python): every field as
            # it is, but the declared objects, filled even when missing
            out.update(value)
            for name in nested:
                out[name] = subs[name](value.get(name))
            return out
        for name, found in (value or {}).items():
            sub = subs.get(name)
            if sub is None or (name in flat and not isinstance(found, list)):
                out[name] = found  # undeclared, or a scalar: as it is
            else:
                out[name] = sub(found)
        for name in nested:
            if value is None or name not in value:
                out[name] = subs[name](None)
        return out

    if props and not nested:
        _FLAT_BLANKS[fill] = (blank, any(_fills_items(sub, depth + 1) for sub in props.values()))
    return fill


class Fields:
    """The path plans of records of one shape: how to read a path as `filled` would give it,
    or say `SLOW` where only the filled record can tell (something that is not a plain dict
    on the way, a key the shape does not declare and the record does not have)."""

    __slots__ = ("_plans", "shape")

    def __init__(self, shape: Shape | None) -> None:
        self.shape = shape
        self._plans: dict[tuple[str, tuple[str, ...]], PathPlan] = {}

    def read(self, record: Any, name: str, steps: tuple[str, ...]) -> Any:
        return walk(record, self.plan(name, steps))

    def plan(self, name: str, steps: tuple[str, ...]) -> PathPlan:
        plan = self._plans.get((name, steps))
        if plan is None:
            plan = self._plans[(name, steps)] = self._plan((name, *steps))
        return plan

    def _plan(self, path: tuple[str, ...]) -> PathPlan:
        keys: list[PathKey] = []
        shape, depth = self.shape, 0
        is_filled = shape is not None and bool(shape.properties())
        final: Fill | None = None
        always = False
        for key in path:
            props = shape.properties() if is_filled and shape is not None else {}
            keys.append((key, is_filled, key in props))
            if key in props:
                shape, depth = props[key], depth + 1
                final, always = filler(shape, depth), bool(shape.properties())
                is_filled = always and depth <= MAX_FILL_DEPTH
            else:  # undeclared: read as it is from here on, as `filled` leaves it
                shape, final, always, is_filled = None, None, False, False
        return tuple(keys), final, always
