"""Rule files are untrusted: load them as plain data, with a source position for every value.

YAML is composed by PyYAML's safe composer (libyaml when present), then turned into plain
Python values here, so that we can
- refuse any tag that is not plain data (`!!python/...` never reaches a constructor),
- refuse alias/anchor expansion bombs by counting expanded nodes (aliases are shared, never
  copied, and the count is checked before anything walks the data),
- refuse duplicate keys, which YAML itself silently resolves to the last one,
- remember the line and column of every value and key by JSON pointer,
- remember which keys of a lookup table are written as booleans or numbers (`UnquotedKey`).
Floats become `Decimal`: rule files carry money.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tpsqbo_engine.problems import Problem

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_EXPANDED_NODES = 200_000
MAX_DEPTH = 64

_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CONSTRUCTOR = yaml.SafeLoader("")

_TAG = "tag:yaml.org,2002:"
_PLAIN_TAGS = {f"{_TAG}{name}" for name in ("str", "int", "float", "bool", "null", "timestamp")}
_MAP, _SEQ, _MERGE = f"{_TAG}map", f"{_TAG}seq", f"{_TAG}merge"
# Where a lookup table's keys are written: its `entries`, or a pack's patch setting them.
_ENTRIES = re.compile(r"(/patches/\d+/set)?/entries")


@dataclass(frozen=True, order=True)
class Position:
    line: int
    column: int


@dataclass(frozen=True)
class SourceDocument:
    """One YAML document of a rule file, as plain data plus where each value came from."""

    path: Path
    display: str
    data: Any
    values: Mapping[str, Position]
    keys: Mapping[str, Position]
    index: int = 0

    def locate(self, pointer: str, *, key: bool = False) -> Position:
        """The position of `pointer`, or of its nearest ancestor that has one."""
        table = self.keys if key else self.values
        while True:
            if pointer in table:
                return table[pointer]
            if key and pointer in self.values:
                return self.values[pointer]
            if not pointer:
                return Position(1, 1)
            pointer = pointer.rsplit("/", 1)[0]

    def data_at(self, pointer: str) -> Any:
        value = self.data
        for token in pointer.split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            value = value[int(token)] if isinstance(value, list) else value[token]
        return value

    def problem(self, pointer: str, code: str, message: str, **extra: Any) -> Problem:
        at = self.locate(pointer, key=extra.pop("at_key", False))
        return Problem(self.display, at.line, at.column, code, message, pointer=pointer, **extra)


class UnquotedKey(str):
    """A key of a lookup table written unquoted that YAML reads as a boolean, a number or
    null (`true:`, `1.50:`): its text as written, and what YAML read (`read`). It is still
    that text to everything else (schemas, pointers, patches); the table tells `1:` from
    `"1":` by it, as YAML does (ruleset/lookup_keys.py)."""

    __slots__ = ("read",)
    read: bool | int | Decimal | None

    def __new__(cls, text: str, read: bool | int | Decimal | None) -> UnquotedKey:
        made = super().__new__(cls, text)
        made.read = read
        return made

    def __reduce__(self) -> tuple[Any, ...]:
        return UnquotedKey, (str(self), self.read)


def unquoted_key(text: str) -> str:
    """`text` as a lookup table's key written unquoted, as a patch's path writes one
    (`entries/1`): an UnquotedKey when YAML reads it as a boolean, a number or null."""
    tag = _CONSTRUCTOR.resolve(ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    if tag not in _PLAIN_TAGS:
        return text
    read = _scalar(ScalarNode(tag, text), "")
    return text if isinstance(read, str) else UnquotedKey(text, read)


def pointer_join(base: str, token: str | int) -> str:
    text = str(token).replace("~", "~0").replace("/", "~1")
    return f"{base}/{text}"


class _Reject(Exception):
    def __init__(self, pointer: str, at: Position, code: str, message: str, hint: str = ""):
        super().__init__(message)
        self.pointer, self.at, self.code, self.message, self.hint = pointer, at, code, message, hint


def _position(node: Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


@dataclass
class _Builder:
    values: dict[str, Position] = field(default_factory=dict)
    keys: dict[str, Position] = field(default_factory=dict)
    built: dict[int, tuple[Any, int]] = field(default_factory=dict)
    expanded: int = 0

    def build(self, node: Node, pointer: str, depth: int) -> Any:
        if id(node) in self.built:
            value, size = self.built[id(node)]
            self._count(size, pointer, node)
            return value
        if depth > MAX_DEPTH:
            raise _Reject(
                pointer,
                _position(node),
                "yaml.too-deep",
                f"nesting deeper than {MAX_DEPTH} levels",
                "flatten the structure; rule files never need this depth",
            )
        self.values[pointer] = _position(node)
        before = self.expanded
        self._count(1, pointer, node)
        value = self._build_new(node, pointer, depth)
        self.built[id(node)] = (value, self.expanded - before)
        return value

    def _count(self, size: int, pointer: str, node: Node) -> None:
        self.expanded += size
        if self.expanded > MAX_EXPANDED_NODES:
            at = self.keys.get(pointer) or self.values.get(pointer) or _position(node)
            raise _Reject(
                pointer,
                at,
                "yaml.alias-expansion",
                f"aliases expand this document past {MAX_EXPANDED_NODES:,} values",
                "write the values out, or use fewer nested aliases",
            )

    def _build_new(self, node: Node, pointer: str, depth: int) -> Any:
        if isinstance(node, ScalarNode):
            return _scalar(node, pointer)
        if isinstance(node, SequenceNode):
            _require_tag(node, _SEQ, pointer)
            return [
                self.build(item, pointer_join(pointer, i), depth + 1)
                for i, item in enumerate(node.value)
            ]
        if isinstance(node, MappingNode):
            _require_tag(node, _MAP, pointer)
            return self._mapping(node, pointer, depth)
        raise _Reject(pointer, _position(node), "yaml.unsupported", "unsupported YAML node")

    def _mapping(self, node: MappingNode, pointer: str, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.update(self._merge_source(value_node, pointer, depth))
                continue
            key = self._key(key_node, pointer)
            child = pointer_join(pointer, key)
            if key in result:
                first = self.keys[child]
                raise _Reject(
                    child,
                    _position(key_node),
                    "yaml.duplicate-key",
                    f"key '{key}' appears twice in this mapping",
                    f"the first '{key}' is at line {first.line}; keep one",
                )
            self.keys[child] = _position(key_node)
            result[key] = self.build(value_node, child, depth + 1)
        # a key written here replaces a merged one, spelt as written here (`"1"` over `1`)
        return {**{k: v for k, v in merged.items() if k not in result}, **result}

    def _merge_source(self, node: Node, pointer: str, depth: int) -> dict[str, Any]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: dict[str, Any] = {}
        for source in reversed(sources):
            value = self.build(source, pointer, depth + 1)
            if not isinstance(value, dict):
                raise _Reject(
                    pointer,
                    _position(source),
                    "yaml.bad-merge",
                    "a merge key (<<) must point at a mapping",
                )
            merged.update(value)
        return merged

    def _key(self, node: Node, pointer: str) -> str:
        if not isinstance(node, ScalarNode):
            raise _Reject(
                pointer, _position(node), "yaml.complex-key", "mapping keys must be plain scalars"
            )
        key = _scalar(node, pointer)
        if isinstance(key, str):
            return key
        # A lookup table's `entries` (or a patch setting them) keep what YAML read: `1:` is
        # the number and `"1":` the text. Elsewhere a key is only ever its text.
        return UnquotedKey(node.value, key) if _ENTRIES.fullmatch(pointer) else str(node.value)


def _require_tag(node: Node, tag: str, pointer: str) -> None:
    if node.tag != tag:
        raise _unsafe_tag(node, pointer)


def _unsafe_tag(node: Node, pointer: str) -> _Reject:
    return _Reject(
        pointer,
        _position(node),
        "yaml.unsafe-tag",
        f"the tag '{node.tag.replace(_TAG, '!!')}' is not allowed in rule files",
        "rule files hold plain data: strings, numbers, booleans, lists, mappings",
    )


def _scalar(node: ScalarNode, pointer: str) -> Any:
    if node.tag not in _PLAIN_TAGS:
        raise _unsafe_tag(node, pointer)
    if node.tag.endswith(":timestamp"):
        return node.value  # dates stay text: schemas check their format, models parse them
    if node.tag.endswith(":float"):
        return _decimal(node)
    return _CONSTRUCTOR.construct_object(node)


def _decimal(node: ScalarNode) -> Decimal:
    try:
        return Decimal(node.value.replace("_", ""))
    except InvalidOperation:
        return Decimal(repr(_CONSTRUCTOR.construct_object(node)))


def display_path(path: Path) -> str:
    """Paths in problems are relative to the working directory when they are below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _compose_all(text: str) -> Iterator[Node]:
    loader = _SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                yield node
    finally:
        loader.dispose()


