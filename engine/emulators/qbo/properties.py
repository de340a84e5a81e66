"""What QBO knows about each entity's properties, read from schemas/qbo/*.json, and the
checks it makes with it: unknown or mistyped properties in a write (2010), text longer than
its maximum (2050), a value outside its enumeration (2170), required ones missing on create
(2020), read-only ones dropped, and which properties a query may filter, sort or project on
(4000).

Nothing here names an entity: a new schema file is a new entity with its own checks. The
schemas are compiled once into frozen `Prop` trees, so a check costs a dictionary walk over
the request, not a JSON Schema evaluation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
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
    max_length: int | None = None
    enum: frozenset[str] = frozenset()  # the values QBO accepts, when it lists them
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
    required: tuple[str, ...] = ()

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
        if isinstance(declared, list):  # ["string", "null"]: null is no value anyway
            declared = next((t for t in declared if t != "null"), None)
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
            max_length=node.get("maxLength") if isinstance(node.get("maxLength"), int) else None,
            enum=frozenset(
                str(v) for v in node.get("enum", [node["const"]] if "const" in node else [])
            ),
            filterable=bool(flags.get("filterable", False)),
            sortable=bool(flags.get("sortable", False)),
            operators=frozenset(flags.get("operators", [])),
            required=bool(flags.get("requiredOnCreate", False)),
            extra_field=bool(flags.get("extraField", False)),
            children=children,
            closed=bool(children) and node.get("additionalProperties") is False,
            item=item,
        )


def _choices(node: Mapping[str, Any]) -> frozenset[str]:
    listed = node.get("enum", [node["const"]] if "const" in node else [])
    return frozenset(str(v) for v in listed) if isinstance(listed, list) else frozenset()


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
        required=tuple(n for n, p in root.children.items() if p.required),
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


def too_long(where: str, limit: int, length: int) -> Fault:
    return Fault(
        "2050",
        "String length is either shorter or longer than supported by specification",
        "String length specified does not match the supported length. "
        f"Min:0 Max:{limit} supported. Supplied length:{length}",
        element=where,
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
    if kind == "number" and isinstance(value, int | float | Decimal):
        return True
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return False
    return kind == "number" or number == number.to_integral_value()


class _Refused(Exception):
    """A refusal found deep in a body; the path to it is collected on the way out, so the
    walk over a good body builds no path strings."""

    def __init__(self, fault: Callable[[str], Fault], part: str) -> None:
        super().__init__(part)
        self.fault, self.parts = fault, [part]

    def at(self, part: str) -> _Refused:
        self.parts.append(part)
        return self

    def where(self) -> str:
        parts = self.parts[::-1]
        return parts[0] + "".join(p if p.startswith("[") else f".{p}" for p in parts[1:])


def _enumeration(value: Any, choices: frozenset[str]) -> Callable[[str], Fault]:
    listed = ", ".join(sorted(choices))
    return lambda where: Fault(
        "2170",
        "Invalid Enumeration",
        f"Invalid Enumeration : {str(value)[:40]} is not one of {listed}",
        element=where,
    )


def _check(entity: str, prop: Prop, value: Any) -> None:
    """Raises `_Refused` (its path still to be completed by the callers) for a bad value."""
    if value is None or value == "":  # QBO's reader takes an empty string as no value
        return
    if prop.kind == "object":
        if not isinstance(value, dict):
            raise _Refused(lambda where: _mistyped(where, "object", value), "")
        for name, sub in value.items():
            child = prop.children.get(name)
            if child is None:
                if prop.closed:
                    raise _Refused(lambda where: unrecognized(entity, where), name)
                continue
            try:
                _check(entity, child, sub)
            except _Refused as refused:
                raise refused.at(name) from None
    elif prop.kind == "array":
        if not isinstance(value, list):
            raise _Refused(lambda where: _mistyped(where, "array", value), "")
        if prop.item is not None:
            for index, element in enumerate(value):
                try:
                    _check(entity, prop.item, element)
                except _Refused as refused:
                    raise refused.at(f"[{index}]") from None
    elif not _scalar_ok(prop.kind, value):
        raise _Refused(lambda where: _mistyped(where, prop.kind, value), "")
    elif prop.max_length is not None and isinstance(value, str) and len(value) > prop.max_length:
        limit = prop.max_length
        raise _Refused(lambda where: too_long(where, limit, len(value)), "")
    elif prop.enum and str(value) not in prop.enum:
        raise _Refused(_enumeration(value, prop.enum), "")


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
        try:
            _check(entity, prop, value)
        except _Refused as refused:
            where = refused.at(name).where()
            raise refused.fault(where.removesuffix(".")) from None
        if not prop.read_only or name in KEPT_READ_ONLY:
            kept[name] = value
    if create:
        for name in spec.required:
            if kept.get(name) is None:
                raise Fault(
                    "2020",
                    "Required param missing, need to supply the required value for the API",
                    f"Required parameter {name} is missing in the request",
                    element=name,
                )
    return kept
