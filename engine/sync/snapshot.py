"""What both systems hold, read once per run: the records the rules look at, plus the QBO
lists that `ref()` resolves names against."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.tps.client import TpsRejected, TpsSource
from tpsqbo_engine.connectors.tps.contract import RESOURCES
from tpsqbo_engine.ruleset.model import RuleSet
from tpsqbo_engine.ruleset.shapes import entity_catalog
from tpsqbo_engine.sync.mirror import FIRM_SIZED, MIRRORED, Mirror

Record = dict[str, Any]


class Echo(Protocol):
    """(QBO entity, record) -> the engine's own write; `learn` looks up many at once."""

    def __call__(self, entity: str, record: Record) -> bool: ...
    def learn(self, rows: Iterable[tuple[str, Record]]) -> None: ...


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
    notes: list[str] = field(default_factory=list)  # how it was read, for the run's output

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


def _untracked() -> frozenset[str]:
    """The QBO entities whose changes CDC does not give (TaxCode, TaxRate, TimeActivity...),
    as schemas/qbo's `x-qbo-entity.cdc` says: asking CDC for them answers a fault."""
    catalog = entity_catalog()
    return frozenset(
        name
        for name in catalog.names("qbo")
        if not ((catalog.shapes[name].node or {}).get("x-qbo-entity") or {}).get("cdc")
    )


# Read whole on every run, with the lists' batch call: the entities CDC does not track.
ALWAYS_WHOLE = _untracked()


@dataclass(frozen=True)
class Cursors:
    """Where incremental reads start: TPS `updated_at` per entity, and a moment for QBO CDC."""

    tps: dict[str, str]
    qbo: str


def _whole_where(entity: str) -> str:
    # QBO hides inactive name-list rows unless the query names Active; an inactive
    # customer still owns its name, so matching must see it.
    return "Active IN (true, false)" if entity in INACTIVE_LISTS else ""


def read_snapshot(
    tps: TpsSource,
    qbo: QboClient,
    names: Iterable[str],
    cursors: Cursors | None = None,
    mirror: Mirror | None = None,
    rebuild: bool = False,
    slim: Callable[[str, Record], Record] | None = None,
    echo: Echo | None = None,
) -> Snapshot:
    """Everything (`cursors` None), or what changed since the cursors. With a `mirror`, the
    mirrored entities come from it, brought up to date by the same reads; after a whole
    read, or with `rebuild` (the mirror cannot be used), they are read whole and the mirror
    is made afresh from them. `slim` may shorten each record as it arrives (history the
    initial sync leaves out), so no page is held longer than it is read. `echo` tells a QBO
    change that is the engine's own last write (or older): not held, as CDC answers."""
    keep = slim or (lambda _qualified, record: record)
    snapshot = Snapshot(qbo_mark=datetime.now(UTC).isoformat(timespec="seconds"))
    snapshot.firm = tps.firm()
    wanted = sorted(set(names))
    kept = {n for n in wanted if n in MIRRORED} if mirror and cursors and not rebuild else set()
    changed_qbo = []
    whole_qbo: dict[str, str] = {}  # entity -> WHERE: read together, in one batch call
    for name in wanted:
        system, entity = name.split(".", 1)
        whole = cursors is None or name in ALWAYS_WHOLE or (rebuild and name in MIRRORED)
        if system == "tps":
            mark = "" if cursors is None else cursors.tps.get(entity, "")
            mirrored = mirror if name in kept else None
            _read_tps(snapshot, tps, name, ("" if whole else mark, mark), keep, mirrored)
        elif whole or cursors is None or not cursors.qbo:
            whole_qbo[entity] = _whole_where(entity)
        else:
            changed_qbo.append(entity)
            snapshot.qbo.setdefault(entity, {})
    for entity, found in qbo.query_batch(whole_qbo).items():
        snapshot.qbo[entity] = {r["Id"]: keep(f"qbo.{entity}", r) for r in found}
    if changed_qbo and cursors is not None:
        moment = datetime.fromisoformat(cursors.qbo)
        _read_changes(snapshot, qbo, changed_qbo, moment, kept, mirror, echo)
    if mirror is not None and (cursors is None or rebuild):
        mirror.rebuild(
            qbo.realm_id, {n: snapshot.records(n).values() for n in wanted if n in MIRRORED}
        )
    return snapshot


