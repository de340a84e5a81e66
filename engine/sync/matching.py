"""Which target record a source record no link names goes to: the one pinned to it, the one
its mapping's match keys find among the target records (indexed once per plan), or a new
one; a review when the keys find several, or none and the mapping does not create.

A key finds a record by a value people reuse (an invoice number repeats across years,
offices, an earlier system), so what it finds is linked only when it is the same
customer's and in this sync's scope: linking is rewriting, and linking another customer's
paid 2021 invoice would move it, and its payment, to this one. Such a find is a review
naming both records, never a link, and never a new record repeating the number.

A later key is weaker evidence than the ones tried before it: what it finds is linked only
when no earlier key's values, held by both records, differ (a client found by name whose
email is another), and, for names, when they do not mark different legal forms ('Inc.'
and 'Ltd.': two companies). Otherwise it is the same review naming both."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tpsqbo_engine.dotted import get_path as _get
from tpsqbo_engine.filters import legal_forms, normalize_email, normalize_name, other_legal_forms
from tpsqbo_engine.ruleset.model import FieldRule, MappingRule, MatchKey
from tpsqbo_engine.sync.links import PENDING, Links, pair_of, record_key, system_of
from tpsqbo_engine.sync.plan import Operation
from tpsqbo_engine.sync.runtime import Resolver
from tpsqbo_engine.sync.snapshot import Snapshot

Record = dict[str, Any]
NORMALIZERS = {
    "exact": lambda v: str(v).strip(),
    "email": normalize_email,
    "company_name": normalize_name,
}
# How a record names its customer, per system: the field (as a mapping's fields write it)
# and the entity it names. A QBO customer or a TPS client itself names none.
OWNER_FIELDS = {"qbo": ("CustomerRef", "CustomerRef.value"), "tps": ("client_id",)}
OWNER_PATHS = {"qbo": "CustomerRef.value", "tps": "client_id"}
OWNERS = {"qbo": "qbo.Customer", "tps": "tps.Client"}
SYSTEMS = {"qbo": "QBO", "tps": "TPS"}
# (qualified entity, record) -> why this phase's exclusions leave the record out, or None
LeftOut = Callable[[str, Record], str | None]
_UNKNOWN = object()


def ident_of(qualified: str, record: Record) -> str:
    return str(record["id"] if qualified.startswith("tps.") else record["Id"])


class Matcher:
    """`pins`: (mapping, source id) -> target id, or "new"; `links`: what the plan has
    linked so far (a target already claimed is not matched again); `resolver` computes the
    customer a source record names, `left_out` says which targets the phase leaves out;
    `elsewhere` holds what a chunk's plan does not decide, found to be named, never linked."""

    def __init__(
        self,
        snapshot: Snapshot,
        pins: Mapping[tuple[str, str], str],
        links: Links,
        resolver: Resolver,
        left_out: LeftOut,
        elsewhere: Snapshot | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.pins = pins
        self.links = links
        self.resolver = resolver
        self.left_out = left_out
        self._index: dict[tuple[str, str, str], dict[Any, list[tuple[str, Record]]]] = {}
        self._owner_rules: dict[str, FieldRule | None] = {}
        # Records outside the snapshot a key may find (another chunk's): named, never linked.
        self.elsewhere = elsewhere
        self._foreign: set[str] = set()  # the keys of the records found only there

    def partner(
        self, mapping: MappingRule, record: Record, source_id: str
    ) -> str | Operation | None:
        """The target record's id, None for a new one, or an Operation that stops here."""
        pinned = self.pins.get((mapping.id, source_id))
        if pinned is not None:
            return None if pinned == "new" else pinned
        key = record_key(mapping.source, source_id)
        refused = ""  # why the first record a key found may not be linked
        for index, match in enumerate(mapping.match):
            candidates = self._candidates(mapping.target, match, record)
            if not candidates:
                continue
            claimed = (
                self.links.to_tps.get(pair_of(mapping), {})
                if system_of(mapping.target) == "qbo"
                else self.links.to_qbo.get(pair_of(mapping), {})
            )
            unclaimed = [
                (ident, target)
                for ident, target in candidates
                if ident not in claimed
                and not (mapping.on_inactive == "create" and target.get("Active") is False)
            ]
            agreeing, against = self._agreeing(mapping, record, source_id, index, unclaimed)
            found, why = self._fitting(mapping, record, source_id, match, agreeing)
            refused = refused or against or why
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                return _ambiguous(mapping, key, match, found)
        if refused:
            return _review(mapping, key, "Warning", refused)
        if mapping.on_unmatched == "create":
            return None
        level = "Warning" if mapping.on_unmatched == "review" else "Excluded"
        return _review(mapping, key, level, "no matching record; the mapping does not create one")

    def _agreeing(
        self,
        mapping: MappingRule,
        record: Record,
        source_id: str,
        index: int,
        candidates: list[tuple[str, Record]],
    ) -> tuple[list[tuple[str, Record]], str]:
        """The candidates key `index` found that nothing speaks against, and why the first
        other one is not linked: a stronger key (one tried before) whose values both records
        hold and which differ (another email), or, for names, legal forms that mark another
        company ('Inc.' and 'Ltd.'). A name is weak evidence, and linking rewrites."""
        agreeing: list[tuple[str, Record]] = []
        why = ""
        for ident, target in candidates:
            against = _disagreements(mapping, mapping.match[: index + 1], record, target)
            if not against:
                agreeing.append((ident, target))
            elif not why:
                why = _contradicted(
                    mapping, record, source_id, mapping.match[index], (ident, target), against
                )
        return agreeing, why

    def _fitting(
        self,
        mapping: MappingRule,
        record: Record,
        source_id: str,
        match: MatchKey,
        candidates: list[tuple[str, Record]],
    ) -> tuple[list[str], str]:
        """The candidates the record may be linked to, and why the first other one may not:
        the phase leaves it out, or it names another customer than the one the rules give
        the record (computed once, when a candidate names one)."""
        fitting: list[str] = []
        why = ""
        ours: Any = _UNKNOWN
        side = system_of(mapping.target)
        for ident, target in candidates:
            theirs = _get(target, OWNER_PATHS[side])
            left_out = self.left_out(mapping.target, target)
            named = theirs not in (None, "")
            if named and ours is _UNKNOWN:
                ours = self._owner(mapping, record)
            other = named and ours is not None and ours != str(theirs)
            if left_out is None and not other:
                if record_key(mapping.target, ident) not in self._foreign:  # this plan's own
                    fitting.append(ident)
            elif not why:
                not_for = self._name(side, ours, None) if other else ""
                why = self._refusal(mapping, source_id, match, (ident, target), left_out, not_for)
        return fitting, why

    def _owner(self, mapping: MappingRule, record: Record) -> str | None:
        """The id of the customer the mapping's fields give the record (as the target side
        names it: an id, or the placeholder of one this plan creates), or None when they
        give none. A failing rule fails the record here as it would a line later."""
        rule = self._owner_rules.get(mapping.id, _UNKNOWN)
        if rule is _UNKNOWN:
            names = OWNER_FIELDS[system_of(mapping.target)]
            rule = next((f for f in mapping.fields if f.path in names and f.value), None)
            self._owner_rules[mapping.id] = rule
        if not isinstance(rule, FieldRule) or rule.value is None:
            return None
        value = rule.value.evaluate(self.resolver.scope(mapping.source, record))
        if isinstance(value, Mapping):
            value = value.get("value")
        return None if value in (None, "") else str(value)

    def _refusal(
        self,
        mapping: MappingRule,
        source_id: str,
        match: MatchKey,
        candidate: tuple[str, Record],
        left_out: str | None,
        not_for: str,
    ) -> str:
        """What the firm reads: the record found, whose it is, why it is not linked (the
        phase leaves it out; it is not for `not_for`, the record's customer), and what to do."""
        ident, target = candidate
        side = system_of(mapping.target)
        number = _get(target, match.target)
        theirs = _get(target, OWNER_PATHS[side])
        whose = f" for {self._name(side, theirs, target)}" if theirs not in (None, "") else ""
        dated = target.get("TxnDate") or target.get("date")
        why = f"{number} exists in {SYSTEMS[side]}{whose} ({mapping.target}:{ident}"
        why += f", {dated})" if dated else ")"
        harms = []
        if not_for:
            why += f", not for {not_for}"
            harms.append("move it to another customer")
        if left_out is not None:
            why += f", which this sync leaves out: {left_out.rstrip('.')}"
            harms.append("rewrite it")
        refused = ", which QBO refuses" if side == "qbo" else ""
        return (
            f"{why}. Not linked (that would {' and '.join(harms)}) nor created (that would "
            f"repeat {number} in {SYSTEMS[side]}{refused}): renumber one of the two, or, if "
            f"they are the same, pin {source_id} to {ident} in the pins file (mapping "
            f"{mapping.id})"
        )

    def _name(self, side: str, ident: Any, named_in: Record | None) -> str:
        """A customer's name for messages: the one the reference carries, else the record's."""
        if named_in is not None:
            name = _get(named_in, "CustomerRef.name")
            if name:
                return str(name)
        qualified, text = OWNERS[side], str(ident)
        if text.startswith(PENDING):  # one this plan creates: "@pending:tps.Client:c-1"
            qualified, _, text = text[len(PENDING) :].rpartition(":")
        found = self.snapshot.find(qualified, text) or {}
        return str(found.get("DisplayName") or found.get("name") or f"{qualified}:{text}")

    def _candidates(
        self, qualified: str, key: MatchKey, record: Record
    ) -> list[tuple[str, Record]]:
        """The target records whose `key.target` equals the record's `key.source` once both are
        normalized, in the snapshot's order; the targets are indexed once per plan."""
        normalize = NORMALIZERS[key.normalize]
        index = self._index.get((qualified, key.target, key.normalize))
        if index is None:
            index = self._index[(qualified, key.target, key.normalize)] = {}
            for target in self._targets(qualified):
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

    def _targets(self, qualified: str) -> list[Record]:
        """The snapshot's records of the entity, then those only `elsewhere` holds."""
        own = self.snapshot.records(qualified)
        targets = list(own.values())
        if self.elsewhere is not None:
            system, entity = qualified.split(".", 1)
            for ident, target in self.elsewhere.side(system).get(entity, {}).items():
                if ident not in own:
                    self._foreign.add(record_key(qualified, ident))
                    targets.append(target)
        return targets


def _disagreements(
    mapping: MappingRule,
    keys: tuple[MatchKey, ...] | list[MatchKey],
    record: Record,
    target: Record,
) -> list[str]:
    """What speaks against linking two records the last of `keys` found alike: each earlier
    key whose values both hold and differ, and the legal forms of names that differ."""
    ours, theirs = SYSTEMS[system_of(mapping.source)], SYSTEMS[system_of(mapping.target)]
    *stronger, found_by = keys
    against = []
    for key in stronger:
        mine, other = _get(record, key.source), _get(target, key.target)
        if mine in (None, "") or other in (None, ""):
            continue
        normalize = NORMALIZERS[key.normalize]
        if normalize(mine) != normalize(other):
            shown = str(mine).strip(), str(other).strip()
            against.append(f"another {key.target} ({shown[0]} in {ours}, {shown[1]} in {theirs})")
    if found_by.normalize == "company_name":
        mine, other = _get(record, found_by.source), _get(target, found_by.target)
        if other_legal_forms(mine, other):
            forms = " ".join(sorted(legal_forms(mine))), " ".join(sorted(legal_forms(other)))
            against.append(
                f"another legal form, so another company ({forms[0]} in {ours}, "
                f"{forms[1]} in {theirs})"
            )
    return against


def _contradicted(
    mapping: MappingRule,
    record: Record,
    source_id: str,
    match: MatchKey,
    candidate: tuple[str, Record],
    against: list[str],
) -> str:
    """What the firm reads: both records, what found one for the other and what speaks
    against linking them, and the two ways to settle it. The first sentence, all a record
    waiting on this review repeats, holds no value that may itself hold a full stop."""
    ident, target = candidate
    ours, theirs = SYSTEMS[system_of(mapping.source)], SYSTEMS[system_of(mapping.target)]
    return (
        f"{record_key(mapping.source, source_id)} and {mapping.target}:{ident} match by "
        f"{match.target}, but {' and '.join(against)}. {_get(record, match.source)} in "
        f"{ours}, {_get(target, match.target)} in {theirs}: not linked (that would rewrite "
        f"{mapping.target}:{ident} as {source_id}, two records on one); if they are the "
        f"same, pin {source_id} to {ident} in the pins file (mapping {mapping.id}); if "
        f"not, pin {source_id} to new"
    )


def _review(mapping: MappingRule, key: str, level: str, message: str) -> Operation:
    return Operation(
        mapping.id, key, "review", mapping.target, level=level, rule=mapping.where, message=message
    )


def _ambiguous(mapping: MappingRule, key: str, match: MatchKey, found: list[str]) -> Operation:
    return _review(
        mapping,
        key,
        "Warning" if mapping.on_ambiguous == "review" else "Excluded",
        f"{len(found)} records match by {match.target} "
        f"({', '.join(found[:5])}); pin one in the pins file",
    )
