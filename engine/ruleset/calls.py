"""The checker's side of the function registry: what each engine function's arguments must
be (a known lookup, a constant key in the table, a QBO entity, a mapping id) and what it
gives back."""

from __future__ import annotations

from collections.abc import Sequence

from jinja2 import nodes

from tpsqbo_engine.ruleset.checking import (
    QBO_REF_ENTITIES,
    Finding,
    Scope,
    choices_hint,
    did_you_mean,
)
from tpsqbo_engine.ruleset.shapes import ANY, Shape, scalar_shape


class CallChecks:
    """Mixed into the checker: `_call_<name>` checks a call of the function `name`."""

    scope: Scope
    findings: list[Finding]

    def report(self, node: nodes.Node, code: str, message: str, hint: str = "") -> Shape:
        raise NotImplementedError

    def _first_constant(self, node: nodes.Call, what: str) -> str | None:
        first = node.args[0] if node.args else None
        if isinstance(first, nodes.Const) and isinstance(first.value, str):
            return first.value
        self.report(node, "expr.bad-call", f"the first argument must be a quoted {what}")
        return None

    def _call_lookup(self, node: nodes.Call, shapes: Sequence[Shape]) -> Shape:
        table = self._first_constant(node, "lookup id")
        if table is not None and table not in self.scope.lookups:
            self.report(
                node,
                "expr.unknown-lookup",
                f"no lookup table with id '{table}'",
                choices_hint(table, self.scope.lookups),
            )
        elif table is not None and table in self.scope.lookup_keys and len(node.args) > 1:
            self._lookup_keys(node, table, node.args[1])
            self._lookup_key_type(node, table, shapes[1])
        return ANY

    def _defaulted(self, node: nodes.Call, table: str) -> bool:
        """Whether a key missing from the table takes a default rather than failing."""
        return (
            self.scope.lookup_keys[table][1]
            or len(node.args) > 2
            or any(kw.key == "default" for kw in node.kwargs)
        )

    def _lookup_keys(self, node: nodes.Call, table: str, key: nodes.Node) -> None:
        """A key written in the rule must be in the table: a typo would fail every record
        (or quietly take the default) only at run time."""
        index = self.scope.lookup_keys[table][0]
        defaulted = self._defaulted(node, table)
        candidates = [key.expr1, key.expr2] if isinstance(key, nodes.CondExpr) else [key]
        for candidate in candidates:
            if not isinstance(candidate, nodes.Const) or candidate.value is None:
                continue
            if index.key_for(candidate.value) is not None:
                continue
            wanted = str(candidate.value)
            keys = index.texts
            hint = did_you_mean(wanted, keys) or f"keys: {', '.join(sorted(keys)[:12])}"
            if wanted in keys:  # `lookup('t', 1)` and a quoted `"1":`, a text
                hint = f"the key '{wanted}' is quoted, a text: write it unquoted in the table"
            what = f"the lookup '{table}' has no key '{wanted}'"
            self._key_problem(node, "expr.unknown-lookup-key", what, hint, defaulted)

    def _lookup_key_type(self, node: nodes.Call, table: str, key: Shape) -> None:
        """A key that is always true/false or a number must find keys of that kind: a table
        of texts (`Y:`, `N:`) never matches `tax1`, and every record takes the default."""
        index = self.scope.lookup_keys[table][0]
        kinds = key.json_types() - {"null"}
        defaulted = self._defaulted(node, table)
        if kinds == {"boolean"}:
            missing = [
                word
                for value, word in ((True, "true"), (False, "false"))
                if value not in index.booleans
            ]
            if not missing or (defaulted and len(missing) == 1):
                return  # `true: TAX` and a default for the rest is a whole table
            what = f"true or false, but the lookup '{table}' has no key {' or '.join(missing)}"
            hint = "write the keys as YAML booleans, unquoted: `true: TAX` and `false: NON`"
        elif kinds and kinds <= {"number", "integer"} and not index.numbers:
            what = f"a number, but no key of the lookup '{table}' is a number"
            hint = "write the keys as numbers, unquoted: `1.5: ...`"
        else:
            return
        self._key_problem(node, "expr.lookup-key-type", f"the key is {what}", hint, defaulted)

    def _key_problem(
        self, node: nodes.Call, code: str, message: str, hint: str, defaulted: bool
    ) -> None:
        """A key the lookup never finds: with a default, every record takes it (a warning);
        without one, every record fails (an error)."""
        if not defaulted:
            self.report(node, code, message, hint)
            return
        line = getattr(node, "lineno", 1) or 1
        always = f"{message}: the default is always used"
        self.findings.append(Finding(code, always, hint, line, level="warning"))

    def _call_ref(self, node: nodes.Call, shapes: Sequence[Shape]) -> Shape:
        entity = self._first_constant(node, "QBO entity name")
        if entity is not None and entity not in QBO_REF_ENTITIES:
            self.report(
                node,
                "expr.bad-call",
                f"ref() cannot look up '{entity}'",
                choices_hint(entity, QBO_REF_ENTITIES),
            )
        return self.scope.catalog.definitions.get("qbo.Ref", ANY)

    def _call_linked(self, node: nodes.Call, shapes: Sequence[Shape]) -> Shape:
        mapping = self._first_constant(node, "mapping id")
        if mapping is None:
            return ANY
        entities = self.scope.mapping_entities.get(mapping)
        if entities is None:
            return self.report(
                node,
                "expr.unknown-mapping",
                f"no mapping with id '{mapping}'",
                choices_hint(mapping, self.scope.mapping_entities),
            )
        source_system = entities[0].split(".")[0]
        other = entities[1] if self.scope.system == source_system else entities[0]
        return (
            self.scope.catalog.definitions.get("qbo.Ref", ANY)
            if other.startswith("qbo.")
            else scalar_shape("string")
        )

    def _call_record(self, node: nodes.Call, shapes: Sequence[Shape]) -> Shape:
        mapping = self._first_constant(node, "mapping id")
        entities = self.scope.mapping_entities.get(mapping or "")
        if mapping is not None and entities is None:
            return self.report(
                node,
                "expr.unknown-mapping",
                f"no mapping with id '{mapping}'",
                choices_hint(mapping, self.scope.mapping_entities),
            )
        if entities is None:
            return ANY
        same_side = next((e for e in entities if e.startswith(f"{self.scope.system}.")), None)
        return self.scope.catalog.get(same_side or entities[0]) or ANY

    def _qbo_entity(self, node: nodes.Call) -> Shape:
        """count/exists/query name a QBO entity the catalog knows: 'qbo.Bill'."""
        entity = self._first_constant(node, "entity name like 'qbo.Bill'")
        shape = self.scope.catalog.get(entity or "")
        if entity is not None and (shape is None or not entity.startswith("qbo.")):
            self.report(
                node,
                "rules.unknown-entity",
                f"no QBO entity '{entity}'",
                choices_hint(entity, self.scope.catalog.names("qbo")),
            )
            return ANY
        return shape or ANY

    def _call_count(self, node: nodes.Call, shapes: Sequence[Shape]) -> Shape:
        self._qbo_entity(node)
        return scalar_shape("number")

    def _call_exists(self, node: nodes.Call, shapes: Sequence[Shape]) -> Shape:
        self._qbo_entity(node)
        return scalar_shape("boolean")

    def _call_query(self, node: nodes.Call, shapes: Sequence[Shape]) -> Shape:
        entity = self._qbo_entity(node)
        return Shape({"type": "array", "items": entity.node}, entity.resolver, "records")

    def _call_wip(self, node: nodes.Call, shapes: Sequence[Shape]) -> Shape:
        """The TPS WIP entries billed on a line: their fields are checked where they are read
        (`wip(line) | merge_by('work_code')`, `map(attribute='hours')`)."""
        entry = self.scope.catalog.get("tps.WipEntry")
        if entry is None:
            return ANY
        return Shape({"type": "array", "items": entry.node}, entry.resolver, "wip(line)")

    def _call_lines_to_apply(self, node: nodes.Call, shapes: Sequence[Shape]) -> Shape:
        """Some of the payment lines it is given, as they are: their fields are the lines'."""
        return shapes[0] if shapes else ANY

    _call_lines_left_unapplied = _call_lines_to_apply

    def _call_unique(self, node: nodes.Call, shapes: Sequence[Shape]) -> Shape:
        if len(node.args) < 2:
            self.report(
                node,
                "expr.bad-call",
                "unique() takes the value and a suffix",
                "e.g. unique(name, ' (' ~ code ~ ')')",
            )
        return scalar_shape("string")
