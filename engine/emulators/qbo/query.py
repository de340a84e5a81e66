"""The QBO query language: SELECT * [, Extra...] | COUNT(*) FROM Entity [WHERE a op v AND ...]
[ORDERBY f [ASC|DESC], ...] [STARTPOSITION n] [MAXRESULTS m].

AND only, operators = < > <= >= IN LIKE ('%' wildcard), values in single quotes with \\'
escapes (numbers and booleans may be bare), case-insensitive keywords, entity and field
names, and string comparisons. Parse errors are QBO's 4000.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_RESULTS = 1000
DEFAULT_RESULTS = 100

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:\\.|[^'\\])*')
      | (?P<op><=|>=|<>|!=|=|<|>)
      | (?P<punct>[(),*])
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<number>-?\d+(?:\.\d+)?)
    )""",
    re.VERBOSE,
)


class QueryError(Exception):
    """A query that does not parse (QBO 4000) or cannot run (QBO 4002)."""

    def __init__(self, detail: str, code: str = "4000") -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    values: tuple[Any, ...]


@dataclass
class Query:
    entity: str
    count: bool = False
    extra: tuple[str, ...] = ()  # SELECT *, Sku: fields returned only when named
    where: list[Condition] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)
    start: int = 1
    limit: int = DEFAULT_RESULTS


def _tokens(text: str) -> list[tuple[str, str]]:
    found, pos = [], 0
    text = text.strip().rstrip(";")
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise QueryError(
                f"QueryParserError: Invalid content. Lexical error at column {pos + 1}"
            )
        kind = match.lastgroup or ""
        found.append((kind, match.group(kind)))
        pos = match.end()
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.pos += 1
        return token

    def keyword(self, *words: str) -> bool:
        kind, value = self.peek()
        if kind == "word" and value.upper() in words:
            self.pos += 1
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            self.fail(f'"{word}"')

    def expect(self, kind: str, value: str | None = None) -> str:
        got_kind, got = self.take()
        if got_kind != kind or (value is not None and got != value):
            self.pos -= 1
            self.fail(value or kind)
        return got

    def fail(self, expected: str) -> None:
        kind, value = self.peek()
        shown = value or "<EOF>"
        raise QueryError(
            f'QueryParserError: Encountered " <{kind.upper()}> "{shown} "" '
            f"at token {self.pos + 1}. Was expecting: {expected}"
        )

    def parse(self) -> Query:
        self.expect_keyword("SELECT")
        count, extra = False, []
        if self.peek() == ("punct", "*"):
            self.take()
            while self.peek() == ("punct", ","):
                self.take()
                extra.append(self.expect("word"))
        elif self.keyword("COUNT"):
            self.expect("punct", "(")
            self.expect("punct", "*")
            self.expect("punct", ")")
            count = True
        else:
            self.fail('"*" or "COUNT(*)"')
        self.expect_keyword("FROM")
        query = Query(self.expect("word"), count, tuple(extra))
        if self.keyword("WHERE"):
            query.where.append(self.condition())
            while self.keyword("AND"):
                query.where.append(self.condition())
            if self.peek()[0] == "word" and self.peek()[1].upper() == "OR":
                raise QueryError(
                    "QueryParserError: OR is not supported; use IN, or run several queries"
                )
        if self.keyword("ORDERBY", "ORDER"):
            self.keyword("BY")
            query.order = self.order()
        if self.keyword("STARTPOSITION"):
            query.start = self.integer()
        if self.keyword("MAXRESULTS"):
            query.limit = self.integer()
        if self.peek()[0] != "end":
            self.fail("<EOF>")
        if query.start < 1:
            raise QueryError("STARTPOSITION must be 1 or more")
        if not 1 <= query.limit <= MAX_RESULTS:
            raise QueryError(f"MAXRESULTS must be between 1 and {MAX_RESULTS}")
        return query

    def integer(self) -> int:
        return int(self.expect("number"))

    def condition(self) -> Condition:
        name = self.expect("word")
        kind, op = self.take()
        if kind == "word" and op.upper() in ("IN", "LIKE"):
            op = op.upper()
        elif kind != "op" or op in ("<>", "!="):
            self.pos -= 1
            self.fail("an operator: = < > <= >= IN LIKE")
        if op == "IN":
            self.expect("punct", "(")
            values = [self.value()]
            while self.peek() == ("punct", ","):
                self.take()
                values.append(self.value())
            self.expect("punct", ")")
            return Condition(name, op, tuple(values))
        return Condition(name, op, (self.value(),))

    def value(self) -> Any:
        kind, text = self.take()
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", text[1:-1])
        if kind == "number":
            return Decimal(text)
        if kind == "word" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        self.pos -= 1
        self.fail("a value")
        return None  # pragma: no cover

    def order(self) -> list[tuple[str, bool]]:
        fields = []
        while True:
            name = self.expect("word")
            descending = self.keyword("DESC")
            if not descending:
                self.keyword("ASC")
            fields.append((name, descending))
            if self.peek() != ("punct", ","):
                return fields
            self.take()


