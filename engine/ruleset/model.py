"""The rules as typed, frozen records, built once from validated documents.

Nothing downstream reads raw YAML: the planner and the executor get a `RuleSet`. Every
record keeps `where` (file:line), so history and `explain` can say which rule decided.
Expressions are compiled here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError

from tpsqbo_engine.errors import RuleError
from tpsqbo_engine.expr import CompiledValue, compile_value, is_template, parse
from tpsqbo_engine.problems import has_errors
from tpsqbo_engine.ruleset.lookup_keys import KeyIndex
from tpsqbo_engine.ruleset.packs import Disabled, RuleDocument
from tpsqbo_engine.ruleset.patches import where
from tpsqbo_engine.ruleset.semantics import template_path
from tpsqbo_engine.ruleset.shapes import EntityCatalog, entity_catalog, schema_folders
from tpsqbo_engine.ruleset.source import pointer_join
from tpsqbo_engine.ruleset.validate import validate_pack


class Action(StrEnum):
    BLOCK = "block"
    SKIP_AND_WARN = "skip-and-warn"
    SKIP = "skip"
    ALLOW = "allow"


@dataclass(frozen=True, slots=True)
class MatchKey:
    source: str
    target: str
    normalize: str


@dataclass(frozen=True, slots=True)
class FieldRule:
    """One target field. `items` is set for list fields (`each` or fixed items)."""

    path: str
    value: CompiledValue | None
    one_way: bool
    where: str
    each: CompiledValue | None = None
    alias: str = ""
    items: tuple[tuple[FieldRule, ...], ...] = ()
    conflict: str = ""  # this field's own policy in a `both` mapping; "" = the mapping's


@dataclass(frozen=True, slots=True)
class MappingRule:
    id: str
    source: str
    target: str
    direction: str
    conflict: str
    key: str
    when: CompiledValue | None
    match: tuple[MatchKey, ...]
    on_unmatched: str
    on_ambiguous: str
    depends_on: tuple[str, ...]
    fields: tuple[FieldRule, ...]
    where: str
    marker: str = ""  # natural_key {marker: name}: the engine writes sync:tps:<name>:<id>
    natural_key_field: str = ""  # natural_key {field: DocNumber}
    on_inactive: str = "reactivate"


@dataclass(frozen=True, slots=True)
class LookupTable:
    id: str
    entries: Mapping[str, Any]
    default: Any
    has_default: bool
    where: str
    index: KeyIndex = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Made from the entries themselves, so a table can never be built with keys its
        # index does not know.
        object.__setattr__(self, "index", KeyIndex.of(self.entries))

    def find(self, key: Any) -> tuple[bool, Any]:
        """(whether `key` finds an entry, its value): `True` finds `true:`, 1.5 finds `1.50:`
        (lookup_keys.py)."""
        found = self.index.key_for(key)
        return (False, None) if found is None else (True, self.entries[found])


@dataclass(frozen=True, slots=True)
class ExclusionRule:
    id: str
    entity: str
    when: CompiledValue | None
    initial: Action
    ongoing: Action
    reason: str
    where: str
    document: str = ""  # the exclusions document holding it (a checklist check names it)

    @property
    def label(self) -> str:
        """How the plan names the rule that left a record out."""
        return f"{self.id} ({self.where})"


@dataclass(frozen=True)
class Check:
    id: str
    type: str
    title: str
    fix: str
    level: str
    options: Mapping[str, Any]
    where: str
    expect: CompiledValue | None = None  # an `expression` check's condition


@dataclass(frozen=True)
class TemplateRule:
    id: str
    file: Path
    format: str
    for_entity: str
    context: Mapping[str, str]  # variable → type
    payment_link: bool
    where: str
    # Variables computed per document from the record it is for (context `{type, value}`).
    values: Mapping[str, CompiledValue] = field(default_factory=dict)
    pack_root: Path = field(default_factory=Path)


@dataclass(frozen=True, slots=True)
class RuleSet:
    pack_id: str
    version: str
    mappings: tuple[MappingRule, ...]
    lookups: Mapping[str, LookupTable]
    exclusions: tuple[ExclusionRule, ...]
    checks: tuple[Check, ...]
    templates: Mapping[str, TemplateRule]
    # Inherited documents this pack took out with `disable:`; `explain` names them.
    disabled: tuple[Disabled, ...] = ()
    # Entities rules read through functions (wip() reads tps.WipEntry): the snapshot has them.
    reads: frozenset[str] = frozenset()
    # The packs' own entity schemas (`schemas/` folders): custom fields rules may read.
    entity_schemas: tuple[Path, ...] = ()

    def catalog(self) -> EntityCatalog:
        return entity_catalog(None, self.entity_schemas)

    def disabled_for(self, qualified: str) -> list[Disabled]:
        """Disabled mappings that read or wrote records of this entity (`tps.FinanceCharge`)."""
        return [d for d in self.disabled if qualified in d.entities]

    @property
    def uses_payment_links(self) -> bool:
        return any(t.payment_link for t in self.templates.values())


def _where(doc: RuleDocument, pointer: str) -> str:
    display, at = where(doc.source, pointer)
    return f"{display}:{at.line}"


def _where_exactly(doc: RuleDocument, pointer: str) -> str:
    """file:line:column of an expression, so a run-time failure points at it."""
    display, at = where(doc.source, pointer)
    return f"{display}:{at.line}:{at.column}"


def _compiled(doc: RuleDocument, pointer: str, value: Any) -> CompiledValue:
    return compile_value(value, _where_exactly(doc, pointer))


def _field(doc: RuleDocument, pointer: str, path: str, value: Any) -> FieldRule:
    where = _where(doc, pointer)
    if isinstance(value, dict) and "each" in value:
        inner = tuple(
            _field(doc, pointer_join(f"{pointer}/fields", name), name, v)
            for name, v in value["fields"].items()
        )
        each = _compiled(doc, f"{pointer}/each", value["each"])
        return FieldRule(path, None, bool(value.get("one_way")), where, each, value["as"], (inner,))
    if isinstance(value, list):
        items = tuple(
            tuple(
                _field(doc, pointer_join(f"{pointer}/{i}", name), name, v)
                for name, v in item.items()
            )
            for i, item in enumerate(value)
        )
        return FieldRule(path, None, True, where, items=items)
    if isinstance(value, dict):
        compiled = _compiled(doc, f"{pointer}/value", value["value"])
        return FieldRule(
            path, compiled, bool(value.get("one_way")), where, conflict=value.get("conflict", "")
        )
    return FieldRule(path, _compiled(doc, pointer, value), False, where)


def _mapping(doc: RuleDocument) -> MappingRule:
    d: dict[str, Any] = doc.data
    return MappingRule(
        id=doc.id,
        source=d["source"],
        target=d["target"],
        direction=d["direction"],
        conflict=d.get("conflict", "flag"),
        key=d.get("key", "id"),
        when=_compiled(doc, "/when", d["when"]) if "when" in d else None,
        match=tuple(
            MatchKey(m["source"], m["target"], m.get("normalize", "exact"))
            for m in d.get("match", [])
        ),
        on_unmatched=d.get("on_unmatched", "create"),
        on_ambiguous=d.get("on_ambiguous", "review"),
        depends_on=tuple(d.get("depends_on", [])),
        fields=tuple(
            _field(doc, pointer_join("/fields", name), name, value)
            for name, value in d["fields"].items()
        ),
        where=_where(doc, ""),
        marker=str((d.get("natural_key") or {}).get("marker", "")),
        natural_key_field=str((d.get("natural_key") or {}).get("field", "")),
        on_inactive=d.get("on_inactive", "reactivate"),
    )


def _exclusions(doc: RuleDocument) -> list[ExclusionRule]:
    rules: list[dict[str, Any]] = doc.data["rules"]  # type: ignore[assignment]
    return [
        ExclusionRule(
            id=r["id"],
            entity=r["entity"],
            when=_compiled(doc, f"/rules/{i}/when", r["when"]) if "when" in r else None,
            initial=Action(r.get("initial", "allow")),
            ongoing=Action(r.get("ongoing", "allow")),
            reason=r["reason"],
            where=_where(doc, f"/rules/{i}"),
            document=doc.id,
        )
        for i, r in enumerate(rules)
    ]


_CHECK_COMMON = ("id", "type", "title", "fix", "level")


def _checks(doc: RuleDocument) -> list[Check]:
    checks: list[dict[str, Any]] = doc.data["checks"]  # type: ignore[assignment]
    return [
        Check(
            id=c["id"],
            type=c["type"],
            title=c.get("title", c["id"]),
            fix=c.get("fix", ""),
            level=c.get("level", "error"),
            options=MappingProxyType({k: v for k, v in c.items() if k not in _CHECK_COMMON}),
            where=_where(doc, f"/checks/{i}"),
            expect=_compiled(doc, f"/checks/{i}/expect", c["expect"]) if "expect" in c else None,
        )
        for i, c in enumerate(checks)
    ]


def _template(doc: RuleDocument) -> TemplateRule:
    d: dict[str, Any] = doc.data
    context: dict[str, Any] = d["context"]
    return TemplateRule(
        id=doc.id,
        file=template_path(doc)[0],
        format=d["format"],
        for_entity=d["for"],
        context=MappingProxyType(
            {k: v["type"] if isinstance(v, dict) else v for k, v in context.items()}
        ),
        payment_link=bool(d.get("payment_link", False)),
        where=_where(doc, ""),
        values=MappingProxyType(
            {
                k: _compiled(doc, pointer_join(pointer_join("/context", k), "value"), v["value"])
                for k, v in context.items()
                if isinstance(v, dict)
            }
        ),
        pack_root=template_path(doc)[1],
    )


def _lookup(doc: RuleDocument) -> LookupTable:
    d: dict[str, Any] = doc.data
    return LookupTable(
        doc.id,
        MappingProxyType(dict(d["entries"])),
        d.get("default"),
        "default" in d,
        _where(doc, ""),
    )


def build_ruleset(
    pack: RuleDocument | None,
    documents: list[RuleDocument],
    disabled: tuple[Disabled, ...] = (),
    entity_schemas: tuple[Path, ...] = (),
) -> RuleSet:
    of_kind = {
        k: [d for d in documents if d.kind == k]
        for k in ("mapping", "lookup", "exclusions", "checklist", "template")
    }
    return RuleSet(
        pack_id=pack.id if pack else "",
        version=str(pack.data.get("version", "")) if pack else "",
        mappings=tuple(_mapping(d) for d in of_kind["mapping"]),
        lookups=MappingProxyType({d.id: _lookup(d) for d in of_kind["lookup"]}),
        exclusions=tuple(r for d in of_kind["exclusions"] for r in _exclusions(d)),
        checks=tuple(c for d in of_kind["checklist"] for c in _checks(d)),
        templates=MappingProxyType({d.id: _template(d) for d in of_kind["template"]}),
        disabled=disabled,
        reads=_reads(documents),
        entity_schemas=entity_schemas,
    )


# Functions that read an entity no mapping names.
_FUNCTION_READS = {"wip": "tps.WipEntry"}


def _reads(documents: list[RuleDocument]) -> frozenset[str]:
    found: set[str] = set()
    for doc in documents:
        for value in _strings(doc.data):
            if not is_template(value):
                continue
            try:
                ast = parse(value)
            except TemplateSyntaxError:
                continue
            for call in ast.find_all(nodes.Call):
                if isinstance(call.node, nodes.Name) and call.node.name in _FUNCTION_READS:
                    found.add(_FUNCTION_READS[call.node.name])
    return frozenset(found)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def load_ruleset(root: Path) -> RuleSet:
    """Validates the pack at `root` and returns its rules; refuses rules with any error."""
    loaded = validate_pack(root)
    if has_errors(loaded.problems):
        raise RuleError(sorted(loaded.problems), [root])
    return build_ruleset(
        loaded.pack, loaded.documents, tuple(loaded.disabled), schema_folders(loaded.loaded)
    )