def _read_tps(
    snapshot: Snapshot,
    tps: TpsSource,
    name: str,
    marks: tuple[str, str],
    keep: Callable[[str, Record], Record],
    mirror: Mirror | None,
) -> None:
    """A TPS entity's records changed since the first of `marks` (all with ""), and its new
    cursor (the second, the old one, or later). With a `mirror` the changes update it, and
    a list is then taken from it whole."""
    entity = name.split(".", 1)[1]
    since, mark = marks
    records: dict[str, Record] = {}
    for record in tps.records(TPS_RESOURCES[entity], since):
        mark = max(mark, record["updated_at"])
        records[record["id"]] = keep(name, record)
    snapshot.tps_marks[entity] = mark
    snapshot.tps[entity] = records
    if mirror is not None:
        mirror.apply(name, records.values())
        if name not in FIRM_SIZED:
            snapshot.tps[entity] = mirror.records(name)


def _read_changes(
    snapshot: Snapshot,
    qbo: QboClient,
    entities: list[str],
    since: datetime,
    kept: set[str],
    mirror: Mirror | None,
    echo: Echo | None = None,
) -> None:
    """One CDC read for every changed entity, the mirrored lists and customers included.
    Echoes of the engine's writes are let go as each answer arrives (the run after a big one
    reads all its writes back), but the mirror takes them."""

    def new(entity: str, record: Record) -> bool:
        return echo is None or record.get("status") == "Deleted" or not echo(entity, record)

    echoed: dict[str, dict[str, str]] = {}  # entity -> Id -> when its newest echo was made

    def held(entity: str, record: Record) -> bool:
        if f"qbo.{entity}" in kept or new(entity, record):
            return True
        when, seen = _updated(record), echoed.setdefault(entity, {})
        seen[str(record.get("Id"))] = max(when, seen.get(str(record.get("Id")), when))
        return False

    def keep(answer: list[tuple[str, Record]]) -> list[bool]:
        if echo is not None:
            echo.learn(answer)  # one lookup for the answer, not one per record
        return [held(entity, record) for entity, record in answer]

    said = len(qbo.stats.notes)
    changed = qbo.cdc(entities, since, keep)
    snapshot.notes.extend(qbo.stats.notes[said:])
    for entity, rows in changed.items():
        newest: dict[str, Record] = {}
        for row in sorted(rows, key=_updated):
            newest[row["Id"]] = row  # a record that changed twice: its latest state
        for ident, when in echoed.get(entity, {}).items():
            if ident in newest and when >= _updated(newest[ident]):
                del newest[ident]  # its latest state is the engine's own write
        if echo is not None:
            echo.learn((entity, r) for r in newest.values())
        _take(snapshot, f"qbo.{entity}", newest, kept, mirror, new)
    for qualified in kept - FIRM_SIZED:
        if qualified.startswith("qbo."):
            snapshot.qbo[qualified.split(".", 1)[1]] = mirror.records(qualified) if mirror else {}


def _take(
    snapshot: Snapshot,
    qualified: str,
    newest: dict[str, Record],
    kept: set[str],
    mirror: Mirror | None,
    new: Callable[[str, Record], bool],
) -> None:
    """One entity's changes, each record's latest state: the deletions noted, the mirror
    updated, and what is not an echo taken into the snapshot."""
    entity = qualified.split(".", 1)[1]
    gone = {i for i, r in newest.items() if r.get("status") == "Deleted"}
    alive = [r for i, r in newest.items() if i not in gone]
    snapshot.deleted |= {f"{qualified}:{ident}" for ident in gone}
    if qualified in kept and mirror is not None:
        mirror.apply(qualified, alive, gone)
    if qualified not in kept or qualified in FIRM_SIZED:
        snapshot.qbo[entity] = {r["Id"]: r for r in alive if new(entity, r)}


def _updated(record: Record) -> str:
    return str(record.get("MetaData", {}).get("LastUpdatedTime"))


def add_partners(
    snapshot: Snapshot,
    wanted: dict[str, set[str]],
    tps: TpsSource,
    qbo: QboClient,
    mirror: Mirror | None = None,
) -> None:
    """Loads the records linked to changed ones (`qualified entity` -> ids), so each change
    is compared with its partner as it is now: a mirrored one from the `mirror`, which the
    run's reads brought up to date, the others from their system."""
    for qualified, ids in wanted.items():
        missing = sorted(ids - set(snapshot.records(qualified)))
        if mirror is not None and qualified in MIRRORED:
            kept = mirror.find(qualified, missing)
            snapshot.records(qualified).update(kept)
            missing = [i for i in missing if i not in kept]
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
