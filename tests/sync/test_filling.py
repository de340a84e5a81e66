"""Reading a record's fields without filling it first gives what the filled record gives."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
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


def _filled_by_the_rule(value: Any, shape: Shape, depth: int = 0) -> Any:
    """What `filled` makes, field by field as its docstring says, without its shortcuts."""
    if depth > MAX_FILL_DEPTH:
        return value
    if isinstance(value, list):
        return [_filled_by_the_rule(element, shape.item(), depth + 1) for element in value]
    props = shape.properties()
    if not props or not (value is None or isinstance(value, Mapping)):
        return value
    out: dict[str, Any] = dict.fromkeys(props)
    for name, found in (value or {}).items():
        sub = props.get(name)
        flat = sub is not None and not sub.properties()
        keep = sub is None or (flat and not isinstance(found, list))
        out[name] = found if keep else _filled_by_the_rule(found, sub, depth + 1)
    for name, sub in props.items():
        if sub.properties() and (value is None or name not in value):
            out[name] = _filled_by_the_rule(None, sub, depth + 1)
    return out


MORE_RECORDS: dict[str, list[Any]] = {
    "tps.Invoice": [
        {"id": "i", "lines": [{"work_code": "A", "extra": [1, 2]}, {"tags": ["x"]}], "x": 1},
        {"id": "j", "taxes": [{"name": "t"}], "lines": [], "custom": {"k": [1]}},
        {"id": "k", "lines": [None, "text", {"amount": 1.5, "when": date(2026, 1, 2)}]},
        {"lines": ({"work_code": "tuple, not a list"},)},
    ],
    "tps.Client": [
        {"address": {"line1": "1", "unknown": [1]}, "name": "A", "zzz": None, "id": "c"},
        {"address": ["a", "list"], "name": ["a", "list"]},
        {"custom": {"address": None}, "address": {}},
    ],
    "qbo.Invoice": [
        {"Line": [{"SalesItemLineDetail": {"ItemRef": None}, "LinkedTxn": [{"TxnId": "1"}]}]},
        {"CustomerRef": "7", "BillAddr": {"Line1": "x"}, "Line": None},
    ],
}


@pytest.mark.parametrize("entity", sorted(RECORDS))
def test_filled_records_are_made_field_by_field_in_the_schemas_order(entity: str) -> None:
    shape = entity_catalog().get(entity)
    assert shape is not None
    for record in [*RECORDS[entity], *MORE_RECORDS.get(entity, [])]:
        # repr: the same values of the same types, in the same order, all the way down
        assert repr(filled(record, shape)) == repr(_filled_by_the_rule(record, shape)), record


_LINE = {"type": "object", "properties": {"code": {"type": "string"}, "tags": {}}}


def test_a_list_of_flat_items_is_filled_item_by_item_as_a_copy() -> None:
    """Items whose fields fill nothing inside (invoice lines) are filled without each value
    being looked at: each item a new dict with its declared fields, a list one holds equal."""
    lines = [{"code": "A", "tags": ["x", "y"], "extra": 1}, {"tags": None}]
    made = filled(lines, Shape({"type": "array", "items": _LINE}))
    assert made == [
        {"code": "A", "tags": ["x", "y"], "extra": 1},
        {"code": None, "tags": None},
    ]
    assert made[0] is not lines[0] and lines[1] == {"tags": None}  # the records unchanged


def test_a_list_in_a_flat_item_whose_items_declare_fields_is_still_filled() -> None:
    line = {
        "type": "object",
        "properties": {
            "code": {"type": "string"},
            "entries": {"type": "array", "items": {"properties": {"hours": {}, "rate": {}}}},
        },
    }
    lines = [{"code": "A", "entries": [{"hours": 2}]}]
    made = filled(lines, Shape({"type": "array", "items": line}))
    assert made == [{"code": "A", "entries": [{"hours": 2, "rate": None}]}]
