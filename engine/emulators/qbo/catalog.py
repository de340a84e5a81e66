"""Which entities the emulated company serves and what QBO lets a client do with each.

Read from the `x-qbo-entity` block of schemas/qbo/<Entity>.json (kind, operations, CDC,
batch), so that the emulator and `validate` judge entities from one source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from tpsqbo_engine import resources


@dataclass(frozen=True)
class EntityInfo:
    name: str
    kind: str
    operations: frozenset[str]
    cdc: bool
    batch: bool

    def allows(self, operation: str) -> bool:
        return operation in self.operations


@cache
def entities() -> dict[str, EntityInfo]:
    found: dict[str, EntityInfo] = {}
    for path in sorted((resources.schemas_dir() / "qbo").glob("*.json")):
        if path.stem == "common":
            continue
        block = json.loads(path.read_text(encoding="utf-8"))["x-qbo-entity"]
        found[path.stem] = EntityInfo(
            path.stem,
            str(block["kind"]),
            frozenset(block["operations"]),
            bool(block["cdc"]),
            bool(block.get("batch", True)),
        )
    return found


def names_of(kind: str) -> frozenset[str]:
    return frozenset(name for name, info in entities().items() if info.kind == kind)


def info(entity: str) -> EntityInfo:
    return entities()[entity]
