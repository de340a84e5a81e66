"""Entity shapes: the TPS and QBO JSON Schemas, read as types for checking field references.

`Shape` wraps one schema node with the resolver it was found through, so `$ref`s inside the
entity schemas (`common.json#/$defs/Ref`) follow naturally. `ANY` stands for values whose
shape the checker cannot know (a filter result, a literal dict); nothing under it is checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

if TYPE_CHECKING:
    from referencing._core import Resolver

from referencing.jsonschema import DRAFT202012

from tpsqbo_engine import resources

SYSTEMS = ("tps", "qbo")


_PROPERTIES: dict[int, tuple[Any, dict[str, Shape]]] = {}


@dataclass(frozen=True)
class Shape:
    node: Mapping[str, Any] | None
    resolver: Resolver[Any] | None = field(default=None, compare=False, repr=False)
    label: str = "value"

    @property
    def known(self) -> bool:
        return self.node is not None

    def _resolved(self) -> Shape:
        shape = self
        for _ in range(16):
            node = shape.node
            if node is None or "$ref" not in node or shape.resolver is None:
                return shape
            resolved = shape.resolver.lookup(node["$ref"])
            shape = Shape(resolved.contents, resolved.resolver, shape.label)
        return shape

    def properties(self) -> dict[str, Shape]:
        # Called for every field of every record the sync reads: resolving `$ref`s each
        # time would dominate a run, and schema nodes never change once loaded.
        cached = _PROPERTIES.get(id(self.node))
        if cached is not None and cached[0] is self.node:
            return cached[1]
        resolved = self._resolved()
        props = resolved.node.get("properties", {}) if resolved.node is not None else {}
        result = {name: Shape(sub, resolved.resolver, name) for name, sub in props.items()}
        _PROPERTIES[id(self.node)] = (self.node, result)  # holding the node keeps its id unique
        return result

    def attribute(self, name: str) -> Shape | None:
        """The shape of `.name`, ANY when this shape is unknown, None when `name` does not exist."""
        if not self.known:
            return ANY
        props = self.properties()
        if name in props:
            return props[name]
        if self.json_types() & {"object"} and not props:
            return ANY  # a free-form object: nothing declared, nothing to check
        return None

    def item(self) -> Shape:
        resolved = self._resolved()
        node = resolved.node
        if node is None or "items" not in node:
            return ANY
        return Shape(node["items"], resolved.resolver, f"{self.label}[]")

    def json_types(self) -> set[str]:
        node = self._resolved().node
        if node is None:
            return set()
        declared = node.get("type")
        if isinstance(declared, str):
            return {declared}
        if isinstance(declared, list):
            return set(declared)
        if "properties" in node:
            return {"object"}
        return set()

    def is_array(self) -> bool:
        return "array" in self.json_types()

    def resolved_node(self) -> Mapping[str, Any] | None:
        return self._resolved().node

    def is_date(self) -> bool:
        node = self._resolved().node
        return node is not None and node.get("format") in ("date", "date-time")


ANY = Shape(None)


def scalar_shape(type_name: str) -> Shape:
    """A shape for a context variable declared by name (`string`, `number?`, ...)."""
    nullable = type_name.endswith("?")
    base = type_name.rstrip("?")
    json_type = {"money": "string", "date": "string", "ref": "object"}.get(base, base)
    types: list[str] = [json_type, "null"] if nullable else [json_type]
    node: dict[str, Any] = {"type": types}
    if base == "date":
        node["format"] = "date"
    return Shape(node, label=type_name)


@dataclass(frozen=True)
class EntityCatalog:
    """Every entity schema under schemas/tps and schemas/qbo, by name (`tps.Client`)."""

    shapes: Mapping[str, Shape]
    definitions: Mapping[str, Shape]
    registry: Registry[Any] = field(default_factory=Registry, repr=False)
    uris: Mapping[str, str] = field(default_factory=dict, repr=False)

    def get(self, name: str) -> Shape | None:
        return self.shapes.get(name)

    def names(self, system: str | None = None) -> list[str]:
        return sorted(n for n in self.shapes if system is None or n.startswith(f"{system}."))


def _load_schema(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@cache
def entity_catalog(root: Path | None = None, extra: tuple[Path, ...] = ()) -> EntityCatalog:
    """The engine's entity schemas, plus those of packs (`extra`: their `schemas/` folders).

    A pack's `schemas/tps/Client.json` adds its properties to the engine's tps.Client (a
    firm's custom TPS fields); a name the engine does not have declares a new entity. Either
    way `$ref`s resolve against the engine's schemas (`common.json#/$defs/Money`)."""
    root = root or resources.schemas_dir()
    documents: dict[str, tuple[str, dict[str, Any]]] = {}
    commons: dict[str, tuple[str, dict[str, Any]]] = {}
    for system in SYSTEMS:
        for path in sorted((root / system).glob("*.json")):
            entry = (path.resolve().as_uri(), _load_schema(path))
            if path.stem == "common":
                commons[system] = entry
            else:
                documents[f"{system}.{path.stem}"] = entry
    for folder in extra:
        for system in SYSTEMS:
            for path in sorted((folder / system).glob("*.json")):
                name, added = f"{system}.{path.stem}", _load_schema(path)
                uri, base = documents.get(
                    name, ((root / system / f"{path.stem}.json").resolve().as_uri(), {})
                )
                properties = {**base.get("properties", {}), **added.get("properties", {})}
                documents[name] = (uri, {**base, **added, "properties": properties})
    registry: Registry[Any] = Registry().with_resources(
        (uri, Resource.from_contents(contents, default_specification=DRAFT202012))
        for uri, contents in [*documents.values(), *commons.values()]
    )
    registry = registry.crawl()
    shapes = {
        name: Shape(contents, registry.resolver(uri), name)
        for name, (uri, contents) in documents.items()
    }
    definitions = {
        f"{system}.{name}": Shape(node, registry.resolver(uri), name)
        for system, (uri, contents) in commons.items()
        for name, node in contents.get("$defs", {}).items()
    }
    uris = {name: uri for name, (uri, _) in documents.items()}
    return EntityCatalog(shapes, definitions, registry, uris)


def schema_folders(roots: Iterable[Path]) -> tuple[Path, ...]:
    """The `schemas/` folders of a pack chain, in a stable order."""
    return tuple(sorted(r / "schemas" for r in roots if (r / "schemas").is_dir()))


@cache
def entity_validator(name: str) -> Draft202012Validator:
    """A JSON Schema validator for records of one entity (`tps.Invoice`)."""
    catalog = entity_catalog()
    uri = catalog.uris[name]
    schema = {"$id": uri, **catalog.registry.contents(uri)}
    return Draft202012Validator(
        schema, registry=catalog.registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
