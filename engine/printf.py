"""The conversions of a printf-style format (`'%-8s %*.2f' % args`), read the way Python's
`%` reads them, so that the budget can size what a format makes before it is made."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any


def conversions(text: str, given: list[Any]) -> Iterator[tuple[list[int], Any]]:
    """Each conversion of `text`: its width and precision, and the argument it formats, read
    the way Python's `%` reads them (a `(key)` may hold balanced brackets and names an item
    of a mapping; a `*` width takes the next argument)."""
    taken = 0  # arguments used so far
    at = text.find("%")
    while at >= 0:
        at, key = _key(text, at + 1)
        at = _skip(text, at, "-+ #0")
        widths: list[int] = []
        for part in ("width", "precision"):
            if part == "precision":
                if not text.startswith(".", at):
                    break
                at += 1
            if text.startswith("*", at):
                at += 1
                if taken < len(given) and _is_int(given[taken]):
                    widths.append(given[taken])
                taken += 1
            elif (digits := _DIGITS.match(text, at)) is not None:
                at = digits.end()
                widths.append(int(digits.group().lstrip("0")[:12] or "0"))
        at = _skip(text, at, "hlL")
        argument = None
        if key is not None:
            mapping = given[0] if given else None
            argument = mapping.get(key) if isinstance(mapping, Mapping) else None
        elif at < len(text) and text[at] != "%":
            argument = given[taken] if taken < len(given) else None
            taken += 1
        yield widths, argument
        at = text.find("%", at + 1)


def _key(text: str, at: int) -> tuple[int, str | None]:
    """`(name)` after a `%`: where it ends and the name."""
    if not text.startswith("(", at):
        return at, None
    depth, start = 0, at + 1
    while at < len(text):
        depth += {"(": 1, ")": -1}.get(text[at], 0)
        at += 1
        if depth == 0:
            return at, text[start : at - 1]
    return at, None


def _skip(text: str, at: int, characters: str) -> int:
    while at < len(text) and text[at] in characters:
        at += 1
    return at


_DIGITS = re.compile(r"\d+")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
