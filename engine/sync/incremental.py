"""What a run plans from. The initial run, or one asked to, reads both systems whole; any
other reads what changed since the cursors (TPS's `updated_at`, QBO's CDC), lets the
echoes of the engine's own writes go, and adds what the changes need: their partners, the
records failed or unignored since, the open invoices of changed clients, and the clients
and customers they name (engine/sync/referenced.py), looked up by index."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tpsqbo_engine.connectors.qbo.wire import quote
from tpsqbo_engine.dotted import get_path
from tpsqbo_engine.ruleset.model import MappingRule
from tpsqbo_engine.sync.balances import refresh_balances
from tpsqbo_engine.sync.links import pair_of, system_of
from tpsqbo_engine.sync.mirror import MIRRORED, Mirror, too_old
from tpsqbo_engine.sync.planner import version_of
from tpsqbo_engine.sync.referenced import Echoes, add_referenced
from tpsqbo_engine.sync.snapshot import (
    ALWAYS_WHOLE,
    TPS_RESOURCES,
    Cursors,
    Snapshot,
    add_partners,
    entities_used,
    read_snapshot,
)

if TYPE_CHECKING:
    from tpsqbo_engine.sync.session import Session

Record = dict[str, Any]
PARTNER_PASSES = 4
CUSTOMERS_PER_QUERY = 100


def read_for_run(session: Session, *, whole: bool = False) -> Snapshot:
    """What to plan from: everything on the initial run (or when asked), else the
    lists plus what changed since the cursors, with the partners of those changes."""
    names = entities_used(session.rules)
    mirror = Mirror(session.state)
    since = session.state.cursor("qbo")
    if whole or session.phase == "initial" or not since or too_old(since):
        return _read_whole(session, names, mirror, since, whole=whole)
    snapshot = _read_changed(session, names, mirror, since)
    _add_all_partners(session, snapshot, mirror)
    add_referenced(session.rules, session.state, mirror, snapshot)
    return snapshot


def _read_whole(
    session: Session, names: set[str], mirror: Mirror, since: str, *, whole: bool
) -> Snapshot:
    from tpsqbo_engine.sync.scope import history_slimmer

    initial = session.phase == "initial" and not whole
    slim = history_slimmer(session.rules) if initial else None
    snapshot = read_snapshot(session.tps, session.qbo, names, mirror=mirror, slim=slim)
    if not whole and session.phase != "initial" and since:
        snapshot.notes.append(
            "read both systems whole: the last sync is older than the 30 days QBO's "
            "CDC looks back over (the mirror of the lists and customers was rebuilt)"
        )
    return snapshot


def _read_changed(session: Session, names: set[str], mirror: Mirror, since: str) -> Snapshot:
    """What changed since the cursors, less the echoes of the engine's own writes."""
    cursors = Cursors(
        {
            name.split(".", 1)[1]: session.state.cursor(name)
            for name in names
            if name.startswith("tps.")
        },
        since,
    )
    why = mirror.unusable(session.qbo.realm_id, since, names & MIRRORED)
    echo = Echoes(session.rules, session.state)
    snapshot = read_snapshot(
        session.tps, session.qbo, names, cursors, mirror, rebuild=bool(why), echo=echo
    )
    _drop_echoes(session, snapshot)
    if why:
        snapshot.notes.append(f"{why}: read them whole and kept them for the next runs")
    else:
        # After the echoes: the engine's own writes go to linked customers, whose
        # Balance no rule of the other direction reads.
        refresh_balances(snapshot, session.qbo, mirror)
    return snapshot


def _add_all_partners(session: Session, snapshot: Snapshot, mirror: Mirror) -> None:
    add_partners(snapshot, _again(session), session.tps, session.qbo, mirror)
    add_partners(snapshot, _pinned(session, snapshot), session.tps, session.qbo, mirror)
    _add_numbered(session, snapshot)
    add_partners(snapshot, _referring_again(session, snapshot), session.tps, session.qbo, mirror)
    changed_clients = _open_invoices_of_changed_clients(session, snapshot)
    add_partners(snapshot, changed_clients, session.tps, session.qbo, mirror)
    # A partner can bring its own partners under another mapping (a credit memo a payment
    # now applies -> its adjustment -> that adjustment's application payment): a few
    # passes, each loading only what is still missing.
    for _ in range(PARTNER_PASSES):
        wanted = {
            q: missing
            for q, ids in _partners(session, snapshot).items()
            if (missing := ids - set(snapshot.records(q)))
        }
        if not wanted:
            break
        add_partners(snapshot, wanted, session.tps, session.qbo, mirror)


def _drop_echoes(session: Session, snapshot: Snapshot) -> None:
    """A record read as changed whose version is the one the last sync left it at is
    the echo of the engine's own write: nothing to do for it or its partner."""
    for mapping in session.rules.mappings:
        rows = session.state.links_of(pair_of(mapping), _ids(snapshot, mapping))
        for qualified in (mapping.source, mapping.target):
            if qualified in ALWAYS_WHOLE or qualified in MIRRORED:
                continue  # whole lists, not what changed
            system = qualified.split(".", 1)[0]
            versions = {r[f"{system}_id"]: r[f"{system}_version"] for r in rows}
            records = snapshot.records(qualified)
            for ident in [
                i
                for i, record in records.items()
                if versions.get(i) and versions[i] == version_of(qualified, record)
            ]:
                del records[ident]


