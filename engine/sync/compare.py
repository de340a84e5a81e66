"""Comparing what the rules want with what a record holds: field paths, and sameness as
people see it (amounts by value, text without stray spaces or case, QBO's own SubTotal line
left out)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from tpsqbo_engine.dotted import get_path

Record = dict[str, Any]


# Values that are never mappings: asking whether they are one (an ABC check) costs more
# than the rest of flattening them.
_NOT_MAPPINGS = frozenset({str, int, float, bool, type(None), Decimal, list})


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        kind = type(value)
        if kind is dict or (kind not in _NOT_MAPPINGS and isinstance(value, Mapping)):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def typed(value: str) -> str:
    """A value as people type it, compared: spaces at the ends and inside collapsed, case
    ignored. "  Alder Creek Dental " is "Alder Creek Dental"; "birch lane llc" is "Birch Lane
    LLC"; "Billing@X.example " is "billing@x.example"."""
    return " ".join(value.split()).casefold()


def same(a: Any, b: Any, exact: bool = False) -> bool:
    if not exact and isinstance(a, str) and isinstance(b, str):
        return typed(a) == typed(b)
    if (
        isinstance(a, Decimal | int | float)
        and isinstance(b, Decimal | int | float)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return Decimal(str(a)) == Decimal(str(b))
    if isinstance(a, list) and isinstance(b, list):
        # QBO adds a SubTotal line of its own to every sales transaction.
        b = [
            y
            for y in b
            if not (isinstance(y, Mapping) and y.get("DetailType") == "SubTotalLineDetail")
        ]
        return len(a) == len(b) and all(
            all(same(v, get_path(y, k), exact) for k, v in flatten(x).items())
            for x, y in zip(a, b, strict=True)
            if isinstance(x, Mapping) and isinstance(y, Mapping)
        )
    return bool(a == b)


def diff(want: Record, have: Record, exact: bool = False) -> dict[str, list[Any]]:
    """Field -> [now, wanted], for the fields the rules set and the target has otherwise.
    Text that differs only as people type it (spaces, case) is not a change unless `exact`:
    a tidy record is not overwritten with a worse-formatted copy. (A new record's diff is
    every field: plan.NewRecordDiff.)"""
    changes: dict[str, list[Any]] = {}
    for path, value in flatten(want).items():
        current = get_path(have, path)
        if not same(value, current, exact):
            changes[path] = [current, value]
    return changes


def changed_part(want: Record, changes: Mapping[str, Any]) -> Record:
    """The top-level fields with a change, whole (a sparse update): what is already right
    in the target, as it is typed there, is left alone."""
    top = {path.split(".", 1)[0] for path in changes}
    return {key: value for key, value in want.items() if key in top}


def merged(record: Record, changes: Record) -> Record:
    result = dict(record)
    for key, value in changes.items():
        result[key] = merged(result.get(key) or {}, value) if isinstance(value, dict) else value
    return result
