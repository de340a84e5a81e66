"""Names rules use in the other system: what `ref('Account', ...)` looks up, directly or
through a lookup table. `validate --online` checks each against the connected company."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError

from tpsqbo_engine import expr
from tpsqbo_engine.ruleset.packs import RuleDocument
from tpsqbo_engine.ruleset.source import pointer_join


@dataclass(frozen=True)
class NameUse:
    """`name` must exist as a QBO `entity`; written at `pointer` of `doc`."""

    entity: str
    name: str
    doc: RuleDocument
    pointer: str


def _strings(value: Any, pointer: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield value, pointer
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, pointer_join(pointer, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, pointer_join(pointer, index))


def _constants(node: nodes.Node) -> list[str]:
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, nodes.CondExpr):
        return _constants(node.expr1) + (_constants(node.expr2) if node.expr2 else [])
    return []


def _refs(source: str) -> Iterator[tuple[str, nodes.Node]]:
    """(entity, the name argument) of every ref() call with a constant entity."""
    try:
        ast = expr.parse(source)
    except TemplateSyntaxError:
        return
    for call in ast.find_all(nodes.Call):
        if not (isinstance(call.node, nodes.Name) and call.node.name == "ref"):
            continue
        if len(call.args) == 2 and isinstance(call.args[0], nodes.Const):
            yield str(call.args[0].value), call.args[1]


def name_uses(documents: list[RuleDocument]) -> list[NameUse]:
    lookups = {d.id: d for d in documents if d.kind == "lookup" and d.schema_valid}
    uses: dict[tuple[str, str, str, str], NameUse] = {}
    for doc in documents:
        if doc.kind != "mapping" or not doc.schema_valid:
            continue
        for text, pointer in _strings(doc.data.get("fields", {}), "/fields"):
            if not expr.is_template(text):
                continue
            for entity, argument in _refs(text):
                for use in _uses(entity, argument, doc, pointer, lookups):
                    uses.setdefault((use.entity, use.name, use.doc.id, use.pointer), use)
    return list(uses.values())


def _uses(
    entity: str,
    argument: nodes.Node,
    doc: RuleDocument,
    pointer: str,
    lookups: dict[str, RuleDocument],
) -> Iterator[NameUse]:
    for name in _constants(argument):
        yield NameUse(entity, name, doc, pointer)
    call = argument
    if not (isinstance(call, nodes.Call) and isinstance(call.node, nodes.Name)):
        return
    if call.node.name != "lookup" or not call.args or not isinstance(call.args[0], nodes.Const):
        return
    table = lookups.get(str(call.args[0].value))
    if table is None:
        return
    entries: dict[str, Any] = table.data["entries"]  # type: ignore[assignment]
    keys = {str(k) for c in call.args[1:2] for k in _constants(c)}
    for key, value in entries.items():
        if isinstance(value, str) and (not keys or key in keys):
            yield NameUse(entity, value, table, pointer_join("/entries", key))
    if isinstance(table.data.get("default"), str) and not keys:
        yield NameUse(entity, str(table.data["default"]), table, "/default")
