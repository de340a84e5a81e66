"""Layer 3 for mapping documents: their entities and field paths exist, every value
type-checks against the source entity and fits the target field, and a `both` mapping's
fields can flow back (a plain field path, or `one_way`). Kept apart from semantics.py, the
checker the other document kinds share, as template_check and natural_keys are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jinja2.exceptions import TemplateSyntaxError

from tpsqbo_engine import expr
from tpsqbo_engine.problems import Problem
from tpsqbo_engine.ruleset.literals import literal_hint, literal_mismatch
from tpsqbo_engine.ruleset.natural_keys import check_natural_key
from tpsqbo_engine.ruleset.packs import RuleDocument
from tpsqbo_engine.ruleset.schema_check import indentation_hint
from tpsqbo_engine.ruleset.shapes import ANY, Shape
from tpsqbo_engine.ruleset.source import pointer_join
from tpsqbo_engine.ruleset.typecheck import Scope, did_you_mean, plain_path

if TYPE_CHECKING:
    from tpsqbo_engine.ruleset.semantics import _Semantics


def check_mapping(checker: _Semantics, doc: RuleDocument) -> None:
    source = checker.entity(doc, "/source")
    target = checker.entity(doc, "/target")
    if source is None or target is None:
        return
    data: dict[str, Any] = doc.data
    scope = checker.scope(data["source"])
    if "when" in data:
        checker.expression(doc, "/when", scope)
    if "key" in data:
        checker.field_path(doc, "/key", source, data["key"])
    for i, match in enumerate(data.get("match", [])):
        checker.field_path(doc, f"/match/{i}/source", source, match["source"])
        checker.field_path(doc, f"/match/{i}/target", target, match["target"])
    for i, other in enumerate(data.get("depends_on", [])):
        if other not in checker.by_kind.get("mapping", {}):
            checker.report(
                doc,
                f"/depends_on/{i}",
                "rules.unknown-mapping",
                f"no mapping '{other}'",
                did_you_mean(other, checker.ids("mapping")),
            )
    check_natural_key(checker, doc, target)
    both = data["direction"] == "both"
    for name, value in data["fields"].items():
        _mapped_field(checker, doc, pointer_join("/fields", name), name, value, target, scope, both)


def _mapped_field(
    checker: _Semantics,
    doc: RuleDocument,
    pointer: str,
    name: str,
    value: Any,
    target: Shape,
    scope: Scope,
    both: bool,
) -> None:
    field_shape = checker.field_path(doc, pointer, target, name, at_key=True)
    if field_shape is None:
        _misplaced_option(checker, doc, pointer, name)
    if isinstance(value, dict) and "each" in value:
        _each_field(checker, doc, pointer, value, field_shape or ANY, scope, both)
        return
    if isinstance(value, list):
        _fixed_items(checker, doc, pointer, name, value, field_shape or ANY, scope, both)
        return
    one_way = isinstance(value, dict) and bool(value.get("one_way"))
    value_pointer = f"{pointer}/value" if isinstance(value, dict) else pointer
    if isinstance(value, dict) and "conflict" in value and not both:
        checker.report(
            doc,
            f"{pointer}/conflict",
            "mapping.conflict-one-way",
            f"'{name}' has a conflict policy, but the mapping is one-way: nothing flows "
            "back, so there is never a conflict",
            "remove it, or make the mapping `direction: both`",
            at_key=True,
        )
    checker.expression(doc, value_pointer, scope)
    _literal(checker, doc, value_pointer, name, field_shape)
    if both and not one_way and not _invertible(doc.source.data_at(value_pointer)):
        checker.report(
            doc,
            value_pointer,
            "mapping.not-invertible",
            f"'{name}' cannot flow back: its value is not a plain field path",
            "use {{ field }} alone, or write {value: ..., one_way: true} to send it one way",
        )


def _each_field(
    checker: _Semantics,
    doc: RuleDocument,
    pointer: str,
    value: dict[str, Any],
    target: Shape,
    scope: Scope,
    both: bool,
) -> None:
    items = checker.expression(doc, f"{pointer}/each", scope)
    if items.known and not items.is_array():
        checker.report(
            doc,
            f"{pointer}/each",
            "mapping.not-a-list",
            "'each' must give a list",
            "iterate a list field, e.g. {{ lines }}",
        )
    if both and not value.get("one_way"):
        checker.report(
            doc,
            pointer,
            "mapping.not-invertible",
            "a list built with 'each' cannot flow back",
            "add one_way: true",
        )
    inner = scope.with_variables({value["as"]: items.item()})
    item_shape = target.item()
    for name in value["fields"]:
        item_pointer = pointer_join(f"{pointer}/fields", name)
        found = checker.field_path(doc, item_pointer, item_shape, name, at_key=True)
        checker.expression(doc, item_pointer, inner)
        _literal(checker, doc, item_pointer, name, found)


def _fixed_items(
    checker: _Semantics,
    doc: RuleDocument,
    pointer: str,
    name: str,
    items: list[Any],
    target: Shape,
    scope: Scope,
    both: bool,
) -> None:
    if both:
        checker.report(
            doc,
            pointer,
            "mapping.not-invertible",
            f"the list '{name}' cannot flow back",
            "write it as {each: ..., as: ..., fields: ..., one_way: true}",
        )
    for i, item in enumerate(items):
        for field_name in item:
            item_pointer = pointer_join(f"{pointer}/{i}", field_name)
            found = checker.field_path(doc, item_pointer, target.item(), field_name, at_key=True)
            checker.expression(doc, item_pointer, scope)
            _literal(checker, doc, item_pointer, field_name, found)


def _misplaced_option(checker: _Semantics, doc: RuleDocument, pointer: str, name: str) -> None:
    """`when:` indented under `fields:` is valid YAML and a field named 'when'."""
    hint = indentation_hint(doc.source, "/fields", name)
    if hint and checker.problems and checker.problems[-1].pointer == pointer:
        last = checker.problems[-1]
        checker.problems[-1] = Problem(
            last.file,
            last.line,
            last.column,
            last.code,
            last.message,
            level=last.level,
            pointer=last.pointer,
            hint=hint,
        )


def _literal(
    checker: _Semantics, doc: RuleDocument, pointer: str, name: str, shape: Shape | None
) -> None:
    """A literal value (no {{ }}) must fit the target field: `Qty: one` cannot."""
    value = doc.source.data_at(pointer)
    if shape is None or (isinstance(value, str) and expr.is_template(value)):
        return
    wrong = literal_mismatch(value, shape)
    if wrong:
        checker.report(
            doc, pointer, "mapping.wrong-type", f"'{name}' {wrong}", literal_hint(value, shape)
        )


def _invertible(value: Any) -> bool:
    if not isinstance(value, str) or expr.single_expression(value) is None:
        return False
    try:
        return plain_path(expr.parse(value)) is not None
    except TemplateSyntaxError:
        return True  # already reported as expr.syntax; one problem is enough
