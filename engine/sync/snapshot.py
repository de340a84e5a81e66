"""What both systems hold, read once per run: the records the rules look at, plus the QBO
lists that `ref()` resolves names against."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.tps.client import TpsClient
from tpsqbo_engine.connectors.tps.contract import RESOURCES
from tpsqbo_engine.ruleset.model import RuleSet

Record = dict[str, Any]
TPS_RESOURCES = {entity: resource for resource, entity in RESOURCES.items()}
QBO_LISTS = ("Account", "Item", "TaxCode", "Term", "PaymentMethod")


@dataclass
class Snapshot:
    tps: dict[str, dict[str, Record]] = field(default_factory=dict)
    qbo: dict[str, dict[str, Record]] = field(default_factory=dict)
    firm: Record = field(default_factory=dict)
    tps_marks: dict[str, str] = field(default_factory=dict)
    qbo_mark: str = ""

    def side(self, system: str) -> dict[str, dict[str, Record]]:
        return self.tps if system == "tps" else self.qbo

    def records(self, qualified: str) -> dict[str, Record]:
        system, entity = qualified.split(".", 1)
        return self.side(system).setdefault(entity, {})

    def find(self, qualified: str, ident: str) -> Record | None:
        return self.records(qualified).get(ident)


def entities_used(rules: RuleSet) -> set[str]:
    names = {m.source for m in rules.mappings} | {m.target for m in rules.mappings}
    names |= {r.entity for r in rules.exclusions}
    return names | {f"qbo.{e}" for e in QBO_LISTS}


def read_snapshot(tps: TpsClient, qbo: QboClient, names: Iterable[str]) -> Snapshot:
    snapshot = Snapshot(qbo_mark=datetime.now(UTC).isoformat(timespec="seconds"))
    snapshot.firm = tps.firm()
    for name in sorted(set(names)):
        system, entity = name.split(".", 1)
        if system == "tps":
            records = list(tps.records(TPS_RESOURCES[entity]))
            snapshot.tps[entity] = {r["id"]: r for r in records}
            snapshot.tps_marks[entity] = max((r["updated_at"] for r in records), default="")
        else:
            snapshot.qbo[entity] = {r["Id"]: r for r in qbo.query_all(entity)}
    return snapshot
