"""Layer 3 for `natural_key`: how the engine finds a record it wrote again after a lost
answer. The marker is the engine's to write; a field must be one the mapping sets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tpsqbo_engine.problems import Level
from tpsqbo_engine.ruleset.packs import RuleDocument
from tpsqbo_engine.ruleset.shapes import Shape

if TYPE_CHECKING:
    from tpsqbo_engine.ruleset.semantics import _Semantics

GUARD_FIELDS = ("DocNumber", "DisplayName", "Name")
MARKER_PREFIX = "sync:"


def check_natural_key(checker: _Semantics, doc: RuleDocument, target: Shape) -> None:
    data: dict[str, Any] = doc.data
    declared = data.get("natural_key") or {}
    fields: dict[str, Any] = data["fields"]
    to_qbo = str(data["source"]).startswith("tps.") and str(data["target"]).startswith("qbo.")
    if "marker" in declared and (not to_qbo or target.attribute("PrivateNote") is None):
        checker.report(
            doc,
            "/natural_key/marker",
            "mapping.natural-key",
            f"the engine marks records in PrivateNote, which {data['target']} does not have "
            "(or the mapping does not write from TPS to QBO)",
            f"use natural_key: {{field: ...}} with one of {', '.join(GUARD_FIELDS)}",
        )
    if "field" in declared and declared["field"] not in fields:
        checker.report(
            doc,
            "/natural_key/field",
            "mapping.natural-key",
            f"the natural key {declared['field']} is not a field this mapping sets",
            f"set fields.{declared['field']}, or use natural_key: {{marker: {doc.id}}}",
        )
    note = fields.get("PrivateNote")
    note = note.get("value") if isinstance(note, dict) else note
    if isinstance(note, str) and note.strip().startswith(MARKER_PREFIX):
        checker.problems.append(
            doc.source.problem(
                "/fields/PrivateNote",
                "mapping.engine-marker",
                "a PrivateNote starting with 'sync:' imitates the engine's marker",
                hint="the engine writes its marker itself: declare natural_key: {marker: "
                f"{doc.id}}} and drop this field (or write a note of the firm's own)",
                level=Level.WARNING,
            )
        )
    if to_qbo and not declared and not any(f in fields for f in GUARD_FIELDS):
        checker.problems.append(
            doc.source.problem(
                "/target",
                "mapping.no-natural-key",
                "nothing identifies these QBO records: after a lost answer the engine could "
                "not tell whether one was created, and could create it twice",
                hint=f"declare natural_key: {{marker: {doc.id}}}, or set one of "
                f"{', '.join(GUARD_FIELDS)}",
                level=Level.WARNING,
            )
        )
