"""What a decided record's write is: a create, a link, an update or a refresh, and for a
mapping that goes both ways, what its conflict policy makes of changes on both sides.

The planner (planner.py) decides which record a source record goes to, or why it goes
nowhere; this module compares what the rules want with what is there, field by field.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tpsqbo_engine.dotted import get_path as _get
from tpsqbo_engine.dotted import put_path as _put
from tpsqbo_engine.expr import single_expression
from tpsqbo_engine.ruleset.model import MappingRule
from tpsqbo_engine.sync.compare import changed_part as _changed_part
from tpsqbo_engine.sync.compare import diff
from tpsqbo_engine.sync.compare import flatten as _flatten
from tpsqbo_engine.sync.compare import merged as _merged
from tpsqbo_engine.sync.compare import same as _same
from tpsqbo_engine.sync.conflicts import winner as conflict_winner
from tpsqbo_engine.sync.links import record_key, system_of
from tpsqbo_engine.sync.plan import NewRecordDiff, Operation
from tpsqbo_engine.sync.runtime import Resolver, content_hash, desired
from tpsqbo_engine.sync.snapshot import Snapshot

if TYPE_CHECKING:
    from tpsqbo_engine.sync.plan_input import LinkRow

Record = dict[str, Any]
REACTIVATE = "Active"


def version_of(qualified: str, record: Record | None) -> str:
    if record is None:
        return ""
    return str(
        record.get("version") if system_of(qualified) == "tps" else record.get("SyncToken", "")
    )


def writes_for(
    snapshot: Snapshot,
    reported: frozenset[str],
    resolver: Resolver,
    mapping: MappingRule,
    record: Record,
    source_id: str,
    target_id: str | None,
    want: Record,
    link: LinkRow | None,
) -> list[Operation]:
    """The write that makes the target (`target_id`, None for a new one) what the rules want,
    or none when the link says both sides are as the last sync left them."""
    key = record_key(mapping.source, source_id)
    source_version = version_of(mapping.source, record)
    if target_id is None:
        # No hash: the link a create makes keeps the hash of what was sent, its references
        # resolved (bookkeeping.written_digest), not of what was planned.
        return [
            Operation.of(
                mapping.id,
                key,
                "create",
                mapping.target,
                body=want,
                diff=NewRecordDiff(want),
                rule=mapping.where,
                peer_version=source_version,
            )
        ]
    # Reactivating is a one-time repair, not part of what the source says.
    digest = content_hash(
        want if REACTIVATE not in want else {k: v for k, v in want.items() if k != REACTIVATE}
    )
    current = snapshot.find(mapping.target, target_id)
    target = f"{mapping.target}:{target_id}"
    if current is None and (target in snapshot.deleted or key in reported):
        return []  # deleted in QBO: reported once by voids.deletions
    if current is None:
        return [
            Operation(
                mapping.id,
                key,
                "fail",
                target,
                level="Failed",
                rule=mapping.where,
                message=f"the linked {target} is gone; restore it, or take the "
                "record out with `tpsqbo-engine ignore`",
            )
        ]
    changes = diff(want, current, exact=mapping.conflict == "source_wins")
    version = version_of(mapping.target, current)

    def write(action: str) -> list[Operation]:
        return [
            Operation(
                mapping.id,
                key,
                action,
                target,
                body=_changed_part(want, changes) if action != "refresh" else {},
                diff=changes if action != "refresh" else {},
                target_version=version,
                content_hash=digest,
                rule=mapping.where,
                peer_version=source_version,
            )
        ]

    if link is None:
        return write("link")
    source_changed = link.content_hash != digest
    if REACTIVATE in want:  # made inactive in QBO since: made active again, alone
        (op,) = write("update")
        return [op if source_changed else replace(op, body={REACTIVATE: True})]
    linked_version = link.qbo_version if system_of(mapping.target) == "qbo" else link.tps_version
    if mapping.direction == "both" and version != linked_version:
        return _both_ways(
            resolver, mapping, record, key, target, current, want, changes, source_changed
        )
    if not source_changed and version == linked_version:
        return []
    if not changes:
        # The target moved on (a payment landed), or the source changed only as people
        # type (case, spaces): nothing to send, so nothing is written or reported; the link
        # keeps both versions and the new hash.
        return write("refresh")
    return write("update")


def _both_ways(
    resolver: Resolver,
    mapping: MappingRule,
    record: Record,
    key: str,
    target: str,
    current: Record,
    want: Record,
    changes: dict[str, list[Any]],
    source_changed: bool,
) -> list[Operation]:
    """The target changed since the last sync. Alone, its change flows back; with the
    source changed too, the mapping's conflict policy decides."""
    version = version_of(mapping.target, current)
    winner, why = "target", f"conflict: {mapping.conflict}"
    if source_changed and changes:
        winner, why = conflict_winner(mapping, changes, lambda: _newer(mapping, record, current))
    if winner == "flag":
        return [
            Operation(
                mapping.id,
                key,
                "review",
                target,
                level="Warning",
                diff=changes,
                rule=mapping.where,
                message=f"changed in both systems since the last sync; nothing written ({why})",
            )
        ]
    if winner == "source":
        return [
            Operation(
                mapping.id,
                key,
                "update",
                target,
                body=want,
                diff=changes,
                target_version=version,
                content_hash=content_hash(want),
                rule=mapping.where,
                peer_version=version_of(mapping.source, record),
            )
        ]
    back = _reverse(mapping, current, record)
    if not back:  # the target's change is one the source has no field for, or only typing
        return [_refresh(mapping, key, target, current, record, want)]
    after = desired(mapping, _merged(record, back), resolver)
    return [
        Operation(
            mapping.id,
            key,
            "update",
            target,
            body=back,
            diff={k: [_get(record, k), v] for k, v in _flatten(back).items()},
            target_version=version_of(mapping.source, record),
            peer_version=version,
            content_hash=content_hash(after),
            rule=mapping.where,
            reverse=bool(back),
        )
    ]


def _refresh(
    mapping: MappingRule, key: str, target: str, current: Record, record: Record, want: Record
) -> Operation:
    """Nothing to write either way: the link takes both records' versions as they are."""
    return Operation(
        mapping.id,
        key,
        "refresh",
        target,
        target_version=version_of(mapping.target, current),
        content_hash=content_hash(want),
        rule=mapping.where,
        peer_version=version_of(mapping.source, record),
    )


def _newer(mapping: MappingRule, record: Record, current: Record) -> str:
    stamps = {system_of(mapping.source): record, system_of(mapping.target): current}
    tps_time = str(stamps["tps"].get("updated_at", ""))
    meta = stamps["qbo"].get("MetaData")
    qbo_time = str(meta.get("LastUpdatedTime", "") if isinstance(meta, dict) else "")
    try:
        tps_newer = datetime.fromisoformat(
            tps_time.replace("Z", "+00:00")
        ) >= datetime.fromisoformat(qbo_time)
    except (ValueError, TypeError):  # TypeError: a stamp without its zone; no guessing it
        return "flag"
    source_is_tps = system_of(mapping.source) == "tps"
    return "source" if tps_newer == source_is_tps else "target"


def _reverse(mapping: MappingRule, target: Record, source: Record) -> Record:
    """For a `both` mapping: the source fields the target's invertible fields now imply."""
    back: Record = {}
    for rule in mapping.fields:
        if rule.one_way or rule.value is None:
            continue
        path = single_expression(rule.value.source) if isinstance(rule.value.source, str) else None
        if not path:
            continue
        value = _get(target, rule.path)
        if value is not None and not _same(value, _get(source, path)):
            _put(back, path, value)
    return back
