"""What QBO knows about each entity's properties, read from schemas/qbo/*.json, and the
checks it makes with it: unknown or mistyped properties in a write (2010), required ones
missing on create (2020), read-only ones dropped, and which properties a query may filter,
sort or project on (4000).

Nothing here names an entity: a new schema file is a new entity with its own checks. The
schemas are compiled once into frozen `Prop` trees, so a check costs a dictionary walk over
the request, not a JSON Schema evaluation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from tpsqbo_engine import resources
from tpsqbo_engine.emulators.qbo.faults import Fault

# The emulator turns the checks off only to measure what they cost (bench/qbo_client.py).
STRICT: ContextVar[bool] = ContextVar("qbo_strict_properties", default=True)

KEPT_READ_ONLY = frozenset({"Id", "SyncToken"})  # read-only, yet how an update names its target
INVALID = "Request has invalid or unsupported property"
_JSON_KINDS = {
    "string": "string",
    "number": "number",
    "integer": "integer",
    "boolean": "boolean",
    "object": "object",
    "array": "array",
}
_JAVA = {
    "string": "java.lang.String",
    "number": "java.math.BigDecimal",
    "integer": "java.lang.Integer",
    "boolean": "java.lang.Boolean",
}


@dataclass(frozen=True)
class Prop:
    name: str
    kind: str  # string, number, integer, boolean, object, array or any
    read_only: bool = False
    filterable: bool = False
    sortable: bool = False
    operators: frozenset[str] = frozenset()
    required: bool = False
    extra_field: bool = False  # queries return it only when named: SELECT *, Sku
    children: Mapping[str, Prop] = field(default_factory=dict)
    closed: bool = False  # unknown children are refused
    item: Prop | None = None

    def child(self, name: str) -> Prop | None:
        """A child by name, case-insensitively, as query property names are."""
        found = self.children.get(name)
        if found is not None:
            return found
        folded = name.casefold()
        return next((p for n, p in self.children.items() if n.casefold() == folded), None)


@dataclass(frozen=True)
class EntitySpec:
    name: str
    kind: str
    operations: frozenset[str]
    cdc: bool
    batch: bool
    root: Prop

    def path(self, dotted: str) -> Prop | None:
        """The property a dotted query name points at (`MetaData.LastUpdatedTime`)."""
        prop: Prop | None = self.root
        for part in dotted.split("."):
            prop = prop.child(part) if prop is not None else None
        return prop

    @property
    def extra_fields(self) -> frozenset[str]:
        return frozenset(n for n, p in self.root.children.items() if p.extra_field)


class _Compiler:
    """Turns one entity schema, with the `$ref`s it makes into common.json, into Props."""

    def __init__(self, folder: Path, document: dict[str, Any]) -> None:
        self.folder = folder
        self.documents: dict[str, dict[str, Any]] = {"": document}

    def resolve(self, node: Mapping[str, Any], doc: str) -> tuple[Mapping[str, Any], str]:
        for _ in range(8):
            ref = node.get("$ref")
            if not isinstance(ref, str):
                break
            target, _, pointer = ref.partition("#")
            doc = target or doc
            if doc not in self.documents:
                self.documents[doc] = json.loads((self.folder / doc).read_text(encoding="utf-8"))
            resolved: Any = self.documents[doc]
            for part in pointer.strip("/").split("/"):
                resolved = resolved[part] if part else resolved
            node = {**resolved, **{k: v for k, v in node.items() if k != "$ref"}}
        return node, doc

    def prop(self, name: str, raw: Mapping[str, Any], doc: str, depth: int = 0) -> Prop:
        node, doc = self.resolve(raw, doc)
        flags = node.get("x-qbo", {})
        declared = node.get("type")
        kind = _JSON_KINDS.get(declared if isinstance(declared, str) else "", "any")
        children: dict[str, Prop] = {}
        if depth < 6 and isinstance(node.get("properties"), dict):
            kind = "object"
            children = {
                n: self.prop(n, sub, doc, depth + 1) for n, sub in node["properties"].items()
            }
        item = None
        if kind == "array" and isinstance(node.get("items"), dict) and depth < 6:
            item = self.prop(f"{name}[]", node["items"], doc, depth + 1)
        return Prop(
            name=name,
            kind=kind,
            read_only=bool(node.get("readOnly", False)),
            filterable=bool(flags.get("filterable", False)),
            sortable=bool(flags.get("sortable", False)),
            operators=frozenset(flags.get("operators", [])),
            required=bool(flags.get("requiredOnCreate", False)),
            extra_field=bool(flags.get("extraField", False)),
            children=children,
            closed=bool(children) and node.get("additionalProperties") is False,
            item=item,
        )


@cache
def entity_spec(entity: str, folder: Path | None = None) -> EntitySpec | None:
    """The compiled schema of an entity, or None when the emulator has no schema for it."""
    folder = folder or resources.schemas_dir() / "qbo"
    path = folder / f"{entity}.json"
    if not path.is_file():
        return None
    document = json.loads(path.read_text(encoding="utf-8"))
    meta = document.get("x-qbo-entity", {})
    root = _Compiler(folder, document).prop(entity, document, "")
    return EntitySpec(
        name=entity,
        kind=str(meta.get("kind", "")),
        operations=frozenset(meta.get("operations", [])),
        cdc=bool(meta.get("cdc", False)),
        batch=bool(meta.get("batch", False)),
        root=root,
    )


# Writes ---------------------------------------------------------------------------------


def unrecognized(entity: str, name: str) -> Fault:
    return Fault(
        "2010",
        INVALID,
        f'Property Name:Unrecognized field "{name}" (class '
        f"com.intuit.schema.finance.v3.{entity}), not marked as ignorable "
        "specified is unsupported or invalid",
        element=name,
    )


def _mistyped(where: str, expected: str, value: Any) -> Fault:
    token = (
        "START_OBJECT"
        if isinstance(value, dict)
        else "START_ARRAY"
        if isinstance(value, list)
        else None
    )
    java = _JAVA.get(expected, expected)
    shown = (
        f"out of {token} token"
        if token
        else f"from String value '{str(value)[:40]}': not a valid representation"
    )
    return Fault(
        "2010",
        INVALID,
        f"Property Name:Can not deserialize instance of {java} {shown} "
        f"(through reference chain: {where}) specified is unsupported or invalid",
        element=where,
    )


def _scalar_ok(kind: str, value: Any) -> bool:
    """Whether QBO's JSON reader takes `value` for a `kind` property; like Jackson, it reads
    numbers and booleans from strings that spell them."""
    if kind in ("string", "any"):
        return not isinstance(value, dict | list)
    if kind == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if isinstance(value, bool | dict | list):
        return False
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return False
    return kind == "number" or number == number.to_integral_value()


def _check(entity: str, prop: Prop, value: Any, where: str) -> None:
    if value is None or value == "":  # QBO's reader takes an empty string as no value
        return
    if prop.kind == "object":
        if not isinstance(value, dict):
            raise _mistyped(where, "object", value)
        for name, sub in value.items():
            child = prop.children.get(name)
            if child is None:
                if prop.closed:
                    raise unrecognized(entity, f"{where}.{name}")
                continue
            _check(entity, child, sub, f"{where}.{name}")
    elif prop.kind == "array":
        if not isinstance(value, list):
            raise _mistyped(where, "array", value)
        if prop.item is not None:
            for index, element in enumerate(value):
                _check(entity, prop.item, element, f"{where}[{index}]")
    elif not _scalar_ok(prop.kind, value):
        raise _mistyped(where, prop.kind, value)


def check_write(entity: str, body: dict[str, Any], *, create: bool) -> dict[str, Any]:
    """The body as QBO takes it: refused (2010) for unknown or mistyped properties and
    (2020) for required ones missing on create; read-only properties silently dropped."""
    spec = entity_spec(entity)
    if spec is None or not STRICT.get():
        return body
    kept: dict[str, Any] = {}
    for name, value in body.items():
        prop = spec.root.children.get(name)
        if prop is None:
            raise unrecognized(entity, name)
        _check(entity, prop, value, name)
        if not prop.read_only or name in KEPT_READ_ONLY:
            kept[name] = value
    if create:
        for name, prop in spec.root.children.items():
            if prop.required and kept.get(name) is None:
                raise Fault(
                    "2020",
                    "Required param missing, need to supply the required value for the API",
                    f"Required parameter {name} is missing in the request",
                    element=name,
                )
    return kept
