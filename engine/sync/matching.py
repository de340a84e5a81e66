"""Which target record a source record no link names goes to: the one pinned to it, the one
its mapping's match keys find among the target records (indexed once per plan), or a new
one; a review when the keys find several, or none and the mapping does not create."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tpsqbo_engine.filters import normalize_email, normalize_name
from tpsqbo_engine.ruleset.model import MappingRule, MatchKey
from tpsqbo_engine.sync.compare import get_path as _get
from tpsqbo_engine.sync.plan import Operation
from tpsqbo_engine.sync.runtime import Links, pair_of, record_key, system_of
from tpsqbo_engine.sync.snapshot import Snapshot

Record = dict[str, Any]
NORMALIZERS = {
    "exact": lambda v: str(v).strip(),
    "email": normalize_email,
    "company_name": normalize_name,
}


def ident_of(qualified: str, record: Record) -> str:
    return str(record["id"] if system_of(qualified) == "tps" else record["Id"])


class Matcher:
    """`pins`: (mapping, source id) -> target id, or "new"; `links`: what the plan has
    linked so far (a target already claimed is not matched again)."""

    def __init__(
        self, snapshot: Snapshot, pins: Mapping[tuple[str, str], str], links: Links
    ) -> None:
        self.snapshot = snapshot
        self.pins = pins
        self.links = links
        self._index: dict[tuple[str, str, str], dict[Any, list[tuple[str, Record]]]] = {}

    def partner(
        self, mapping: MappingRule, record: Record, source_id: str
    ) -> str | Operation | None:
        """The target record's id, None for a new one, or an Operation that stops here."""
        pinned = self.pins.get((mapping.id, source_id))
        if pinned is not None:
            return None if pinned == "new" else pinned
        for key in mapping.match:
            candidates = self._candidates(mapping.target, key, record)
            if not candidates:
                continue
            claimed = (
                self.links.to_tps.get(pair_of(mapping), {})
                if system_of(mapping.target) == "qbo"
                else self.links.to_qbo.get(pair_of(mapping), {})
            )
            found = [
                ident
                for ident, target in candidates
                if ident not in claimed
                and not (mapping.on_inactive == "create" and target.get("Active") is False)
            ]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                return _ambiguous(mapping, record_key(mapping.source, source_id), key, found)
        if mapping.on_unmatched == "create":
            return None
        level = "Warning" if mapping.on_unmatched == "review" else "Excluded"
        return Operation(
            mapping.id,
            record_key(mapping.source, source_id),
            "review",
            mapping.target,
            level=level,
            rule=mapping.where,
            message="no matching record; the mapping does not create one",
        )

    def _candidates(
        self, qualified: str, key: MatchKey, record: Record
    ) -> list[tuple[str, Record]]:
        """The target records whose `key.target` equals the record's `key.source` once both are
        normalized, in the snapshot's order; the targets are indexed once per plan."""
        normalize = NORMALIZERS[key.normalize]
        index = self._index.get((qualified, key.target, key.normalize))
        if index is None:
            index = self._index[(qualified, key.target, key.normalize)] = {}
            for target in self.snapshot.records(qualified).values():
                found = _get(target, key.target)
                if found not in (None, ""):
                    index.setdefault(normalize(found), []).append(
                        (ident_of(qualified, target), target)
                    )
        if not index:  # nothing to match (an initial sync into an empty company)
            return []
        value = _get(record, key.source)
        if value in (None, ""):
            return []
        return index.get(normalize(value), [])


def _ambiguous(mapping: MappingRule, key: str, match: MatchKey, found: list[str]) -> Operation:
    return Operation(
        mapping.id,
        key,
        "review",
        mapping.target,
        level="Warning" if mapping.on_ambiguous == "review" else "Excluded",
        rule=mapping.where,
        message=f"{len(found)} records match by {match.target} "
        f"({', '.join(found[:5])}); pin one in the pins file",
    )
