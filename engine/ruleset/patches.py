"""Changing inherited documents without copying them: `patches:` and `disable:` of a pack.

A patch names a document (`clients`, or `mapping/clients` when an id is used by several
kinds) and changes it: `set` a value at a path, `remove` a path, `add` entries to a list.
Paths are slash-separated (`fields/DisplayName`, `rules/qbo-deposits/ongoing`); in a list
of items that have an `id`, a segment picks the item by id, otherwise by position.

The patched document remembers, for every value, the file and position it came from, so a
mistake inside a patch is reported at the patch in pack.yaml and the rest at the original.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tpsqbo_engine.problems import Problem
from tpsqbo_engine.ruleset.source import Position, SourceDocument, pointer_join, unquoted_key

Origin = tuple[SourceDocument, str]


@dataclass(frozen=True)
class PatchedDocument(SourceDocument):
    """A document after patches: `origins` maps each pointer to where its value was written."""

    origins: Mapping[str, Origin] = field(default_factory=dict)

    def origin(self, pointer: str) -> Origin:
        probe = pointer
        while True:
            if probe in self.origins:
                source, at = self.origins[probe]
                return source, at + pointer[len(probe) :]
            if not probe:
                return self, pointer
            probe = probe.rsplit("/", 1)[0]

    def locate(self, pointer: str, *, key: bool = False) -> Position:
        source, at = self.origin(pointer)
        if source is self:
            return super().locate(pointer, key=key)
        return source.locate(at, key=key)

    def problem(self, pointer: str, code: str, message: str, **extra: Any) -> Problem:
        source, at = self.origin(pointer)
        if source is self:
            return super().problem(pointer, code, message, **extra)
        found = source.problem(at, code, message, **extra)
        return Problem(
            found.file,
            found.line,
            found.column,
            found.code,
            found.message,
            pointer=pointer,
            level=found.level,
            hint=found.hint,
        )


def where(source: SourceDocument, pointer: str) -> tuple[str, Position]:
    """(file as shown, position) of the value at `pointer`, following patches."""
    if isinstance(source, PatchedDocument):
        origin, at = source.origin(pointer)
        if origin is not source:
            return where(origin, at)
    return source.display, source.locate(pointer)


class PatchError(Exception):
    def __init__(self, pointer: str, code: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.pointer, self.code, self.message, self.hint = pointer, code, message, hint


def split_path(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.strip("/").split("/") if p]


class _Tree:
    """The document's data with the origin of every container and value, kept in step."""

    def __init__(self, source: SourceDocument) -> None:
        self.data = unshared(source.data)
        self.origin = self._index(self.data, source, "")

    @staticmethod
    def _index(value: Any, source: SourceDocument, pointer: str) -> Any:
        """A parallel tree of origins: dict/list of children, or (source, pointer) at leaves."""
        node: dict[str, Any] = {"@": (source, pointer)}
        if isinstance(value, dict):
            node["#"] = {
                k: _Tree._index(v, source, pointer_join(pointer, k)) for k, v in value.items()
            }
        elif isinstance(value, list):
            node["#"] = [
                _Tree._index(v, source, pointer_join(pointer, i)) for i, v in enumerate(value)
            ]
        return node

    def walk(self, segments: list[str], *, create: Origin | None) -> tuple[Any, Any, str | int]:
        """(container, its origin node, key) for the last segment."""
        container, node = self.data, self.origin
        for depth, segment in enumerate(segments):
            key = _key(container, segment, "/".join(segments[: depth + 1]))
            if depth == len(segments) - 1:
                if segments[:-1] == ["entries"] and key not in container:
                    key = unquoted_key(segment)  # `entries/1`: the key 1, as `1:` would be
                return container, node, key
            if isinstance(container, dict) and key not in container:
                if create is None:
                    raise PatchError("", "pack.patch-unmatched", f"no '{segment}' to change")
                container[key] = {}
                node["#"][key] = {"@": create, "#": {}}
            container, node = container[key], node["#"][key]
        raise PatchError("", "pack.patch-unmatched", "an empty path changes nothing")

    def origins(self) -> dict[str, Origin]:
        out: dict[str, Origin] = {}

        def visit(node: Any, pointer: str) -> None:
            out[pointer] = node["@"]
            children = node.get("#")
            if isinstance(children, dict):
                for k, child in children.items():
                    visit(child, pointer_join(pointer, k))
            elif isinstance(children, list):
                for i, child in enumerate(children):
                    visit(child, pointer_join(pointer, i))

        visit(self.origin, "")
        return out


