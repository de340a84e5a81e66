"""Dotted field paths in records ("BillAddr.City"): read and written the same way by the
sync and by the connectors, so here rather than in either (connectors must not depend on
engine/sync)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def get_path(record: Mapping[str, Any], dotted: str) -> Any:
    """The value at `dotted`, or None where a part is missing or its parent is not a mapping
    (a list or a scalar is not looked into)."""
    value: Any = record
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def put_path(target: dict[str, Any], dotted: str, value: Any) -> None:
    """Sets `dotted` to `value`, making missing parents as empty dicts. A parent that is there
    but holds no mapping (None, text, a list) is never replaced: writing through it fails
    rather than losing what it held."""
    *parents, last = dotted.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value
