"""What both systems hold, read once per run: the records the rules look at, plus the QBO
lists that `ref()` resolves names against."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.tps.client import TpsRejected, TpsSource
from tpsqbo_engine.connectors.tps.contract import RESOURCES
from tpsqbo_engine.ruleset.model import RuleSet

Record = dict[str, Any]
TPS_RESOURCES = {entity: resource for resource, entity in RESOURCES.items()}
QBO_LISTS = ("Account", "Item", "TaxCode", "Term", "PaymentMethod")
INACTIVE_LISTS = frozenset({"Customer", "Item"})


@dataclass
class Snapshot:
    tps: dict[str, dict[str, Record]] = field(default_factory=dict)
    qbo: dict[str, dict[str, Record]] = field(default_factory=dict)
    firm: Record = field(default_factory=dict)
    tps_marks: dict[str, str] = field(default_factory=dict)
    qbo_mark: str = ""
    deleted: set[str] = field(default_factory=set)  # "qbo.Invoice:238": deleted in QBO

    def side(self, system: str) -> dict[str, dict[str, Record]]:
        return self.tps if system == "tps" else self.qbo

    def records(self, qualified: str) -> dict[str, Record]:
        system, entity = qualified.split(".", 1)
        return self.side(system).setdefault(entity, {})

    def find(self, qualified: str, ident: str) -> Record | None:
        return self.records(qualified).get(ident)


def entities_used(rules: RuleSet) -> set[str]:
    names = {m.source for m in rules.mappings} | {m.target for m in rules.mappings}
    names |= {r.entity for r in rules.exclusions} | set(rules.reads)
    return names | {f"qbo.{e}" for e in QBO_LISTS}


# Read whole on every run: small lists the rules look things up in, and what matching needs.
ALWAYS_WHOLE = frozenset(
    {"tps.Client", "tps.WorkCode", "qbo.Customer"} | {f"qbo.{e}" for e in QBO_LISTS}
)


@dataclass(frozen=True)
class Cursors:
    """Where incremental reads start: TPS `updated_at` per entity, and a moment for QBO CDC."""

    tps: dict[str, str]
    qbo: str


def read_snapshot(
    tps: TpsSource, qbo: QboClient, names: Iterable[str], cursors: Cursors | None = None
) -> Snapshot:
    """Everything (`cursors` None), or the lists plus what changed since the cursors."""
    snapshot = Snapshot(qbo_mark=datetime.now(UTC).isoformat(timespec="seconds"))
    snapshot.firm = tps.firm()
    changed_qbo = []
    whole_qbo: dict[str, str] = {}  # entity -> WHERE: read together, in one batch call
    for name in sorted(set(names)):
        system, entity = name.split(".", 1)
        whole = cursors is None or name in ALWAYS_WHOLE
        if system == "tps":
            since = "" if whole or cursors is None else cursors.tps.get(entity, "")
            records = list(tps.records(TPS_RESOURCES[entity], since))
            snapshot.tps[entity] = {r["id"]: r for r in records}
            previous = "" if cursors is None else cursors.tps.get(entity, "")
            snapshot.tps_marks[entity] = max([previous, *(r["updated_at"] for r in records)])
        elif whole or cursors is None or not cursors.qbo:
            # QBO hides inactive name-list rows unless the query names Active; an inactive
            # customer still owns its name, so matching must see it.
            whole_qbo[entity] = "Active IN (true, false)" if entity in INACTIVE_LISTS else ""
        else:
            changed_qbo.append(entity)
            snapshot.qbo.setdefault(entity, {})
    for entity, found in qbo.query_batch(whole_qbo).items():
        snapshot.qbo[entity] = {r["Id"]: r for r in found}
    if changed_qbo and cursors is not None:
        moment = datetime.fromisoformat(cursors.qbo)
        for entity, rows in qbo.cdc(changed_qbo, moment).items():
            snapshot.qbo[entity] = {r["Id"]: r for r in rows if r.get("status") != "Deleted"}
            snapshot.deleted |= {
                f"qbo.{entity}:{r['Id']}" for r in rows if r.get("status") == "Deleted"
            }
    return snapshot


def add_partners(
    snapshot: Snapshot, wanted: dict[str, set[str]], tps: TpsSource, qbo: QboClient
) -> None:
    """Loads the records linked to changed ones (`qualified entity` -> ids), so each change
    is compared with its partner as it is now."""
    for qualified, ids in wanted.items():
        missing = sorted(ids - set(snapshot.records(qualified)))
        system, entity = qualified.split(".", 1)
        if system == "tps":
            for ident in missing:
                try:
                    record = tps.get(TPS_RESOURCES[entity], ident)
                except TpsRejected as refused:
                    if refused.status == 404:  # gone since (a failed sheet row removed)
                        continue
                    raise
                snapshot.records(qualified)[ident] = record
            continue
        for record in qbo.read_many(entity, missing):
            snapshot.records(qualified)[record["Id"]] = record
