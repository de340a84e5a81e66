"""The records a run's rules reach by a key they compute. An incremental run reads what
changed and the records those changes name as written (engine/sync/referenced.py); a rule
that finds its client by a key it computes (`linked('clients', description | upper)` with
the clients mapping keyed by the client code) names one no text of the run holds. The
planner's resolver notes each key it looked up and did not find; the run reads those
records by their key, from the mirror where it holds the entity and else through the
connector, and plans again: as the initial sync, which held every record, found them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from tpsqbo_engine.connectors.qbo.errors import QboSkippableError
from tpsqbo_engine.dotted import get_path
from tpsqbo_engine.sync.incremental import numbered_in_qbo, numbered_in_tps
from tpsqbo_engine.sync.links import pair_of, system_of
from tpsqbo_engine.sync.matching import ident_of
from tpsqbo_engine.sync.mirror import MIRRORED, Mirror
from tpsqbo_engine.sync.referenced import add_referenced
from tpsqbo_engine.sync.snapshot import Record, Snapshot, add_partners

if TYPE_CHECKING:
    from tpsqbo_engine.sync.session import Session

# Keys read per entity and key field in one run: a rule that misses on every record (a key
# no record has) costs a bounded read, not one per record.
MAX_KEYS = 1000


def add_keyed(session: Session, snapshot: Snapshot, missed: Iterable[tuple[str, str, str]]) -> int:
    """Adds to the snapshot the records of `missed` ((entity, key field, key) a rule looked
    up and the snapshot did not hold) that exist. Answers how many were added."""
    wanted: dict[tuple[str, str], set[str]] = {}
    for qualified, key_field, key in missed:
        wanted.setdefault((qualified, key_field), set()).add(key)
    mirror = Mirror(session.state)
    added: dict[str, set[str]] = {}
    for (qualified, key_field), keys in sorted(wanted.items()):
        chosen = sorted(keys)[:MAX_KEYS]
        records = snapshot.records(qualified)
        try:
            found = _found(session, mirror, qualified, key_field, chosen)
        except QboSkippableError as refused:  # a field QBO's query does not take
            snapshot.notes.append(
                f"{qualified} could not be looked up by {key_field} ({refused}): the records "
                "whose rules find one by it fail, as when it is missing"
            )
            continue
        for ident, record in found.items():
            if ident not in records:
                records[ident] = record
                added.setdefault(qualified, set()).add(ident)
    if added:
        # What a record read here is linked to is compared with it, as for a change.
        partners = _partners(session, added)
        add_partners(snapshot, partners, session.tps, session.qbo, mirror)
        add_referenced(session.rules, session.state, mirror, snapshot)
    return sum(len(ids) for ids in added.values())


def _partners(session: Session, added: dict[str, set[str]]) -> dict[str, set[str]]:
    """The linked partners of the records `added` (entity -> ids), by entity."""
    wanted: dict[str, set[str]] = {}
    for mapping in session.rules.mappings:
        for mine, other in ((mapping.source, mapping.target), (mapping.target, mapping.source)):
            ids = added.get(mine)
            if not ids:
                continue
            side, far = system_of(mine), system_of(other)
            for row in session.state.links_of(pair_of(mapping), ids):
                if row[f"{side}_id"] in ids:
                    wanted.setdefault(other, set()).add(str(row[f"{far}_id"]))
    return wanted


def _found(
    session: Session, mirror: Mirror, qualified: str, key_field: str, keys: list[str]
) -> dict[str, Record]:
    """The records of `qualified` whose `key_field` is one of `keys`, by their ids."""
    id_field = "id" if system_of(qualified) == "tps" else "Id"
    if key_field == id_field:
        found = Snapshot()  # by id: the mirror, or one read each through the connector
        add_partners(found, {qualified: set(keys)}, session.tps, session.qbo, mirror)
        return found.records(qualified)
    if qualified in MIRRORED:  # the run's reads brought the mirror up to date
        wanted = set(keys)
        return {
            ident_of(qualified, r): r
            for r in mirror.scan(qualified)
            if str(get_path(r, key_field)) in wanted  # a key may be dotted (Resolver.by_key)
        }
    if system_of(qualified) == "qbo":
        if "." in key_field:
            return {}  # QBO's query names a record's own properties, not a part of one
        return numbered_in_qbo(session, qualified, key_field, keys)
    return numbered_in_tps(session, qualified, key_field, set(keys))
