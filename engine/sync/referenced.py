"""What an incremental run plans from besides its changes: the clients and customers its
records name, and the links and history rows of what it holds, looked up by index.

A firm's clients, customers and links grow with its history; a run after the first reads
only what changed. Holding every one of them made each re-sync's memory follow the firm's
size. The planner needs the records it decides, what those records name (an invoice's
client and that client's customer), the records a new one could match or collide with by
name, and the links and outcomes of all those: each is found here by the ids and names
the run's records carry, with the mirror scanned row by row where no index answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from tpsqbo_engine.filters import qbo_display_name
from tpsqbo_engine.ruleset.model import RuleSet
from tpsqbo_engine.state import StateStore
from tpsqbo_engine.sync.links import pair_of, system_of
from tpsqbo_engine.sync.matching import NORMALIZERS, ident_of
from tpsqbo_engine.sync.mirror import FIRM_SIZED, MIRRORED, Mirror
from tpsqbo_engine.sync.plan_input import LinkRow
from tpsqbo_engine.sync.snapshot import ALWAYS_WHOLE, Record, Snapshot
from tpsqbo_engine.sync.unapplied import carriers

# Longer strings are text (descriptions, notes), never an id or a name a rule looks up.
LONGEST_NAMED = 100


def named(snapshot: Snapshot, *, lists: bool = True) -> set[str]:
    """Every id and short text the snapshot's changed records (and the clients and customers
    it holds) carry, their own ids included, the ids of records QBO deleted, and with
    `lists` the ids of the list records it holds whole: what the planner may look up. The
    lists' own fields name only other lists, held whole too."""
    found: set[str] = set()
    for system, side in (("tps", snapshot.tps), ("qbo", snapshot.qbo)):
        for entity, records in side.items():
            whole = _whole(f"{system}.{entity}")
            if whole and not lists:
                continue
            found.update(str(ident) for ident in records)
            for record in () if whole else records.values():
                found.update(_texts(record))
    found.update(key.partition(":")[2] for key in snapshot.deleted)
    return found


def display_names(snapshot: Snapshot) -> set[str]:
    """Every text of the snapshot's changed records (whatever its length) as a QBO display
    name compares: what `unique` computes from a name (colons and tabs to spaces, whitespace
    collapsed), folded as QBO folds names. A renamed client's new name may collide with an
    unchanged customer only in this form."""
    found: set[str] = set()
    for system, side in (("tps", snapshot.tps), ("qbo", snapshot.qbo)):
        for entity, records in side.items():
            if not _whole(f"{system}.{entity}"):
                for record in records.values():
                    found.update(_display_key(text) for text in _texts(record, longest=None))
    found.discard("")
    return found


def _display_key(value: Any) -> str:
    return qbo_display_name(value).casefold()


def _whole(qualified: str) -> bool:
    """A list every run holds whole (accounts, items, work codes...)."""
    return (qualified in MIRRORED and qualified not in FIRM_SIZED) or qualified in ALWAYS_WHOLE


def _texts(value: Any, longest: int | None = LONGEST_NAMED) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _texts(item, longest)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item, longest)
    elif isinstance(value, str):
        if value and (longest is None or len(value) <= longest):  # an empty one names nothing
            yield value
    elif isinstance(value, int) and not isinstance(value, bool):
        yield str(value)


def links_of(rules: RuleSet, state: StateStore, ids: set[str]) -> dict[str, list[LinkRow]]:
    """Each pair's links that touch one of `ids`, as the planner takes them: those of the
    mappings a pack disabled too, which still say what a QBO record is the copy of (a
    finance charge's invoice, still paid after its mapping stopped running)."""
    found = state.links_of_pairs(sorted({c.pair for c in carriers(rules)}), ids)
    return {pair: [link_row(r) for r in rows] for pair, rows in found.items()}


def link_row(row: Mapping[str, Any]) -> LinkRow:
    """A stored link as the planner takes it."""
    return LinkRow(
        row["tps_id"],
        row["qbo_id"],
        row["content_hash"],
        row["tps_version"],
        row["qbo_version"],
        row["mapping"],
    )


def add_referenced(rules: RuleSet, state: StateStore, mirror: Mirror, snapshot: Snapshot) -> int:
    """Adds to the snapshot the mirrored clients and customers its records name, are linked
    to, could match (a new client and the unlinked customer of the same name) or would
    collide with by name (`unique`). Answers how many were added."""
    used = [q for q in sorted(FIRM_SIZED) if q.split(".", 1)[1] in snapshot.side(system_of(q))]
    values = named(snapshot, lists=False)
    if not used or not values:
        return 0
    links = links_of(rules, state, values)
    wanted = set(values)
    for rows in links.values():
        wanted.update(i for row in rows for i in (row.tps_id, row.qbo_id))
    names = display_names(snapshot) | {_display_key(v) for v in values}
    added: set[str] = set()
    for qualified in used:
        matches = _match_values(rules, snapshot, links, qualified)
        keys = {m.key for m in rules.mappings if m.source == qualified}
        records = snapshot.records(qualified)
        for record in mirror.scan(qualified):
            ident = ident_of(qualified, record)
            if ident in records:
                continue
            if (
                ident in wanted
                or _display_key(_display(record)) in names
                or any(str(record.get(key)) in values for key in keys)
                or _matches(record, matches)
            ):
                records[ident] = record
                added.add(ident)
    return len(added) + (_add_partners(rules, state, mirror, snapshot, added) if added else 0)