def _open_invoices_of_changed_clients(session: Session, snapshot: Snapshot) -> dict[str, set[str]]:
    """Invoice rules read their client (its email becomes the invoice's BillEmail): when a
    client changed, its open invoices are looked at again too."""
    clients = next((m for m in session.rules.mappings if m.source == "tps.Client"), None)
    invoices = next((m for m in session.rules.mappings if m.source == "tps.Invoice"), None)
    if clients is None or invoices is None:
        return {}
    read = set(snapshot.records("tps.Client"))
    client_links = {r["tps_id"]: r for r in session.state.links_of(pair_of(clients), read)}
    customers = sorted(
        link["qbo_id"]
        for ident, record in snapshot.records("tps.Client").items()
        if (link := client_links.get(ident)) is not None
        and link["tps_version"] != version_of("tps.Client", record)
    )
    found: set[str] = set()
    # A query per hundred changed clients, not one per client.
    for start in range(0, len(customers), CUSTOMERS_PER_QUERY):
        chunk = ", ".join(quote(c) for c in customers[start : start + CUSTOMERS_PER_QUERY])
        where = f"CustomerRef IN ({chunk}) AND Balance > '0'"
        found |= {str(i["Id"]) for i in session.qbo.query_all("Invoice", where)}
    to_tps = {r["qbo_id"]: r["tps_id"] for r in session.state.links_of(pair_of(invoices), found)}
    wanted = {to_tps[i] for i in found if i in to_tps}
    return {"tps.Invoice": wanted} if wanted else {}


def _again(session: Session) -> dict[str, set[str]]:
    """Unchanged records that still need a look: failed or held for review last time, or
    unignored."""
    wanted: dict[str, set[str]] = {}
    again = session.failed_records() | session.state.latest_reviews()
    for record in again | session.state.to_reconsider():
        qualified, _, ident = record.partition(":")
        wanted.setdefault(qualified, set()).add(ident)
    return wanted


def _add_numbered(session: Session, snapshot: Snapshot) -> None:
    """The unlinked records of the other system that the snapshot's unlinked records could
    match by an exact key of their own field (an invoice's number), both ways: a new or
    reviewed TPS invoice meets the QBO invoice of its number, and a new QBO invoice the TPS
    invoice of its number, unchanged and so unread (paid history the initial sync left
    out), as in the initial sync: a review naming it, or a link, never a second record of
    the number (nor QBO's refusal of it)."""
    for mapping in session.rules.mappings:
        target = mapping.target
        if target in MIRRORED | ALWAYS_WHOLE:
            continue
        records = snapshot.records(mapping.source)
        pair = pair_of(mapping)
        side = system_of(mapping.source)
        linked = {r[f"{side}_id"] for r in session.state.links_of(pair, set(records))}
        unlinked = {i: r for i, r in records.items() if i not in linked}
        if side == "qbo" and unlinked:
            unlinked = _unless_reviewed(session, snapshot, mapping, unlinked)
        for key in [k for k in mapping.match if k.normalize == "exact" and "." not in k.target]:
            given = (get_path(r, key.source) for r in unlinked.values())
            values = sorted({str(v).strip() for v in given if v not in (None, "")} - {""})
            if not values:
                continue
            if side == "tps":
                found = numbered_in_qbo(session, target, key.target, values)
            else:
                found = numbered_in_tps(session, target, key.target, set(values))
            other = system_of(target)
            for row in session.state.links_of(pair, set(found)):
                found.pop(row[f"{other}_id"], None)  # another's partner: matched by none
            for ident, record in found.items():
                snapshot.records(target).setdefault(ident, record)


def _unless_reviewed(
    session: Session, snapshot: Snapshot, mapping: MappingRule, unlinked: dict[str, Record]
) -> dict[str, Record]:
    """Of unlinked QBO records, those not held for review over the TPS record of their
    number: that one is read by its id, as the review named it, so a review waiting on the
    firm costs a read, not TPS's whole list, every run."""
    reviews = session.state.latest_reviews()
    named = re.compile(rf"\({re.escape(mapping.target)}:([^,)\s]+)")
    rest, wanted = dict(unlinked), set()
    for ident in [i for i in unlinked if f"{mapping.source}:{i}" in reviews]:
        said = session.state.items(record=f"{mapping.source}:{ident}")
        found = named.search(said[-1]["message"]) if said else None
        if found is not None:
            wanted.add(found.group(1))
            del rest[ident]
    if wanted:
        add_partners(snapshot, {mapping.target: wanted}, session.tps, session.qbo)
    return rest


