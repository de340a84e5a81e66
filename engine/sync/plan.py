"""A plan: every intended write with its field-level diff, and every record left alone, why."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

ACTIONS = ("create", "update", "link", "void")


@dataclass(frozen=True)
class Operation:
    mapping: str
    record: str  # the source record: "tps.Invoice:inv-1001"
    action: str  # create | update | link | exclude | block | review | fail | ignore
    target: str  # "qbo.Invoice" or "qbo.Invoice:238"
    body: dict[str, Any] = field(default_factory=dict)
    diff: dict[str, list[Any]] = field(default_factory=dict)
    message: str = ""
    rule: str = ""
    level: str = ""  # for non-writes: the history status they end with
    target_version: str = ""  # the written record's version when planned
    peer_version: str = ""  # the other side's version, kept on the link
    content_hash: str = ""
    reverse: bool = False  # a `both` mapping writing back to the source side

    @property
    def writes(self) -> bool:
        return self.action in ACTIONS


@dataclass
class Plan:
    phase: str
    operations: list[Operation] = field(default_factory=list)
    created_at: str = ""

    def writes(self) -> list[Operation]:
        return [op for op in self.operations if op.writes]

    def estimated_calls(self) -> int:
        # Creates go to QBO in batches of 30; updates need a read and a write.
        creates = sum(1 for op in self.writes() if op.action == "create")
        updates = sum(1 for op in self.writes() if op.action == "update")
        return -(-creates // 30) + 2 * updates

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=_json, ensure_ascii=False)

    @classmethod
    def from_file(cls, path: Path) -> Plan:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        operations = [Operation(**op) for op in data["operations"]]
        return cls(data["phase"], operations, data.get("created_at", ""))


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value == value.quantize(Decimal("0.01")) else str(value)
    return str(value)
