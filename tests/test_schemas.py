"""The schemas themselves: valid Draft 2020-12, and documented for editors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tpsqbo_engine import resources

SCHEMAS = sorted(resources.schemas_dir().rglob("*.json"))
RULE_SCHEMAS = [p for p in SCHEMAS if p.parent.name == "rules" and p.stem != "rule.schema"]


def _properties(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        for name, prop in node.get("properties", {}).items():
            yield f"{where}/{name}", prop
        for key, value in node.items():
            yield from _properties(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _properties(item, f"{where}/{i}")


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_schema_is_valid(path: Path) -> None:
    Draft202012Validator.check_schema(json.loads(path.read_text()))


@pytest.mark.parametrize(
    "path",
    [p for p in SCHEMAS if p.parent.name != "rules"] + RULE_SCHEMAS,
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_every_property_has_a_description_and_an_example(path: Path) -> None:
    schema = json.loads(path.read_text())
    missing = [
        where
        for where, prop in _properties(schema)
        if "description" not in prop or not prop.get("examples")
    ]
    assert missing == []


def test_examples_are_valid_for_their_property() -> None:
    for path in RULE_SCHEMAS:
        schema = json.loads(path.read_text())
        for where, prop in _properties(schema):
            if "$ref" in prop or "oneOf" in prop:
                continue
            for example in prop.get("examples", []):
                errors = list(
                    Draft202012Validator(
                        {
                            k: v
                            for k, v in prop.items()
                            if k not in ("items", "additionalProperties")
                        }
                    ).iter_errors(example)
                )
                assert errors == [], f"{path.name}{where}"


def test_every_kind_has_a_schema_and_the_editor_schema_names_them_all() -> None:
    dispatch = json.loads((resources.schemas_dir() / "rules" / "rule.schema.json").read_text())
    kinds = dispatch["properties"]["kind"]["enum"]
    assert sorted(p.name.removesuffix(".schema.json") for p in RULE_SCHEMAS) == sorted(kinds)
