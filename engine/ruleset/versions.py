"""Versions of packs and of the engine, and the constraints `extends` and `requires` put on them.

Packs use semantic versions (`1.2.3`). A constraint is a comma-separated list of clauses:
`^1.2` (same major, at least 1.2), `~1.2.3` (same minor, at least 1.2.3), `1.2.x`, or a
comparison `>=1.0`, `<2`, `==1.2.0`, `!=1.3.0`, `>1`, `<=2.1`. Missing parts count as zero.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Version = tuple[int, int, int]

_VERSION = re.compile(r"^\s*v?(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?(?:[-+.][0-9A-Za-z.-]*)?\s*$")
_CLAUSE = re.compile(r"^\s*(\^|~=|~|==|!=|>=|<=|>|<|=)?\s*(.+?)\s*$")


class BadVersion(ValueError):
    pass


def parse_version(text: str) -> tuple[Version, int]:
    """(version, how many parts were given): `1.2` is ((1, 2, 0), 2); `1.x` is ((1, 0, 0), 1)."""
    match = _VERSION.match(text)
    if match is None:
        raise BadVersion(f"'{text}' is not a version like 1.2.3")
    parts = [p for p in match.groups() if p is not None and p not in ("x", "*")]
    numbers = [int(p) for p in parts] + [0] * (3 - len(parts))
    return (numbers[0], numbers[1], numbers[2]), len(parts)


def _bump(version: Version, given: int) -> Version:
    """The first version past the range `given` parts fix: 1.2 → 1.3.0, 1 → 2.0.0."""
    if given <= 1:
        return (version[0] + 1, 0, 0)
    if given == 2:
        return (version[0], version[1] + 1, 0)
    return (version[0], version[1], version[2] + 1)


def _clause(text: str) -> Callable[[Version], bool]:
    match = _CLAUSE.match(text)
    if match is None or not match.group(2):
        raise BadVersion(f"'{text}' is not a version constraint")
    op, rest = match.group(1) or "=", match.group(2)
    low, given = parse_version(rest)
    if op == "^":
        # ^1.2.3 allows 1.x.y >= 1.2.3; ^0.2.3 allows 0.2.y (0.x versions break at minor).
        high = (low[0] + 1, 0, 0) if low[0] > 0 or given == 1 else _bump(low, min(given, 2))
        return lambda v: low <= v < high
    if op in ("~", "~="):
        high = _bump(low, min(max(given, 2), 2)) if op == "~" else _bump(low, max(given - 1, 1))
        return lambda v: low <= v < high
    if op == "=" and given < 3:  # a bare `1.2` or `1.2.x` is the whole 1.2 series
        high = _bump(low, given)
        return lambda v: low <= v < high
    compare: dict[str, Callable[[Version], bool]] = {
        "==": lambda v: v == low,
        "=": lambda v: v == low,
        "!=": lambda v: v != low,
        ">=": lambda v: v >= low,
        "<=": lambda v: v <= low,
        ">": lambda v: v > low,
        "<": lambda v: v < low,
    }
    return compare[op]


def satisfies(version: str, constraint: str) -> bool:
    """Whether `version` meets every clause of `constraint`. Raises BadVersion on bad input."""
    parsed, _ = parse_version(version)
    clauses = [c for c in constraint.split(",") if c.strip()]
    if not clauses:
        raise BadVersion("an empty version constraint")
    return all(_clause(c)(parsed) for c in clauses)