def _add_partners(
    rules: RuleSet, state: StateStore, mirror: Mirror, snapshot: Snapshot, added: set[str]
) -> int:
    """The mirrored partners of the clients and customers added by name or match (an
    unchanged client whose name a new one takes), which no text of the run named: a record
    is compared with its partner, never planned as if that partner were gone."""
    wanted: dict[str, set[str]] = {}
    for pair, rows in links_of(rules, state, added).items():
        tps_entity, qbo_entity = pair.split("|")
        for row in rows:
            wanted.setdefault(f"tps.{tps_entity}", set()).add(row.tps_id)
            wanted.setdefault(f"qbo.{qbo_entity}", set()).add(row.qbo_id)
    count = 0
    for qualified in sorted(set(wanted) & FIRM_SIZED):
        records = snapshot.records(qualified)
        found = mirror.find(qualified, wanted[qualified] - set(records))
        records.update(found)
        count += len(found)
    return count


Matches = dict[tuple[str, str], set[str]]  # (target path, normalizer) -> normalized values


def _match_values(
    rules: RuleSet, snapshot: Snapshot, links: dict[str, list[LinkRow]], target: str
) -> Matches:
    """What the snapshot's unlinked records would match `target` records by."""
    found: Matches = {}
    for mapping in [m for m in rules.mappings if m.target == target and m.match]:
        rows = links.get(pair_of(mapping), [])
        side = system_of(mapping.source)
        linked = {row.tps_id if side == "tps" else row.qbo_id for row in rows}
        for record in snapshot.records(mapping.source).values():
            if ident_of(mapping.source, record) in linked:
                continue
            for key in mapping.match:
                value = _get(record, key.source)
                if value not in (None, ""):
                    normalized = NORMALIZERS[key.normalize](value)
                    found.setdefault((key.target, key.normalize), set()).add(normalized)
    return found


def _matches(record: Record, matches: Matches) -> bool:
    for (path, normalize), values in matches.items():
        value = _get(record, path)
        if value not in (None, "") and NORMALIZERS[normalize](value) in values:
            return True
    return False


def _get(record: Record, path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _display(record: Record) -> str:
    return str(record.get("DisplayName") or record.get("Name") or record.get("name") or "")


class Echoes:
    """Whether a QBO record read as changed is the engine's own write, or older: its link
    was last synced at that version or a later one. The versions of a CDC answer's records
    are looked up together (`learn`), one statement per pair, and only that answer's are
    held; a record asked about alone is looked up alone."""

    def __init__(self, rules: RuleSet, state: StateStore) -> None:
        self.state = state
        self.pairs: dict[str, list[str]] = {}
        for mapping in rules.mappings:
            qbo_side = mapping.source if system_of(mapping.source) == "qbo" else mapping.target
            if qbo_side not in ALWAYS_WHOLE:
                self.pairs.setdefault(qbo_side.split(".", 1)[1], []).append(pair_of(mapping))
        self.learned: dict[str, dict[str, str]] = {}  # pair -> QBO id -> synced version

    def learn(self, rows: Iterable[tuple[str, Record]]) -> None:
        wanted: dict[str, set[str]] = {}
        for entity, record in rows:
            for pair in self.pairs.get(entity, ()):
                wanted.setdefault(pair, set()).add(str(record.get("Id")))
        self.learned = {
            pair: dict.fromkeys(ids, "") | self.state.qbo_versions(pair, ids)
            for pair, ids in wanted.items()
        }

    def __call__(self, entity: str, record: Record) -> bool:
        version, ident = str(record.get("SyncToken", "")), str(record.get("Id"))
        for pair in self.pairs.get(entity, ()):
            known = self.learned.get(pair, {})
            synced = known[ident] if ident in known else self._alone(pair, ident)
            if synced and _not_newer(version, synced):
                return True
        return False

    def _alone(self, pair: str, ident: str) -> str:
        return self.state.qbo_versions(pair, [ident]).get(ident, "")


def _not_newer(version: str, synced: str) -> bool:
    """QBO's SyncToken counts up from 0 with each change."""
    if version.isdigit() and synced.isdigit():
        return int(version) <= int(synced)
    return version == synced
