"""Two mappings that write the same target records post everything twice.

Mappings with the same source and target entity are allowed only when their `when:`
conditions provably cannot both hold for one record: each must pin a common field to
values the other rules out (`office == 'Toronto'` / `office == 'Ottawa'`, `status in
['a', 'b']` / `status == 'c'`, `active` / `not active`). Anything the checker cannot prove
disjoint is reported: a rule that double-posts must never validate clean.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError

from tpsqbo_engine import expr
from tpsqbo_engine.ruleset.typecheck import plain_path_of


@dataclass
class Facts:
    """What a condition fixes: field path → values it must be in / must not be."""

    equal: dict[str, set[Any]] = field(default_factory=dict)
    unequal: dict[str, set[Any]] = field(default_factory=dict)

    def must_be(self, path: str, values: set[Any]) -> None:
        known = self.equal.get(path)
        self.equal[path] = values if known is None else known & values


def _constant(node: nodes.Node) -> tuple[bool, set[Any]]:
    if isinstance(node, nodes.Const):
        return True, {node.value}
    if isinstance(node, nodes.List | nodes.Tuple) and all(
        isinstance(i, nodes.Const) for i in node.items
    ):
        return True, {i.value for i in node.items if isinstance(i, nodes.Const)}
    return False, set()


def _conjuncts(node: nodes.Node) -> Iterator[nodes.Node]:
    if isinstance(node, nodes.And):
        yield from _conjuncts(node.left)
        yield from _conjuncts(node.right)
    else:
        yield node


def _learn(facts: Facts, node: nodes.Node) -> None:
    path = plain_path_of(node)
    if path is not None:
        facts.must_be(path, {True})
        return
    if isinstance(node, nodes.Not):
        inner = plain_path_of(node.node)
        if inner is not None:
            facts.must_be(inner, {False, None})
        return
    if not isinstance(node, nodes.Compare) or len(node.ops) != 1:
        return
    left, op = node.expr, node.ops[0]
    path, (constant, values) = plain_path_of(left), _constant(op.expr)
    if path is None or not constant:
        return
    if op.op in ("eq", "in"):
        facts.must_be(path, values)
    elif op.op in ("ne", "notin"):
        facts.unequal.setdefault(path, set()).update(values)


@lru_cache(maxsize=4096)  # every pair of mappings asks; callers only read the facts
def facts_of(when: str | None) -> Facts:
    facts = Facts()
    if not when or not expr.is_template(when) or expr.single_expression(when) is None:
        return facts
    try:
        ast = expr.parse(when)
    except TemplateSyntaxError:
        return facts
    output = ast.body[0] if ast.body else None
    if isinstance(output, nodes.Output) and len(output.nodes) == 1:
        for conjunct in _conjuncts(output.nodes[0]):
            _learn(facts, conjunct)
    return facts


def disjoint(a: str | None, b: str | None) -> bool:
    """True when no record can satisfy both conditions (as far as can be proved)."""
    first, second = facts_of(a), facts_of(b)
    for path, values in first.equal.items():
        if path in second.equal and not values & second.equal[path]:
            return True
        if values and values <= second.unequal.get(path, set()):
            return True
    for path, values in second.equal.items():
        if values and values <= first.unequal.get(path, set()):
            return True
    return False
