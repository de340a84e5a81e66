"""Indexes on the fields clients look records up by, so that a query naming one of them
reads the few records it can match instead of the whole table.

An index only narrows: every candidate it gives is still judged by the query's own
conditions, so it may return too many records but never too few. To keep that promise a key
is made the way the query compares: numbers by value, text case-folded, moments as instants.
Ranges are served for dates and moments only, where text order is the query's order.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tpsqbo_engine.emulators.qbo.query import DATE, Condition, field_value, moment

LOOKUP_FIELDS = (
    "DocNumber",
    "DisplayName",
    "Name",
    "Sku",
    "PrimaryEmailAddr",
    "CustomerRef",
    "TxnDate",
    "MetaData.LastUpdatedTime",
)
_FOLDED = {name.casefold(): name for name in LOOKUP_FIELDS}
_MOMENTS = frozenset({"MetaData.LastUpdatedTime"})
_DATES = frozenset({"TxnDate"})
_RANGE_OPS = frozenset({"<", ">", "<=", ">="})
Key = Any  # str, or datetime for moments


def _key(name: str, value: Any) -> Key | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    if name in _MOMENTS:
        return moment(str(value))
    text = str(value)
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text.casefold()
    return format(number.normalize(), "f") if number.is_finite() else text.casefold()


@dataclass
class _Index:
    ids: dict[Key, set[str]] = field(default_factory=dict)
    _order: list[Key] | None = None  # sorted keys, rebuilt after a change when a range asks

    def add(self, key: Key, ident: str) -> None:
        if key not in self.ids:
            self._order = None
        self.ids.setdefault(key, set()).add(ident)

    def discard(self, key: Key, ident: str) -> None:
        held = self.ids.get(key)
        if held is not None:
            held.discard(ident)
            if not held:
                del self.ids[key]
                self._order = None

    def equal(self, keys: Iterable[Key]) -> set[str]:
        found: set[str] = set()
        for key in keys:
            found |= self.ids.get(key, set())
        return found

    def between(self, op: str, key: Key) -> set[str]:
        if self._order is None:
            self._order = sorted(self.ids)
        order = self._order
        if op in (">", ">="):
            start = (bisect.bisect_right if op == ">" else bisect.bisect_left)(order, key)
            chosen = order[start:]
        else:
            stop = (bisect.bisect_left if op == "<" else bisect.bisect_right)(order, key)
            chosen = order[:stop]
        return self.equal(chosen)


@dataclass
class FieldIndexes:
    tables: dict[str, dict[str, _Index]] = field(default_factory=dict)

    def replace(self, entity: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        indexes = self.tables.setdefault(entity, {})
        for name in LOOKUP_FIELDS:
            before = _key(name, field_value(old, name)) if old is not None else None
            after = _key(name, field_value(new, name)) if new is not None else None
            if before == after and old is not None and new is not None:
                continue
            index = indexes.setdefault(name, _Index())
            if old is not None and before is not None:
                index.discard(before, old["Id"])
            if new is not None and after is not None:
                index.add(after, new["Id"])

    def candidates(self, entity: str, where: Iterable[Condition]) -> set[str] | None:
        """The ids an indexed condition allows, or None when no condition is indexed."""
        best: set[str] | None = None
        for condition in where:
            found = self._match(entity, condition)
            if found is not None and (best is None or len(found) < len(best)):
                best = found
        return best

    def _match(self, entity: str, condition: Condition) -> set[str] | None:
        name = _FOLDED.get(condition.field.casefold())
        index = self.tables.get(entity, {}).get(name or "")
        if name is None or index is None:
            return None
        keys = [_key(name, value) for value in condition.values]
        if any(key is None for key in keys):
            return None
        if condition.op in ("=", "IN"):
            return index.equal(keys)
        if condition.op not in _RANGE_OPS or not self._rangeable(name, condition.values[0]):
            return None
        return index.between(condition.op, keys[0])

    @staticmethod
    def _rangeable(name: str, value: Any) -> bool:
        text = str(value)
        if name in _DATES:
            return bool(DATE.match(text)) and len(text) == 10
        return name in _MOMENTS and isinstance(moment(text), datetime)
