"""The functions rules may call: one registry that the type checker and the runtime both read.

Each entry says how many arguments the function takes, what it gives (for the checker) and
how it runs. Pure functions (dates, text) run on their own; the others are methods of the
run's resolver (`lookup`, `ref`, `linked`, `record`, `unique`, `today`, `wip`,
`lines_to_apply`, `lines_left_unapplied`), which sees the snapshot, the links and the run's
clock. Adding a function means adding an entry here: the checker then knows its name and
arity, and every run provides it.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, Protocol

from tpsqbo_engine.expr import ExpressionError, RuleFunction, rule_function

MAX_DAYS = 36_600  # a century either way: further is a mistake, not a due date
MAX_TEXT = 100_000
MAX_COUNT = 10_000


class Bound(Protocol):
    """What resolver-bound functions are called on (the run's Resolver)."""

    def bound_function(
        self, name: str, system: str, record: Mapping[str, Any]
    ) -> Callable[..., Any]: ...


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    min_args: int
    max_args: int
    returns: str  # a scalar type name for the checker: string, date, number, ... or "any"
    summary: str
    pure: Callable[..., Any] | None = None  # None: provided by the run's resolver
    keywords: tuple[str, ...] = ()
    # Where it may be called: "rules" (mappings, exclusions, templates), "checks" (checklist
    # expressions over the company), or "any" (pure functions).
    scope: str = "rules"
    # What each positional argument written as a constant must be (filter_signatures.py's
    # kinds: "whole", "count", "days", "text", ...), checked by `validate`; "any" for the rest.
    kinds: tuple[str, ...] = ()


def as_date(value: Any, what: str = "a date") -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if value is None or value == "":
        raise ExpressionError(f"expected {what}, got nothing")
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ExpressionError(f"expected {what} like 2026-01-31") from None


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ExpressionError(f"{what} must be a whole number")
    try:
        number = int(str(value))
    except ValueError:
        raise ExpressionError(f"{what} must be a whole number") from None
    return number


def add_days(day: Any, days: Any) -> date | None:
    """`day` plus `days` (negative goes back); an empty day stays empty."""
    if day is None or day == "":
        return None
    count = _count(days, "the number of days")
    if abs(count) > MAX_DAYS:
        raise ExpressionError(f"add_days moves at most {MAX_DAYS:,} days")
    return as_date(day) + timedelta(days=count)


def end_of_month(day: Any) -> date | None:
    if day is None or day == "":
        return None
    start = as_date(day)
    return start.replace(day=calendar.monthrange(start.year, start.month)[1])


_NET = re.compile(r"^\s*net\s*(\d{1,5})\s*(?:days?\s*)?$", re.I)  # one way to match spaces
_RECEIPT = re.compile(r"^\s*(due\s+(on|upon)\s+receipt|cod|immediate)\s*$", re.I)
_EOM = re.compile(r"^\s*(net\s+)?(eom|end\s+of\s+(the\s+)?month)\s*$", re.I)


def due_by_terms(day: Any, terms: Any) -> date | None:
    """The due date of something dated `day` under `terms`: a number of days (a TPS client's
    `terms_days`, a QBO term's DueDays), `Net 30`, `Due on receipt`, or `EOM`."""
    if day is None or day == "":
        return None
    if terms is None or terms == "":
        return as_date(day)
    if isinstance(terms, int | float) or str(terms).strip().lstrip("-").isdigit():
        return add_days(day, terms)
    text = str(terms)
    if match := _NET.match(text):
        return add_days(day, match.group(1))
    if _RECEIPT.match(text):
        return as_date(day)
    if _EOM.match(text):
        return end_of_month(day)
    raise ExpressionError(
        "terms not understood (use a number of days, 'Net 30', 'Due on receipt' or 'EOM')",
        hint="map the firm's terms to days with a lookup",
    )


def _text(value: Any) -> str:
    text = "" if value is None else str(value)
    if len(text) > MAX_TEXT:
        raise ExpressionError(f"text longer than {MAX_TEXT:,} characters")
    return text


def _length(count: Any) -> int:
    number = _count(count, "the length")
    if not 0 <= number <= MAX_COUNT:
        raise ExpressionError(f"the length must be between 0 and {MAX_COUNT:,}")
    return number


def left(value: Any, count: Any) -> str:
    """The first `count` characters."""
    return _text(value)[: _length(count)]


def right(value: Any, count: Any) -> str:
    """The last `count` characters."""
    number = _length(count)
    return _text(value)[-number:] if number else ""


def words(value: Any, count: Any) -> str:
    """The first `count` words, spaces tidied."""
    return " ".join(_text(value).split()[: _length(count)])


def digits(value: Any) -> str:
    """Only the digits: a phone number or a tax id without its punctuation."""
    return "".join(c for c in _text(value) if c.isdigit())


def join_nonempty(separator: Any, *parts: Any) -> str:
    """The parts that are not empty, joined: an address line from its pieces."""
    if len(parts) > 50:
        raise ExpressionError("join_nonempty takes at most 50 parts")
    return _text(separator).join(_text(p) for p in parts if p not in (None, ""))


_COUNTED = ("any", "count")  # left, right, words: a text and how much of it
REGISTRY: Mapping[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        FunctionSpec("lookup", 2, 3, "any", "the table's value for a key", keywords=("default",)),
        FunctionSpec("ref", 2, 2, "ref", "a QBO reference {value, name} found by name"),
        FunctionSpec(
            "account_types", 1, 1, "list", "the AccountType of each QBO account referred to"
        ),
        FunctionSpec("linked", 2, 2, "any", "the linked record's id in the other system"),
        FunctionSpec("record", 2, 2, "any", "the linked record itself, on the caller's side"),
        FunctionSpec("unique", 2, 3, "string", "the value, with a suffix when already taken"),
        FunctionSpec("lines_to_apply", 1, 1, "list", "a QBO payment's lines TPS applies"),
        FunctionSpec(
            "lines_left_unapplied", 1, 1, "list", "a QBO payment's lines TPS keeps unapplied"
        ),
        FunctionSpec("today", 0, 0, "date", "the run's date (fixed in pack tests)"),
        FunctionSpec("wip", 1, 1, "list", "the TPS WIP entries billed on an invoice line"),
        FunctionSpec(
            "add_days",
            2,
            2,
            "date",
            "a date moved by a number of days",
            add_days,
            kinds=("any", "days"),
        ),
        FunctionSpec("end_of_month", 1, 1, "date", "the month's last day", end_of_month),
        FunctionSpec("due_by_terms", 2, 2, "date", "a due date by terms", due_by_terms),
        FunctionSpec(
            "count", 1, 2, "number", "how many QBO records of an entity match", scope="checks"
        ),
        FunctionSpec(
            "exists", 1, 2, "boolean", "whether any QBO record of an entity matches", scope="checks"
        ),
        FunctionSpec(
            "query", 1, 2, "list", "the matching QBO records (at most 1,000)", scope="checks"
        ),
        FunctionSpec(
            "left", 2, 2, "string", "the first n characters (n ≤ 10,000)", left, kinds=_COUNTED
        ),
        FunctionSpec(
            "right", 2, 2, "string", "the last n characters (n ≤ 10,000)", right, kinds=_COUNTED
        ),
        FunctionSpec(
            "words", 2, 2, "string", "the first n words (n ≤ 10,000)", words, kinds=_COUNTED
        ),
        FunctionSpec("digits", 1, 1, "string", "only the digits of a text", digits),
        FunctionSpec(
            "join_nonempty",
            1,
            51,
            "string",
            "the non-empty parts joined by a separator",
            join_nonempty,
        ),
    )
}


@cache
def names_for(scope: str) -> frozenset[str]:
    """The functions callable in `scope` ("rules" or "checks"): its own and the pure ones."""
    return frozenset(
        name for name, spec in REGISTRY.items() if spec.scope == scope or spec.pure is not None
    )


RULE_FUNCTIONS = names_for("rules")
CHECK_FUNCTIONS = names_for("checks")


def bound_functions(
    resolver: Bound, system: str, record: Mapping[str, Any], scope: str = "rules"
) -> dict[str, RuleFunction]:
    """Every function of `scope`, ready to be called by rules evaluated for `record`."""
    callable_here = names_for(scope)
    return {
        name: rule_function(
            spec.pure if spec.pure is not None else resolver.bound_function(name, system, record),
            pure=spec.pure is not None or name in SAME_FOR_A_PLAN,
        )
        for name, spec in REGISTRY.items()
        if name in callable_here
    }


# The resolver's functions that answer from the run's snapshot and rules alone, so give the
# same for the same arguments while a plan is made; `linked` depends on what the plan has
# decided so far, `unique` on the names given so far, `today` on the clock.
SAME_FOR_A_PLAN = frozenset({"lookup", "ref", "record", "account_types"})