def numbered_in_qbo(
    session: Session, target: str, field: str, values: list[str]
) -> dict[str, Record]:
    """The QBO records whose `field` is one of `values`: a query per hundred values."""
    found: dict[str, Record] = {}
    for start in range(0, len(values), CUSTOMERS_PER_QUERY):
        listed = ", ".join(quote(v) for v in values[start : start + CUSTOMERS_PER_QUERY])
        where = f"{field} IN ({listed})"
        found.update({str(r["Id"]): r for r in session.qbo.query_all(target[4:], where)})
    return found


def numbered_in_tps(
    session: Session, target: str, field: str, values: set[str]
) -> dict[str, Record]:
    """The TPS records whose `field` is one of `values`. TPS's API looks nothing up by a
    field, so its list is read whole (paged, bounded by the client): only in a run that
    reads an unlinked QBO record with such a value (an invoice raised in QBO), which is
    what keeps a number from being given to a second TPS invoice."""
    resource = TPS_RESOURCES[target.split(".", 1)[1]]
    return {
        str(r["id"]): r
        for r in session.tps.records(resource)
        if str(get_path(r, field) or "").strip() in values
    }


def _referring_again(session: Session, snapshot: Snapshot) -> dict[str, set[str]]:
    """Records the initial sync left out with a record they refer to, unchanged since and so
    unread, in the run after that record is linked (or its link written), or when it is
    read again: a walk-in's open QBO invoice goes across once its client is added in TPS
    and linked to the customer (the planner decides whether what left it out still holds).
    Once, not every run: a record the reference no longer leaves out may stay out for
    another reason (paid history of that customer). And the record a deleted one referred
    to (the paid invoice of a deleted QBO payment)."""
    referring = session.state.left_out_with()
    if not referring:
        return {}
    # the last sync's start: a reconcile or an undo since is no sync reading it
    synced = [r for r in session.state.runs(100) if r["phase"] in ("initial", "ongoing")]
    since = str(synced[0]["started_at"]) if synced else ""
    pairs = {pair_of(m) for m in session.rules.mappings}
    ids = {key.partition(":")[2] for key in [*referring, *referring.values()]}
    linked: dict[str, str] = {}  # record -> when its link was last written
    for pair, rows in session.state.links_of_pairs(pairs, ids).items():
        for row in rows:
            for side, entity in zip(("tps", "qbo"), pair.split("|"), strict=True):
                linked[f"{side}.{entity}:{row[f'{side}_id']}"] = str(row["updated_at"])
    wanted: dict[str, set[str]] = {}
    for record, referred in referring.items():
        qualified, _, ident = record.partition(":")
        referred_entity, _, referred_id = referred.partition(":")
        if record in snapshot.deleted and referred not in linked:
            # a QBO payment of paid history deleted: the invoice it paid is owed again, read
            # it even where QBO's CDC does not give it as changed
            wanted.setdefault(referred_entity, set()).add(referred_id)
        if record in linked or ident in snapshot.records(qualified):
            continue  # gone across since, or read already
        newly = referred in linked and linked[referred] >= since
        if newly or referred_id in snapshot.records(referred_entity):
            wanted.setdefault(qualified, set()).add(ident)
    return wanted


def _pinned(session: Session, snapshot: Snapshot) -> dict[str, set[str]]:
    """The records pinned to the ones read: a pin settles a review (engine/sync/matching.py)
    with a record nothing else brings in."""
    mappings = {m.id: m for m in session.rules.mappings}
    wanted: dict[str, set[str]] = {}
    for (mapping_id, source), target in session.pins().items():
        mapping = mappings.get(mapping_id)
        if mapping is not None and target != "new" and source in snapshot.records(mapping.source):
            wanted.setdefault(mapping.target, set()).add(target)
    return wanted


def _partners(session: Session, snapshot: Snapshot) -> dict[str, set[str]]:
    wanted: dict[str, set[str]] = {}
    for mapping in session.rules.mappings:
        tps_side, qbo_side = (
            (mapping.source, mapping.target)
            if mapping.source.startswith("tps.")
            else (mapping.target, mapping.source)
        )
        gone = {key.split(":", 1)[1] for key in snapshot.deleted if key.startswith(f"{qbo_side}:")}
        rows = session.state.links_of(pair_of(mapping), _ids(snapshot, mapping) | gone)
        to_qbo = {r["tps_id"]: r["qbo_id"] for r in rows}
        to_tps = {r["qbo_id"]: r["tps_id"] for r in rows}
        for ident in snapshot.records(tps_side):
            if ident in to_qbo:
                wanted.setdefault(qbo_side, set()).add(to_qbo[ident])
        for ident in [*snapshot.records(qbo_side), *gone]:
            if ident in to_tps:
                wanted.setdefault(tps_side, set()).add(to_tps[ident])
    return wanted


def _ids(snapshot: Snapshot, mapping: MappingRule) -> set[str]:
    """The ids of the records the snapshot holds on either side of a mapping."""
    return {str(i) for q in (mapping.source, mapping.target) for i in snapshot.records(q)}