def parse(text: str) -> Query:
    return _Parser(text).parse()


def field_value(record: Mapping[str, Any], path: str) -> Any:
    """A dotted, case-insensitive field of a record (`MetaData.LastUpdatedTime`)."""
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        if part in value:  # the usual spelling first: a scan of the keys per lookup is slow
            value = value[part]
            continue
        folded = part.lower()
        key = next((k for k in value if k.lower() == folded), None)
        value = value.get(key) if key is not None else None
    if isinstance(value, Mapping) and "value" in value:
        return value["value"]  # a reference compares by its id: CustomerRef = '58'
    if isinstance(value, Mapping) and "Address" in value:
        return value["Address"]  # an email compares by its address: PrimaryEmailAddr = 'a@b.c'
    return value


DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def moment(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _comparable(value: Any, other: Any) -> tuple[Any, Any]:
    if isinstance(other, bool) or isinstance(value, bool):
        return value, other
    if (
        isinstance(value, str)
        and isinstance(other, str)
        and DATE.match(value)
        and DATE.match(other)
        and ("T" in value or "T" in other)
    ):
        left, right = moment(value), moment(other)
        if left is not None and right is not None:
            return left, right  # instants compare across UTC offsets
    try:
        amount, compared = Decimal(str(value)), Decimal(str(other))
    except (InvalidOperation, ValueError):
        return str(value).casefold(), str(other).casefold()
    if amount.is_finite() and not compared.is_finite():  # an amount compared with 'NaN'
        raise QueryError(f"{str(other)[:20]!r} is not a number a query can compare", "4002")
    if amount.is_finite():
        return amount, compared
    return str(value).casefold(), str(other).casefold()


def like(value: Any, pattern: str) -> bool:
    """`%` matches any run of characters. Greedy leftmost search for each piece between
    wildcards is exact for this pattern language and linear in the text, where a regex
    of many `.*` backtracks polynomially."""
    text, parts = str(value).casefold(), pattern.casefold().split("%")
    if len(parts) == 1:
        return text == parts[0]
    first, *middle, last = parts
    if not text.startswith(first) or len(text) < len(first) + len(last):
        return False
    position, end = len(first), len(text) - len(last)
    for piece in middle:
        found = text.find(piece, position, end)
        if found < 0:
            return False
        position = found + len(piece)
    return text.endswith(last)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def matches(record: Mapping[str, Any], condition: Condition) -> bool:
    value = field_value(record, condition.field)
    if value is None:
        return False
    if condition.op == "LIKE":
        return like(value, str(condition.values[0]))
    if condition.op == "IN":
        return any(_equal(value, v) for v in condition.values)
    left, right = _comparable(value, condition.values[0])
    try:
        return _COMPARE[condition.op](left, right)
    except (TypeError, ArithmeticError):  # ArithmeticError: a 'NaN' amount compared
        raise QueryError(f"cannot compare {condition.field} with that value", "4002") from None


def _equal(value: Any, other: Any) -> bool:
    left, right = _comparable(value, other)
    return bool(left == right)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    try:
        return (1, Decimal(str(value)))
    except InvalidOperation:
        return (2, str(value).casefold())


def _order_key(name: str) -> Callable[[Mapping[str, Any]], tuple[int, Any]]:
    return lambda record: _sort_key(field_value(record, name))


def run(query: Query, records: Iterable[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], int]:
    """(the page of records, the total count) for a parsed query."""
    selected = [r for r in records if all(matches(r, c) for c in query.where)]
    for name, descending in reversed(query.order):
        selected.sort(key=_order_key(name), reverse=descending)
    first = query.start - 1
    return selected[first : first + query.limit], len(selected)