def folders_linked_out(root: Path) -> list[Problem]:
    """Symlinked folders inside a pack that lead outside it: never read, always reported
    (files are checked as they are loaded)."""
    inside = root.resolve()
    found = []
    for folder, subfolders, _ in os.walk(root):
        for name in subfolders:
            link = Path(folder) / name
            if link.is_symlink() and not link.resolve().is_relative_to(inside):
                found.append(
                    Problem(
                        display_path(link),
                        1,
                        1,
                        "pack.symlink-escape",
                        "this folder is a link to somewhere outside the pack's folder",
                        hint="copy what it holds into the pack instead of linking to it",
                    )
                )
    return sorted(found)


def load_file(path: Path, root: Path | None = None) -> tuple[list[SourceDocument], list[Problem]]:
    """Every document of a YAML file, or the problems that stop it from loading. A file of a
    pack (`root`) must really be inside it: a symlink, or a file in a symlinked folder, that
    leads outside is refused like an `extends` or template path that does."""
    shown = display_path(path)
    if root is not None and not path.resolve().is_relative_to(root.resolve()):
        return [], [
            Problem(
                shown,
                1,
                1,
                "pack.symlink-escape",
                "this file is a link to somewhere outside the pack's folder",
                hint="copy the file into the pack instead of linking to it",
            )
        ]
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        return [], [
            Problem(
                shown,
                1,
                1,
                "yaml.too-large",
                f"the file is {size:,} bytes; rule files may be at most {MAX_FILE_BYTES:,}",
                hint="split it into several files",
            )
        ]
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        return [], [
            Problem(
                shown,
                1,
                1,
                "yaml.encoding",
                f"the file is not UTF-8 (byte {exc.start})",
                hint="save it as UTF-8",
            )
        ]
    return load_text(text, path, shown)


def load_text(text: str, path: Path, shown: str) -> tuple[list[SourceDocument], list[Problem]]:
    documents: list[SourceDocument] = []
    try:
        for index, node in enumerate(_compose_all(text)):
            builder = _Builder()
            data = builder.build(node, "", 0)
            documents.append(SourceDocument(path, shown, data, builder.values, builder.keys, index))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"{exc.context + ': ' if exc.context else ''}{exc.problem or 'invalid YAML'}"
        return [], [
            Problem(
                shown,
                line,
                column,
                "yaml.syntax",
                message,
                hint="check indentation and quoting around this position",
            )
        ]
    except yaml.YAMLError as exc:
        return [], [Problem(shown, 1, 1, "yaml.syntax", str(exc).splitlines()[0])]
    except _Reject as exc:
        return [], [
            Problem(
                shown,
                exc.at.line,
                exc.at.column,
                exc.code,
                exc.message,
                pointer=exc.pointer,
                hint=exc.hint,
            )
        ]
    return documents, []
