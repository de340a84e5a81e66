"""Checks across mappings: `depends_on` has no cycle, and no two mappings write the same
target records (double-posting)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tpsqbo_engine.ruleset.overlap import disjoint
from tpsqbo_engine.ruleset.patches import where

if TYPE_CHECKING:
    from tpsqbo_engine.ruleset.semantics import _Semantics


def check_dependency_cycles(self: _Semantics) -> None:
    mappings = self.by_kind.get("mapping", {})
    state: dict[str, int] = {}

    def visit(mid: str, path: tuple[str, ...]) -> None:
        if state.get(mid) == 2 or mid not in mappings:
            return
        if state.get(mid) == 1:
            cycle = " → ".join((*path[path.index(mid) :], mid))
            self.report(
                mappings[mid],
                "/depends_on",
                "mapping.dependency-cycle",
                f"mappings depend on each other: {cycle}",
                "remove one depends_on entry",
            )
            return
        state[mid] = 1
        depends = mappings[mid].data.get("depends_on", [])
        depends = depends if mappings[mid].schema_valid and isinstance(depends, list) else []
        for other in depends:
            visit(other, (*path, mid))
        state[mid] = 2

    for mid in mappings:
        visit(mid, ())


def check_double_writes(self: _Semantics) -> None:
    mappings = [d for d in self.by_kind.get("mapping", {}).values() if d.schema_valid]
    for i, first in enumerate(mappings):
        for second in mappings[i + 1 :]:
            same = all(first.data[k] == second.data[k] for k in ("source", "target"))
            whens = [str(d.data["when"]) if "when" in d.data else None for d in (first, second)]
            if not same or disjoint(*whens):
                continue
            display, at = where(first.source, "")
            self.report(
                second,
                "/target",
                "mapping.double-write",
                f"mappings '{first.id}' and '{second.id}' both write {second.data['target']} "
                f"from {second.data['source']}: every record would be posted twice",
                f"'{first.id}' is at {Path(display).name}:{at.line}. Give both a `when:` that "
                "cannot hold together (office == 'A' / office == 'B'), patch the inherited one "
                f"instead of adding a copy, or `disable: [{first.id}]`",
            )
