"""What every filter rules may use takes after the value it filters: one table, read by the
checker (engine/ruleset/arguments.py) and held to the filters themselves by
tests/test_filter_arguments.py, so `money(2)` or `truncate('a')` is reported by `validate`
instead of failing every record.

A parameter's kind says what a constant argument must be:
- `int`: a whole number; `number`: any number; `text`: quoted text; `flag`: true or false;
- `attribute`: a field name of the items filtered (`merge_by('work_code')`), checked
  against their schema where it is known;
- `any`: anything;
- for the engine's functions (functions.py `kinds`): `whole`, a whole number or text that is
  one, `count`, one from 0 to 10,000, `days`, one of at most a century either way.
None is accepted where the filter's own default is None.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tpsqbo_engine.functions import MAX_COUNT, MAX_DAYS


@dataclass(frozen=True)
class Param:
    name: str
    kind: str = "any"
    required: bool = False
    default: Any = None  # shown in the hint; None also means None is accepted

    def shown(self) -> str:
        if self.required:
            return self.name
        value = self.default
        if value is None or isinstance(value, bool):
            written = {None: "none", True: "true", False: "false"}[value]
        else:
            written = repr(value)
        return f"{self.name}={written}"


@dataclass(frozen=True)
class FilterSignature:
    name: str
    params: tuple[Param, ...] = ()
    summary: str = ""
    # map, selectattr, rejectattr and format pass further arguments on (to a filter, a test,
    # the format string): those are checked by their own rules, not by count.
    variadic: bool = False
    keywords: bool = True  # False: the arguments are positional only

    def usage(self) -> str:
        shown = ", ".join(p.shown() for p in self.params)
        more = (", ..." if shown else "...") if self.variadic else ""  # format(...), map(...)
        return (
            f"{self.name}({shown}{more}): {self.summary}"
            if shown or more
            else (f"{self.name} takes no arguments: {self.summary}")
        )

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


def _sig(name: str, summary: str, *params: Param, **options: Any) -> FilterSignature:
    return FilterSignature(name, params, summary, **options)


_P = Param
_ATTRIBUTE = _P("attribute", "attribute")
_CASE = _P("case_sensitive", "flag", default=False)

FILTERS: Mapping[str, FilterSignature] = {
    s.name: s
    for s in (
        # Jinja's filters that rules may use (filters.JINJA_FILTERS)
        _sig("abs", "the number without its sign", keywords=False),
        _sig(
            "batch",
            "the items in lists of `linecount`",
            _P("linecount", "int", required=True),
            _P("fill_with"),
        ),
        _sig("capitalize", "the first letter upper case, the rest lower"),
        _sig("center", "the text centred in `width`", _P("width", "int", default=80)),
        _sig(
            "default",
            "`default_value` when the value is undefined (or empty, with boolean=true)",
            _P("default_value", default=""),
            _P("boolean", "flag", default=False),
        ),
        _sig("e", "the text HTML-escaped", keywords=False),
        _sig("escape", "the text HTML-escaped", keywords=False),
        _sig("first", "the first item"),
        _sig("format", "printf-style formatting: '%s-%s' | format(a, b)", variadic=True),
        _sig(
            "int",
            "the value as a whole number",
            _P("default", default=0),  # given back as it is when the value is not a number
            _P("base", "int", default=10),
        ),
        _sig(
            "join",
            "the items joined by `d`",
            _P("d", "text", default=""),
            _ATTRIBUTE,
        ),
        _sig("last", "the last item"),
        _sig("length", "how many items or characters", keywords=False),
        _sig("list", "the items as a list"),
        _sig("lower", "the text in lower case"),
        _sig(
            "map",
            "each item through a filter (map('upper')) or its field (map(attribute='amount'))",
            variadic=True,
        ),
        _sig("max", "the largest item", _CASE, _ATTRIBUTE),
        _sig("min", "the smallest item", _CASE, _ATTRIBUTE),
        _sig(
            "rejectattr",
            "the items whose field fails a test: rejectattr('field', 'eq', value)",
            _P("attribute", "attribute", required=True),
            variadic=True,
        ),
        _sig(
            "replace",
            "the text with `old` replaced by `new`",
            _P("old", "text", required=True),
            _P("new", "text", required=True),
            _P("count", "int"),
        ),
        _sig(
            "round",
            "the number rounded to `precision` places",
            _P("precision", "int", default=0),
            _P("method", "text", default="common"),
        ),
        _sig(
            "selectattr",
            "the items whose field passes a test: selectattr('field', 'eq', value)",
            _P("attribute", "attribute", required=True),
            variadic=True,
        ),
        _sig(
            "sort",
            "the items in order",
            _P("reverse", "flag", default=False),
            _CASE,
            _ATTRIBUTE,
        ),
        _sig("string", "the value as text", keywords=False),
        _sig(
            "sum",
            "the items (or their `attribute`) added up",
            _ATTRIBUTE,
            _P("start", "number", default=0),
        ),
        _sig("title", "Each Word Capitalised"),
        _sig("trim", "the text without surrounding spaces (or `chars`)", _P("chars", "text")),
        _sig(
            "truncate",
            "the text cut to `length` characters, `end` included",
            _P("length", "int", default=255),
            _P("killwords", "flag", default=False),
            _P("end", "text", default="..."),
            _P("leeway", "int"),
        ),
        _sig("unique", "the items without repeats", _CASE, _ATTRIBUTE),
        _sig("upper", "the text in upper case"),
        _sig(
            "wordwrap",
            "the text wrapped at `width`",
            _P("width", "int", default=79),
            _P("break_long_words", "flag", default=True),
            _P("wrapstring", "text"),
            _P("break_on_hyphens", "flag", default=True),
        ),
        # The engine's own (filters.ENGINE_FILTERS)
        _sig("money", "the amount rounded to cents, half up"),
        _sig("decimal", "the amount as an exact number"),
        _sig(
            "qbo_name",
            "a QBO list name: no colon, tab or newline, at most `limit` characters",
            _P("limit", "int", default=100),
        ),
        _sig("qbo_display_name", "a QBO display name (at most 500 characters)"),
        _sig("normalize_name", "the name folded for comparing"),
        _sig("normalize_email", "the address folded for comparing"),
        _sig(
            "merge_by",
            "the lines sharing `key` merged into one, amounts added",
            _P("key", "attribute", required=True),
        ),
        _sig("linked_types", "the TxnTypes a QBO transaction's lines link to"),
        _sig(
            "date",
            "the value as a date, or as text in `fmt` (strftime)",
            _P("fmt", "text", default=""),
        ),
    )
}

# What every test rules may use (filters.ALLOWED_TESTS) takes after the value it tests:
# `x is eq` without what to compare with, or `x is odd(2)`, fails every record at run time.
_OTHER = _P("other", required=True)
_COMPARING = "the value {} the other, as `{}`"
# Each named as a rule writes it (`is eq`), for the hint; keyed by the test's name.
TESTS: Mapping[str, FilterSignature] = {
    s.name.removeprefix("is "): s
    for s in (
        *(
            _sig(f"is {name}", _COMPARING.format(words, symbol), _OTHER, keywords=False)
            for name, words, symbol in (
                ("eq", "equal to", "=="),
                ("ne", "not equal to", "!="),
                ("lt", "less than", "<"),
                ("le", "at most", "<="),
                ("gt", "greater than", ">"),
                ("ge", "at least", ">="),
            )
        ),
        _sig(
            "is in",
            "the value is one of `seq`'s items, or part of a text",
            _P("seq", required=True),
        ),
        _sig("is sameas", "the value is the very same object as `other`", _OTHER),
        *(
            _sig(f"is {name}", summary)
            for name, summary in (
                ("defined", "the value is defined"),
                ("undefined", "the value is undefined"),
                ("none", "the value is none"),
                ("true", "the value is true"),
                ("false", "the value is false"),
                ("string", "the value is a text"),
                ("number", "the value is a number"),
                ("mapping", "the value is a mapping"),
                ("sequence", "the value is a list or a text"),
                ("odd", "the whole number is odd"),
                ("even", "the whole number is even"),
            )
        ),
    )
}

ROUND_METHODS = ("common", "ceil", "floor")

# The smallest whole number each of these arguments takes: textwrap refuses a width of 0;
# a batch of 0 items, or a QBO name cut to 0 (or to all but the last few) characters, makes
# nonsense without any error at all.
MINIMUMS: Mapping[tuple[str, str], int] = {
    ("wordwrap", "width"): 1,
    ("batch", "linecount"): 1,
    ("qbo_name", "limit"): 1,
    ("truncate", "leeway"): 0,
}


def wrong_kind(kind: str, value: Any, *, none_ok: bool) -> str:
    """What a constant of `kind` should be, when `value` is not one; "" when it is."""
    if value is None and (none_ok or kind in ("any", "flag")):  # none is false for a flag
        return ""
    if kind in ("int", "number") and isinstance(value, bool):
        return "a number, not true or false"
    if kind == "int" and not isinstance(value, int):
        return "a whole number"
    if kind == "number" and not isinstance(value, int | float):
        return "a number"
    if kind == "text" and not isinstance(value, str):
        return "quoted text"
    if kind == "attribute" and not isinstance(value, str | int):
        return "a quoted field name"
    if kind == "flag" and not isinstance(value, bool | int):
        return "true or false, unquoted"
    if kind in ("whole", "count", "days"):
        return _whole_number(kind, value)
    return ""


def _whole_number(kind: str, value: Any) -> str:
    """The engine's functions read a count as functions._count does: a whole number, or
    text that is one."""
    try:
        number = None if isinstance(value, bool) else int(str(value))
    except ValueError:
        number = None
    if number is None:
        return "a whole number"
    if kind == "count" and not 0 <= number <= MAX_COUNT:
        return f"a whole number from 0 to {MAX_COUNT:,}"
    if kind == "days" and abs(number) > MAX_DAYS:
        return f"a number of days of at most {MAX_DAYS:,} either way"
    return ""
