"""How much a value holds all the way down: every item of every list and mapping it reaches,
and every character of every text, counted each time it is reached.

The budget (engine/budget.py) sizes a list by what it holds, but a list can hold lists: a
list of a hundred references to one list of a hundred references to ... is small at every
level and huge all the way down, and comparing two of them (`==`, `in`, `unique`) visits
every item reached (`[[[[[n]*100]*100]*100]*100]*100 == ...` took 9 s in one call the clock
cannot stop). Shared parts are measured once (remembered by `id` for one measurement, while
the value keeps them alive) but count every time they are reached, so a measurement costs at
most one visit per distinct part, and stops as soon as either total passes its limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import chain
from typing import Any

_HOLDERS = (list, tuple, set, frozenset, Mapping)


def holds_values(value: Any) -> bool:
    """A list, tuple, set or mapping: something whose items are values of their own."""
    return isinstance(value, _HOLDERS)


def _parts(value: Any) -> Iterator[Any]:
    if isinstance(value, Mapping):
        return chain(value.keys(), value.values())
    items: Iterable[Any] = value
    return iter(items)


def measure(value: Any, max_items: int, max_text: int) -> tuple[int, int]:
    """The items and characters `value` (a list, tuple, set or mapping) holds all the way
    down. Stops at the first part found to hold more than a limit, with that part's totals
    (at most the whole's), so a caller comparing them with the limits refuses the value."""
    measured: dict[int, tuple[int, int]] = {}
    on_the_way = {id(value)}
    # each frame: the holder, its parts still to see, its items and characters so far
    stack: list[list[Any]] = [[value, _parts(value), len(value), 0]]
    while True:  # until the outermost frame is done, or a part is over a limit
        frame = stack[-1]
        for part in frame[1]:
            if isinstance(part, str):
                frame[3] += len(part)
            elif isinstance(part, _HOLDERS):
                known = measured.get(id(part))
                if known is None:
                    if id(part) in on_the_way:  # a value holding itself: never from a rule
                        return max_items + 1, 0
                    on_the_way.add(id(part))
                    stack.append([part, _parts(part), len(part), 0])
                    break
                frame[2] += known[0]
                frame[3] += known[1]
            else:
                continue
            if frame[2] > max_items or frame[3] > max_text:
                return frame[2], frame[3]
        else:
            stack.pop()
            on_the_way.discard(id(frame[0]))
            totals = measured[id(frame[0])] = frame[2], frame[3]
            if not stack:
                return totals
            parent = stack[-1]
            parent[2] += totals[0]
            parent[3] += totals[1]
            if parent[2] > max_items or parent[3] > max_text:
                return parent[2], parent[3]
