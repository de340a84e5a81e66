"""Voids and deletions carried across links. A void on either side of a link is written on
the other side, once. QBO deletes transactions for good: a deleted one that came from QBO
voids its TPS copy; one the engine wrote from TPS is listed, for the firm to void or
re-enter in TPS, never re-created behind its back. The planner (planner.py) asks both."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from tpsqbo_engine.ruleset.model import MappingRule
from tpsqbo_engine.sync.links import Links, pair_of, record_key, system_of
from tpsqbo_engine.sync.plan import Operation
from tpsqbo_engine.sync.planned_writes import version_of

if TYPE_CHECKING:
    from tpsqbo_engine.sync.plan_input import LinkRow, PlanInput

Record = dict[str, Any]


def void_across(
    given: PlanInput, mapping: MappingRule, key: str, record: Record, link: LinkRow
) -> list[Operation] | None:
    """A void on either side of a link is carried to the other side, once."""
    target_id = link.qbo_id if system_of(mapping.target) == "qbo" else link.tps_id
    target = given.snapshot.find(mapping.target, target_id)
    if target is None and key in given.reported:
        return []  # its partner was deleted in QBO and that was reported
    source_void, target_void = is_void(record), target is not None and is_void(target)
    if source_void == target_void:
        return [] if source_void else None
    # The void is written on the side that is not void yet; the link keeps both versions.
    written, other = (
        (mapping.target, mapping.source) if source_void else (mapping.source, mapping.target)
    )
    versions = {
        mapping.target: version_of(mapping.target, target),
        mapping.source: version_of(mapping.source, record),
    }
    return [
        Operation(
            mapping.id,
            key,
            "void",
            f"{mapping.target}:{target_id}",
            target_version=versions[written],
            peer_version=versions[other],
            content_hash=link.content_hash,
            rule=mapping.where,
            reverse=not source_void,
            message=f"voided in the {'source' if source_void else 'target'} system",
        )
    ]


def deletions(
    given: PlanInput,
    in_order: list[MappingRule],
    links: Links,
    rows: Mapping[str, Mapping[str, LinkRow]],
) -> Iterator[Operation]:
    """What QBO's deletions make of the records `in_order`'s mappings linked."""
    # Dependents first: a payment's TPS copy is voided before the invoice it paid.
    for mapping in reversed(in_order):
        qbo_side = mapping.source if system_of(mapping.source) == "qbo" else mapping.target
        tps_side = mapping.target if qbo_side == mapping.source else mapping.source
        for key in sorted(given.snapshot.deleted):
            qualified, _, qbo_id = key.partition(":")
            tps_id = links.other(pair_of(mapping), "qbo", qbo_id)
            row = rows.get(pair_of(mapping), {}).get(tps_id or "")
            if qualified != qbo_side or row is None or row.mapping != mapping.id:
                continue
            tps_record = given.snapshot.find(tps_side, row.tps_id)
            if tps_record is None or is_void(tps_record):
                continue
            tps_key = record_key(tps_side, row.tps_id)
            if tps_key in given.reported:
                continue  # listed once already
            if mapping.source == qbo_side:
                yield Operation(
                    mapping.id,
                    key,
                    "void",
                    tps_key,
                    rule=mapping.where,
                    target_version=version_of(tps_side, tps_record),
                    content_hash=row.content_hash,
                    message="deleted in QBO",
                )
            else:
                yield Operation(
                    mapping.id,
                    tps_key,
                    "exclude",  # from now on out of the sync, quietly
                    key,
                    level="Warning",
                    rule=mapping.where,
                    message="deleted in QBO; not created again. Void or re-enter it in "
                    "TPS, or take it out with `tpsqbo-engine ignore`",
                )


def is_void(record: Record) -> bool:
    """TPS says status void; QBO zeroes a voided transaction and says so in TxnStatus or
    the start of its PrivateNote."""
    if "status" in record and "id" in record:
        return record.get("status") == "void"
    return record.get("TxnStatus") == "Voided" or str(record.get("PrivateNote", "")).startswith(
        "Voided"
    )