def unshared(value: Any) -> Any:
    """A copy in which every dict and list is its own. YAML aliases share one container
    between several paths (source.py builds them once), and `copy.deepcopy` keeps that
    sharing, so a patch of one path would change every path the anchor is used at. The
    alias budget of source.py bounds the expanded size, so this copy is bounded too."""
    if isinstance(value, dict):
        return {k: unshared(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unshared(v) for v in value]
    return value  # scalars (str, Decimal, bool, None) are immutable


def _key(container: Any, segment: str, path: str) -> str | int:
    if isinstance(container, dict):
        return segment
    if isinstance(container, list):
        for index, item in enumerate(container):
            if isinstance(item, dict) and str(item.get("id")) == segment:
                return index
        if segment.isdigit() and int(segment) < len(container):
            return int(segment)
        ids = [str(i["id"]) for i in container if isinstance(i, dict) and "id" in i]
        raise PatchError(
            "",
            "pack.patch-unmatched",
            f"'{path}' matches no item of the list",
            f"items: {', '.join(ids)}" if ids else f"the list has {len(container)} items",
        )
    raise PatchError("", "pack.patch-unmatched", f"'{path}' goes inside a plain value")


@dataclass(frozen=True)
class Patch:
    """One entry of a pack's `patches:`, with the pack document it was written in."""

    pack: SourceDocument
    pointer: str
    data: Mapping[str, Any]

    def steps(self) -> Iterator[tuple[str, str, Any, str]]:
        """(operation, path, value, pointer of the value in pack.yaml)."""
        for op in ("remove", "set", "add"):
            entries = self.data.get(op)
            if op == "remove":
                for i, path in enumerate(entries or []):
                    yield op, str(path), None, f"{self.pointer}/remove/{i}"
                continue
            for path, value in (entries or {}).items():
                yield op, str(path), value, pointer_join(f"{self.pointer}/{op}", path)


def apply_patch(target: SourceDocument, patch: Patch) -> tuple[SourceDocument, list[Problem]]:
    tree = _Tree(target)
    problems: list[Problem] = []
    for op, path, value, at in patch.steps():
        try:
            _apply_step(tree, op, split_path(path), value, patch.pack, at)
        except PatchError as exc:
            problems.append(
                patch.pack.problem(
                    at,
                    exc.code,
                    f"{op} '{path}': {exc.message}",
                    hint=exc.hint or "check the path against the document being patched",
                    at_key=op != "remove",
                )
            )
    patched = PatchedDocument(
        target.path,
        target.display,
        tree.data,
        target.values,
        target.keys,
        target.index,
        origins=tree.origins(),
    )
    return patched, problems


def _apply_step(
    tree: _Tree, op: str, segments: list[str], value: Any, pack: SourceDocument, at: str
) -> None:
    if segments[:1] in (["kind"], ["id"]):
        raise PatchError("", "pack.patch-invalid", "a patch cannot change a document's kind or id")
    container, node, key = tree.walk(segments, create=None if op == "remove" else (pack, at))
    children = node["#"]
    if op == "remove":
        if isinstance(container, dict) and key not in container:
            raise PatchError("", "pack.patch-unmatched", "there is nothing at this path")
        del container[key]
        del children[key]
        return
    if op == "set":
        if isinstance(container, list) and not isinstance(key, int):
            raise PatchError("", "pack.patch-unmatched", "no such item")
        container[key] = unshared(value)
        children[key] = _Tree._index(value, pack, at)
        return
    # add: append entries to the list at the path
    if isinstance(container, dict) and key not in container:
        container[key] = []
        children[key] = {"@": (pack, at), "#": []}
    target = container[key]
    if not isinstance(target, list):
        raise PatchError(
            "", "pack.patch-invalid", "add appends to a list; this is not one", "use set"
        )
    items = value if isinstance(value, list) else [value]
    ids = {str(i.get("id")) for i in target if isinstance(i, dict) and "id" in i}
    for i, item in enumerate(items):
        if isinstance(item, dict) and "id" in item and str(item["id"]) in ids:
            raise PatchError(
                "",
                "pack.patch-duplicate",
                f"the list already has an item with id '{item['id']}'",
                f"change it with set: {{'{'/'.join(segments)}/{item['id']}/...': ...}}",
            )
        target.append(unshared(item))
        item_at = pointer_join(at, i) if isinstance(value, list) else at
        children[key]["#"].append(_Tree._index(item, pack, item_at))
