"""Layer 3: what the rules mean. References resolve, expressions type-check against the
entity schemas, `both` mappings can flow back, templates exist inside their pack and use only
the variables their context declares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2.exceptions import TemplateSyntaxError

from tpsqbo_engine import expr
from tpsqbo_engine.functions import CHECK_FUNCTIONS
from tpsqbo_engine.problems import Level, Problem
from tpsqbo_engine.ruleset.documents import template_root
from tpsqbo_engine.ruleset.literals import literal_hint, literal_mismatch
from tpsqbo_engine.ruleset.lookup_keys import KeyIndex
from tpsqbo_engine.ruleset.packs import RuleDocument
from tpsqbo_engine.ruleset.patches import where
from tpsqbo_engine.ruleset.schema_check import indentation_hint
from tpsqbo_engine.ruleset.shapes import ANY, EntityCatalog, Shape, scalar_shape
from tpsqbo_engine.ruleset.source import pointer_join
from tpsqbo_engine.ruleset.typecheck import (
    Finding,
    Scope,
    check_value,
    did_you_mean,
    plain_path,
)


def check_semantics(documents: list[RuleDocument], catalog: EntityCatalog) -> list[Problem]:
    by_kind: dict[str, dict[str, RuleDocument]] = {}
    for doc in documents:
        by_kind.setdefault(doc.kind, {})[doc.id] = doc
    checker = _Semantics(catalog, by_kind)
    for doc in documents:
        check = getattr(checker, f"check_{doc.kind}", None)
        if check is not None and doc.schema_valid:
            check(doc)
    check_dependency_cycles(checker)
    check_double_writes(checker)
    return checker.problems


def template_path(doc: RuleDocument) -> tuple[Path, Path]:
    """(the file, the folder it must stay inside) for a template document."""
    return template_root(str(doc.data["file"]), doc.pack_root)


def _path_shape(shape: Shape, path: str) -> tuple[Shape | None, Shape, str]:
    """Follows a dotted path: (its shape or None, the last shape reached, the missing part)."""
    current = shape
    for part in path.split("."):
        nxt = current.attribute(part)
        if nxt is None:
            return None, current, part
        current = nxt
    return current, current, ""


def _invertible(value: Any) -> bool:
    if not isinstance(value, str) or expr.single_expression(value) is None:
        return False
    try:
        return plain_path(expr.parse(value)) is not None
    except TemplateSyntaxError:
        return True  # already reported as expr.syntax; one problem is enough


@dataclass
class _Semantics:
    catalog: EntityCatalog
    by_kind: Mapping[str, Mapping[str, RuleDocument]]
    problems: list[Problem] = field(default_factory=list)
    _lookup_keys: dict[str, tuple[KeyIndex, bool]] | None = None

    # Helpers ------------------------------------------------------------------------------
    def ids(self, kind: str) -> list[str]:
        return sorted(self.by_kind.get(kind, {}))

    def mapping_entities(self) -> dict[str, tuple[str, str]]:
        return {
            mid: (str(d.data.get("source", "")), str(d.data.get("target", "")))
            for mid, d in self.by_kind.get("mapping", {}).items()
        }

    def scope(self, entity: str, variables: Mapping[str, Shape] | None = None) -> Scope:
        shape = self.catalog.get(entity)
        fields = dict(shape.properties()) if shape else {}
        return Scope(
            self.catalog,
            {**fields, **(variables or {})},
            entity.split(".")[0],
            frozenset(self.ids("lookup")),
            self.mapping_entities(),
            self.lookup_keys(),
        )

    def check_scope(self) -> Scope:
        """What a checklist expression sees: the company, its preferences, the phase, and
        the checklist functions (count, exists, query of any QBO entity)."""
        names = {"company": "qbo.CompanyInfo", "preferences": "qbo.Preferences"}
        variables = {k: self.catalog.get(v) or ANY for k, v in names.items()}
        return Scope(
            self.catalog,
            {**variables, "phase": scalar_shape("string")},
            "qbo",
            frozenset(self.ids("lookup")),
            self.mapping_entities(),
            self.lookup_keys(),
            CHECK_FUNCTIONS,
        )

    def lookup_keys(self) -> dict[str, tuple[KeyIndex, bool]]:
        if self._lookup_keys is None:
            self._lookup_keys = {
                lid: (KeyIndex.of(str(k) for k in d.data["entries"]), "default" in d.data)  # type: ignore[attr-defined]
                for lid, d in self.by_kind.get("lookup", {}).items()
                if d.schema_valid
            }
        return self._lookup_keys

    def report(
        self,
        doc: RuleDocument,
        pointer: str,
        code: str,
        message: str,
        hint: str = "",
        *,
        at_key: bool = False,
    ) -> None:
        self.problems.append(doc.source.problem(pointer, code, message, hint=hint, at_key=at_key))

    def entity(self, doc: RuleDocument, pointer: str) -> Shape | None:
        name = str(doc.source.data_at(pointer))
        shape = self.catalog.get(name)
        if shape is None:
            self.report(
                doc,
                pointer,
                "rules.unknown-entity",
                f"no entity '{name}'",
                did_you_mean(name, self.catalog.names())
                or f"known: {', '.join(self.catalog.names())}",
            )
        return shape

    def findings(self, doc: RuleDocument, pointer: str, findings: tuple[Finding, ...]) -> None:
        display, at = where(doc.source, pointer)
        for f in findings:
            column = at.column if f.lineno == 1 else 1
            self.problems.append(
                Problem(
                    display,
                    at.line + f.lineno - 1,
                    column,
                    f.code,
                    f.message,
                    pointer=pointer,
                    hint=f.hint,
                    level=Level(f.level),
                )
            )

    def expression(self, doc: RuleDocument, pointer: str, scope: Scope) -> Shape:
        value = doc.source.data_at(pointer)
        if not isinstance(value, str) or not expr.is_template(value):
            return ANY
        checked = check_value(value, scope)
        self.findings(doc, pointer, checked.findings)
        return checked.shape

    def field_path(
        self, doc: RuleDocument, pointer: str, shape: Shape, path: str, *, at_key: bool = False
    ) -> Shape | None:
        found, last, missing = _path_shape(shape, path)
        if found is None:
            choices = sorted(last.properties())
            self.report(
                doc,
                pointer,
                "rules.unknown-field",
                f"'{shape.label}' has no field '{path}'",
                did_you_mean(missing, choices) or f"fields: {', '.join(choices[:15])}",
                at_key=at_key,
            )
        return found

    # Mappings -----------------------------------------------------------------------------
    def check_mapping(self, doc: RuleDocument) -> None:
        source = self.entity(doc, "/source")
        target = self.entity(doc, "/target")
        if source is None or target is None:
            return
        data: dict[str, Any] = doc.data
        scope = self.scope(data["source"])
        if "when" in data:
            self.expression(doc, "/when", scope)
        if "key" in data:
            self.field_path(doc, "/key", source, data["key"])
        for i, match in enumerate(data.get("match", [])):
            self.field_path(doc, f"/match/{i}/source", source, match["source"])
            self.field_path(doc, f"/match/{i}/target", target, match["target"])
        for i, other in enumerate(data.get("depends_on", [])):
            if other not in self.by_kind.get("mapping", {}):
                self.report(
                    doc,
                    f"/depends_on/{i}",
                    "rules.unknown-mapping",
                    f"no mapping '{other}'",
                    did_you_mean(other, self.ids("mapping")),
                )
        check_natural_key(self, doc, target)
        both = data["direction"] == "both"
        for name, value in data["fields"].items():
            self.mapped_field(doc, pointer_join("/fields", name), name, value, target, scope, both)

    def mapped_field(
        self,
        doc: RuleDocument,
        pointer: str,
        name: str,
        value: Any,
        target: Shape,
        scope: Scope,
        both: bool,
    ) -> None:
        field_shape = self.field_path(doc, pointer, target, name, at_key=True)
        if field_shape is None:
            self.misplaced_option(doc, pointer, name)
        if isinstance(value, dict) and "each" in value:
            self.each_field(doc, pointer, value, field_shape or ANY, scope, both)
            return
        if isinstance(value, list):
            self.fixed_items(doc, pointer, name, value, field_shape or ANY, scope, both)
            return
        one_way = isinstance(value, dict) and bool(value.get("one_way"))
        value_pointer = f"{pointer}/value" if isinstance(value, dict) else pointer
        if isinstance(value, dict) and "conflict" in value and not both:
            self.report(
                doc,
                f"{pointer}/conflict",
                "mapping.conflict-one-way",
                f"'{name}' has a conflict policy, but the mapping is one-way: nothing flows "
                "back, so there is never a conflict",
                "remove it, or make the mapping `direction: both`",
                at_key=True,
            )
        self.expression(doc, value_pointer, scope)
        self.literal(doc, value_pointer, name, field_shape)
        if both and not one_way and not _invertible(doc.source.data_at(value_pointer)):
            self.report(
                doc,
                value_pointer,
                "mapping.not-invertible",
                f"'{name}' cannot flow back: its value is not a plain field path",
                "use {{ field }} alone, or write {value: ..., one_way: true} to send it one way",
            )

    def each_field(
        self,
        doc: RuleDocument,
        pointer: str,
        value: dict[str, Any],
        target: Shape,
        scope: Scope,
        both: bool,
    ) -> None:
        items = self.expression(doc, f"{pointer}/each", scope)
        if items.known and not items.is_array():
            self.report(
                doc,
                f"{pointer}/each",
                "mapping.not-a-list",
                "'each' must give a list",
                "iterate a list field, e.g. {{ lines }}",
            )
        if both and not value.get("one_way"):
            self.report(
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
            found = self.field_path(doc, item_pointer, item_shape, name, at_key=True)
            self.expression(doc, item_pointer, inner)
            self.literal(doc, item_pointer, name, found)

    def fixed_items(
        self,
        doc: RuleDocument,
        pointer: str,
        name: str,
        items: list[Any],
        target: Shape,
        scope: Scope,
        both: bool,
    ) -> None:
        if both:
            self.report(
                doc,
                pointer,
                "mapping.not-invertible",
                f"the list '{name}' cannot flow back",
                "write it as {each: ..., as: ..., fields: ..., one_way: true}",
            )
        for i, item in enumerate(items):
            for field_name in item:
                item_pointer = pointer_join(f"{pointer}/{i}", field_name)
                found = self.field_path(doc, item_pointer, target.item(), field_name, at_key=True)
                self.expression(doc, item_pointer, scope)
                self.literal(doc, item_pointer, field_name, found)

    def misplaced_option(self, doc: RuleDocument, pointer: str, name: str) -> None:
        """`when:` indented under `fields:` is valid YAML and a field named 'when'."""
        hint = indentation_hint(doc.source, "/fields", name)
        if hint and self.problems and self.problems[-1].pointer == pointer:
            last = self.problems[-1]
            self.problems[-1] = Problem(
                last.file,
                last.line,
                last.column,
                last.code,
                last.message,
                level=last.level,
                pointer=last.pointer,
                hint=hint,
            )

    def literal(self, doc: RuleDocument, pointer: str, name: str, shape: Shape | None) -> None:
        """A literal value (no {{ }}) must fit the target field: `Qty: one` cannot."""
        value = doc.source.data_at(pointer)
        if shape is None or (isinstance(value, str) and expr.is_template(value)):
            return
        wrong = literal_mismatch(value, shape)
        if wrong:
            self.report(
                doc, pointer, "mapping.wrong-type", f"'{name}' {wrong}", literal_hint(value, shape)
            )

    def check_lookup(self, doc: RuleDocument) -> None:
        """`key: tps.WorkCode.work_type` says where the keys come from: it must exist."""
        entries = KeyIndex.of(str(k) for k in doc.data["entries"])  # type: ignore[attr-defined]
        for first, again in entries.same_keys():
            self.report(
                doc,
                pointer_join("/entries", again),
                "rules.same-lookup-key",
                f"'{again}' is the same key as '{first}': a value finds only '{first}'",
                "keep one of them (YAML reads true, yes and on alike; 1.5 and 1.50 too)",
                at_key=True,
            )
        key = doc.data.get("key")
        if not isinstance(key, str):
            return
        system, _, rest = key.partition(".")
        entity, _, path = rest.partition(".")
        shape = self.catalog.get(f"{system}.{entity}")
        if shape is None or not path:
            self.report(
                doc,
                "/key",
                "rules.unknown-entity",
                f"'{key}' is not an entity field",
                did_you_mean(f"{system}.{entity}", self.catalog.names())
                or "write it as tps.<Entity>.<field>, e.g. tps.WorkCode.work_type",
            )
            return
        found = self.field_path(doc, "/key", shape, path)
        if found is not None and found.json_types() - {"null"} == {"boolean"}:
            for entry in entries.not_booleans():
                self.problems.append(
                    doc.source.problem(
                        pointer_join("/entries", entry),
                        "rules.lookup-key-type",
                        f"'{entry}' is never found: {key} is true or false",
                        hint="write the keys as YAML booleans, unquoted: `true:` and `false:`",
                        at_key=True,
                        level=Level.WARNING,
                    )
                )

    # Exclusions and checklists ------------------------------------------------------------
    def check_exclusions(self, doc: RuleDocument) -> None:
        seen: set[str] = set()
        rules: list[dict[str, Any]] = doc.data["rules"]  # type: ignore[assignment]
        for i, rule in enumerate(rules):
            pointer = f"/rules/{i}"
            if rule["id"] in seen:
                self.report(
                    doc,
                    f"{pointer}/id",
                    "rules.duplicate-id",
                    f"two exclusion rules are called '{rule['id']}'",
                    "give each rule its own id",
                )
            seen.add(rule["id"])
            if self.entity(doc, f"{pointer}/entity") is not None and "when" in rule:
                self.expression(doc, f"{pointer}/when", self.scope(rule["entity"]))

    def check_checklist(self, doc: RuleDocument) -> None:
        checks: list[dict[str, Any]] = doc.data["checks"]  # type: ignore[assignment]
        for i, check in enumerate(checks):
            pointer = f"/checks/{i}"
            if check["type"] == "all-mapped":
                self.reference(doc, f"{pointer}/mapping", "mapping")
            elif check["type"] == "no-blocking-transactions":
                for j in range(len(check.get("exclusions", []))):
                    self.reference(doc, f"{pointer}/exclusions/{j}", "exclusions")
            elif check["type"] == "qbo-preference":
                preferences = self.catalog.get("qbo.Preferences")
                if preferences is not None:
                    self.field_path(doc, f"{pointer}/preference", preferences, check["preference"])
            elif check["type"] == "expression":
                self.expression(doc, f"{pointer}/expect", self.check_scope())

    def reference(self, doc: RuleDocument, pointer: str, kind: str) -> None:
        wanted = str(doc.source.data_at(pointer))
        if wanted not in self.by_kind.get(kind, {}):
            self.report(
                doc,
                pointer,
                f"rules.unknown-{kind}",
                f"no {kind} document '{wanted}'",
                did_you_mean(wanted, self.ids(kind)),
            )

    # Templates ----------------------------------------------------------------------------
    def check_template(self, doc: RuleDocument) -> None:
        check_template(self, doc)


from tpsqbo_engine.ruleset.across import (  # noqa: E402 - they use _Semantics
    check_dependency_cycles,
    check_double_writes,
)
from tpsqbo_engine.ruleset.natural_keys import check_natural_key  # noqa: E402 - uses _Semantics
from tpsqbo_engine.ruleset.template_check import check_template  # noqa: E402 - uses _Semantics
