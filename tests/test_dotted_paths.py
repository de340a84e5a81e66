"""Dotted paths in records: one reading and one writing, shared by the sync and the file
bridge's sheets."""

from __future__ import annotations

from collections import OrderedDict
from types import MappingProxyType
from typing import Any

import pytest

from tpsqbo_engine.connectors.tps import sheetreading, sheetwriting
from tpsqbo_engine.dotted import get_path, put_path
from tpsqbo_engine.sync import compare, planned_writes, undo_compare


def test_sync_and_sheets_use_the_same_functions() -> None:
    assert compare.get_path is get_path and undo_compare.get_path is get_path
    assert planned_writes._get is get_path and planned_writes._put is put_path
    assert sheetreading.put_path is put_path
    assert sheetwriting.get_path is get_path


def test_get_path_reads_nested_values() -> None:
    record = {"BillAddr": {"City": "Ely", "Geo": {"Lat": "1"}}, "Name": "Alder"}
    assert get_path(record, "Name") == "Alder"
    assert get_path(record, "BillAddr.City") == "Ely"
    assert get_path(record, "BillAddr.Geo.Lat") == "1"
    assert get_path(record, "BillAddr") == {"City": "Ely", "Geo": {"Lat": "1"}}


def test_get_path_gives_none_for_missing_parts() -> None:
    record: dict[str, Any] = {"BillAddr": {"City": "Ely"}, "Empty": None}
    assert get_path(record, "Missing") is None
    assert get_path(record, "Missing.City") is None
    assert get_path(record, "BillAddr.Zip") is None
    assert get_path(record, "Empty.City") is None


def test_get_path_does_not_look_into_lists_or_scalars() -> None:
    record = {"Line": [{"Amount": "5"}], "Name": "Alder", "0": {"x": 1}}
    assert get_path(record, "Line.0") is None
    assert get_path(record, "Line.0.Amount") is None
    assert get_path(record, "Name.upper") is None


def test_get_path_reads_any_mapping() -> None:
    record = MappingProxyType({"a": MappingProxyType({"b": 2})})
    assert get_path(record, "a.b") == 2


def test_put_path_makes_missing_parents() -> None:
    record: dict[str, Any] = {}
    put_path(record, "BillAddr.Geo.Lat", "1")
    put_path(record, "BillAddr.City", "Ely")
    put_path(record, "Name", "Alder")
    assert record == {"BillAddr": {"Geo": {"Lat": "1"}, "City": "Ely"}, "Name": "Alder"}


def test_put_path_keeps_existing_parents_and_replaces_the_leaf() -> None:
    inner = OrderedDict(City="Ely", Zip="1")
    record: dict[str, Any] = {"BillAddr": inner}
    put_path(record, "BillAddr.City", "Ware")
    assert record["BillAddr"] is inner
    assert inner == {"City": "Ware", "Zip": "1"}
    put_path(record, "BillAddr", "flat")
    assert record == {"BillAddr": "flat"}


@pytest.mark.parametrize("held", [None, "text", ["a"]])
def test_put_path_never_replaces_a_parent_that_is_not_a_mapping(held: Any) -> None:
    record: dict[str, Any] = {"BillAddr": held}
    with pytest.raises((AttributeError, TypeError)):
        put_path(record, "BillAddr.City", "Ely")
    assert record == {"BillAddr": held}
