"""Reading a record's fields without filling it first gives what the filled record gives."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tpsqbo_engine.exprread import SLOW
from tpsqbo_engine.ruleset.shapes import Shape, entity_catalog
from tpsqbo_engine.sync.filling import MAX_FILL_DEPTH, Fields, filled

RECORDS: dict[str, list[dict[str, Any]]] = {
    "tps.Client": [
        {"id": "c-1", "name": "Acme", "address": {"line1": "1 Main", "extra": {"x": 1}}},
        {"id": "c-2", "name": None, "address": None, "email": "a@b.example"},
        {"id": "c-3", "address": "a text, not an address", "custom": {"k": "v"}},
        {"id": "c-4", "address": {"line1": None, "city": {"odd": "nested"}}},
        {},
    ],
    "tps.Invoice": [
        {
            "id": "inv-1",
            "lines": [{"work_code": "A", "amount": Decimal("1.50")}, {"description": "x"}],
            "taxes": None,
        },
        {"id": "inv-2", "lines": None, "balance": "0"},
        {"id": "inv-3", "lines": "not a list", "status": "void"},
    ],
    "qbo.Invoice": [
        {"Id": "1", "Line": [{"Amount": 5, "SalesItemLineDetail": {"ItemRef": {"value": "9"}}}]},
        {"Id": "2", "CustomerRef": None, "TxnTaxDetail": {"TotalTax": 1}},
        {"Id": "3", "CustomerRef": {"value": "4"}, "BillEmail": {}},
    ],
}


def _paths(shape: Shape, record: Any, depth: int = 0) -> Iterator[tuple[str, ...]]:
    """Every declared path a few levels down, the keys the record has, and keys nobody has."""
    names = set(shape.properties()) | (set(record) if isinstance(record, dict) else set())
    for name in sorted(names | {"undeclared"}):
        yield (name,)
        sub = shape.properties().get(name)
        if sub is not None and depth < 3:
            inner = record.get(name) if isinstance(record, dict) else None
            for rest in _paths(sub, inner, depth + 1):
                yield (name, *rest)


def _plain_read(value: Any, path: tuple[str, ...]) -> Any:
    """The path read from the filled record through plain dicts, or SLOW where it cannot be."""
    for key in path:
        if type(value) is not dict or key not in value:
            return SLOW
        value = value[key]
    return value


@pytest.mark.parametrize("entity", sorted(RECORDS))
def test_reading_a_path_gives_what_the_filled_record_gives(entity: str) -> None:
    shape = entity_catalog().get(entity)
    assert shape is not None
    fields = Fields(shape)
    read = 0
    for record in RECORDS[entity]:
        whole = filled(record, shape)
        for path in _paths(shape, record):
            got = fields.read(record, path[0], path[1:])
            expected = _plain_read(whole, path)
            if got is SLOW:
                continue  # the filled record decides; it must not be a plain read there
            assert got == expected, (entity, record, path)
            assert type(got) is type(expected)
            read += 1
    assert read > 50  # most paths are read without filling


def test_what_only_the_filled_record_can_tell_is_left_to_it() -> None:
    shape = entity_catalog().get("tps.Client")
    assert shape is not None
    fields = Fields(shape)
    record = {"address": "a text", "custom": None}
    assert fields.read(record, "address", ("line1",)) is SLOW  # a text has no lines
    assert fields.read(record, "nobody", ()) is SLOW  # undeclared and absent: Undefined
    assert fields.read(record, "custom", ("k",)) is SLOW  # undeclared None: as it is
    assert fields.read({}, "address", ("line1",)) is None  # declared, absent: empty
    assert fields.read({}, "address", ()) == filled({}, shape)["address"]


def test_records_nested_past_the_fill_depth_are_read_as_they_are() -> None:
    deep: dict[str, Any] = {"properties": {}}
    node = deep
    for _ in range(MAX_FILL_DEPTH + 3):
        inner: dict[str, Any] = {"properties": {}}
        node["properties"]["a"] = inner
        node["properties"]["b"] = {"type": "string"}
        node = inner
    shape = Shape(deep)
    fields = Fields(shape)
    record: dict[str, Any] = {}
    whole = filled(record, shape)
    for length in range(1, MAX_FILL_DEPTH + 3):
        path = ("a",) * length + ("b",)
        got = fields.read(record, path[0], path[1:])
        if got is not SLOW:
            assert got == _plain_read(whole, path), path
