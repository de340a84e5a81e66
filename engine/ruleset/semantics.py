"""Layer 3: what the rules mean. References resolve, expressions type-check against the
entity schemas, `both` mappings can flow back, templates exist inside their pack and use only
the variables their context declares.

`_Semantics` holds what every check shares (scopes, entities, field paths, reporting) and the
checks of the small document kinds; mapping_check checks mappings, template_check templates,
natural_keys a mapping's natural key, across what spans documents (cycles, double writes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tpsqbo_engine import expr
from tpsqbo_engine.functions import CHECK_FUNCTIONS
from tpsqbo_engine.problems import Level, Problem
from tpsqbo_engine.ruleset.documents import template_root
from tpsqbo_engine.ruleset.lookup_keys import KeyIndex
from tpsqbo_engine.ruleset.mapping_check import check_mapping
from tpsqbo_engine.ruleset.packs import RuleDocument
from tpsqbo_engine.ruleset.patches import where
from tpsqbo_engine.ruleset.shapes import ANY, EntityCatalog, Shape, scalar_shape
from tpsqbo_engine.ruleset.source import pointer_join
from tpsqbo_engine.ruleset.typecheck import Finding, Scope, check_value, did_you_mean


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
                lid: (KeyIndex.of(_entries(d)), "default" in d.data)
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

    # Mappings and lookups -----------------------------------------------------------------
    def check_mapping(self, doc: RuleDocument) -> None:
        check_mapping(self, doc)

    def check_lookup(self, doc: RuleDocument) -> None:
        """`key: tps.WorkCode.work_type` says where the keys come from: it must exist."""
        entries = KeyIndex.of(_entries(doc))
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
        if found is not None:
            self._keys_never_found(doc, key, found.json_types() - {"null"}, entries)

    def _keys_never_found(
        self, doc: RuleDocument, key: str, kinds: set[str], entries: KeyIndex
    ) -> None:
        """The keys a declared `key:` of booleans or numbers never finds: a quoted `"true":`
        or `"1":` is a text, and true or 1 finds only `true:` or `1:`."""
        if kinds == {"boolean"}:
            never, kind = entries.not_booleans(), "true or false"
            hint = "write the keys as YAML booleans, unquoted: `true:` and `false:`"
        elif kinds and kinds <= {"number", "integer"}:
            never, kind = entries.not_numbers(), "a number"
            hint = "write the keys as numbers, unquoted: `1:`, `1.5:` (quoted, a key is a text)"
        else:
            return
        for entry in never:
            self.problems.append(
                doc.source.problem(
                    pointer_join("/entries", entry),
                    "rules.lookup-key-type",
                    f"'{entry}' is never found: {key} is {kind}",
                    hint=hint,
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
from tpsqbo_engine.ruleset.template_check import check_template  # noqa: E402 - uses _Semantics


def _entries(doc: RuleDocument) -> dict[str, Any]:
    """A schema-valid lookup's entries, their keys as the loader kept them (`UnquotedKey`)."""
    entries: dict[str, Any] = doc.data["entries"]  # type: ignore[assignment]
    return entries
