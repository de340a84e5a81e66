"""Which entities the emulated company serves and what QBO lets a client do with each.

Read from the `x-qbo-entity` block of schemas/qbo/<Entity>.json (kind, operations, CDC,
batch), so that the emulator and `validate` judge entities from one source. An entity
schema without the block falls back to `_KNOWN` below, which says what QBO's reference
says for the entities the emulator served before the schemas carried it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from tpsqbo_engine import resources

_CRUD = ("create", "read", "query", "update")
_TXN = (*_CRUD, "delete")
# kind, operations, cdc
_KNOWN: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "Customer": ("name-list", _CRUD, True),
    "Item": ("name-list", _CRUD, True),
    "Account": ("name-list", _CRUD, True),
    "Term": ("name-list", _CRUD, True),
    "TaxCode": ("name-list", ("read", "query"), False),
    "Invoice": ("transaction", (*_TXN, "void"), True),
    "Payment": ("transaction", (*_TXN, "void"), True),
    "CreditMemo": ("transaction", (*_TXN, "void"), True),
    "JournalEntry": ("transaction", _TXN, True),
    "Deposit": ("transaction", _TXN, True),
    "Purchase": ("transaction", _TXN, True),
    "CompanyInfo": ("singleton", ("read", "query", "update"), True),
    "Preferences": ("singleton", ("read", "query", "update"), True),
}


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
        block = json.loads(path.read_text(encoding="utf-8")).get("x-qbo-entity")
        if block is None:
            kind, operations, cdc = _KNOWN[path.stem]
            block = {"kind": kind, "operations": operations, "cdc": cdc, "batch": True}
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
