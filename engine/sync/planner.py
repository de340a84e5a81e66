"""The planner: rules + both systems' records + the state's links -> a Plan. No I/O.

For each mapping, in dependency order, each source record is decided in this order: ignored
by hand; owned by the other direction (a record the engine itself wrote); filtered out by
the mapping's `when`; excluded by an exclusion rule for this phase; linked already, matched
by the mapping's keys (only to a record of the same customer the sync keeps in, else held
for review: engine/sync/matching.py; pins decide ambiguous ones), or new. Then the target
record the rules want is computed and compared with what is there, field by field.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from tpsqbo_engine.filters import ExpressionError
from tpsqbo_engine.ruleset.model import Action, ExclusionRule, MappingRule
from tpsqbo_engine.sync.credits import left_out_part
from tpsqbo_engine.sync.links import Links, pair_of, record_key, system_of
from tpsqbo_engine.sync.markers import marker_of
from tpsqbo_engine.sync.matching import Matcher, ident_of
from tpsqbo_engine.sync.plan import Operation, Plan
from tpsqbo_engine.sync.plan_input import LinkRow, PlanInput
from tpsqbo_engine.sync.planned_writes import REACTIVATE, writes_for
from tpsqbo_engine.sync.planned_writes import version_of as version_of  # session, undo
from tpsqbo_engine.sync.runtime import REFERS_TO, ExcludedReference, Resolver, desired, wanted
from tpsqbo_engine.sync.unapplied import split_lines, warning
from tpsqbo_engine.sync.voids import deletions, void_across

Record = dict[str, Any]
# A record a mapping's `when:` leaves out comes back when it qualifies; what the exclusions
# left out of the initial sync stays out while the exclusion holds (Planner._still_left_out).
OUT_OF_SCOPE = "left out by the mapping's when"
RESOLVED = (
    "nothing to write: both systems already hold what the rules want (the earlier failure "
    "is resolved)"
)
# Records decided between two settings aside of what the plan keeps (see _snapshot_set_aside).
SET_ASIDE_EVERY = 200


@contextmanager
def _snapshot_set_aside() -> Iterator[None]:
    """Everything alive when planning starts (the snapshot, the rules) set aside from the
    cycle collector's passes while a plan is made (`gc.freeze`): planning makes many small
    objects and keeps most of them, so the collector ran again and again over the whole
    snapshot for almost nothing (bench/plan.py). What the plan keeps is set aside too, every
    SET_ASIDE_EVERY records: its older-generation passes otherwise walked every operation
    made so far (0.25 s of a 2.7 s plan at large:2000, 0.02 s so; setting aside costs next
    to nothing, it moves lists). The collector stays on, as the process's other threads
    need it, and collects the cycles a template failing per record leaves behind as the
    plan goes (the ones alive at a setting aside wait for the end). Set back after
    (`gc.unfreeze`), plan made or not."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def ordered(mappings: Iterable[MappingRule]) -> list[MappingRule]:
    """Dependencies first. Depending on a mapping means depending on its links, so also on
    every other mapping that writes links of the same pair (a pack's walk-in customers
    mapping makes clients too, and invoices must see them)."""
    by_id = {m.id: m for m in mappings}
    by_pair: dict[str, list[MappingRule]] = {}
    for mapping in by_id.values():
        by_pair.setdefault(pair_of(mapping), []).append(mapping)
    done: list[MappingRule] = []
    seen: set[str] = set()

    def visit(mapping: MappingRule) -> None:
        if mapping.id in seen:
            return
        seen.add(mapping.id)
        for dependency in mapping.depends_on:
            if dependency in by_id:
                for same_links in by_pair[pair_of(by_id[dependency])]:
                    if same_links.id != mapping.id:
                        visit(same_links)
        done.append(mapping)

    for mapping in by_id.values():
        visit(mapping)
    return done


class Planner:
    def __init__(self, given: PlanInput) -> None:
        self.given = given
        self.links = Links()
        for pair, rows in given.links.items():
            for row in rows:
                self.links.add(pair, row.tps_id, row.qbo_id)
        self.rows = {pair: {r.tps_id: r for r in rows} for pair, rows in given.links.items()}
        # Which mapping wrote or linked each record, on both sides and across all pairs: a
        # record another mapping owns is not this mapping's to write.
        self.owner: dict[str, str] = {}
        for pair, rows in given.links.items():
            tps_entity, qbo_entity = pair.split("|")
            for row in rows:
                self.owner[record_key(f"tps.{tps_entity}", row.tps_id)] = row.mapping
                self.owner[record_key(f"qbo.{qbo_entity}", row.qbo_id)] = row.mapping
        self.resolver = Resolver(
            given.rules, given.snapshot, self.links, today_is=lambda: given.clock().date()
        )
        self.operations: list[Operation] = []
        self._mappings = {m.id: m for m in given.rules.mappings}
        self.matcher = Matcher(
            given.snapshot,
            given.pins,
            self.links,
            self.resolver,
            self._left_out_target,
            given.elsewhere,
        )
        # (entity, initial) -> the exclusion rules that can leave its records out in that
        # phase, each with what it says of a record it leaves out
        self._exclusions: dict[tuple[str, bool], list[tuple[ExclusionRule, _Exclusion]]] = {}
        # What the initial sync left out and no run has linked since: out while the reason
        # that left it out holds (_still_left_out), and what refers to it with it.
        self.left_out = {k: why for k, why in given.left_out.items() if k not in self.owner}
        if given.phase != "initial":
            self.links.excluded.update(self.left_out)

    def plan(self) -> Plan:
        in_order = ordered(self.given.rules.mappings)
        with _snapshot_set_aside():
            for mapping in in_order:
                records = list(self.given.snapshot.records(mapping.source).values())
                for start in range(0, len(records), SET_ASIDE_EVERY):
                    for record in records[start : start + SET_ASIDE_EVERY]:
                        self.operations.extend(self._decide(mapping, record))
                    gc.freeze()  # what the plan keeps so far, set aside too
            self.operations.extend(deletions(self.given, in_order, self.links, self.rows))
            self._unmapped_exclusions()
        return Plan(
            self.given.phase, self.operations, self.given.clock().isoformat(timespec="seconds")
        )

    # One record -----------------------------------------------------------------------------
    def _decide(self, mapping: MappingRule, record: Record) -> list[Operation]:
        source_id = ident_of(mapping.source, record)
        key = record_key(mapping.source, source_id)

        def note(action: str, level: str, message: str, rule: str = "") -> list[Operation]:
            return [
                Operation.of(
                    mapping.id, key, action, mapping.target, level=level, message=message, rule=rule
                )
            ]

        if key in self.given.ignored:
            return note("ignore", "Ignored", f"ignored by hand: {self.given.ignored[key]}")
        reopened = ""
        if key in self.left_out and self.given.phase != "initial":
            try:
                still = self._still_left_out(mapping.source, key, record)
            except ExpressionError as failure:
                return note("fail", "Failed", failure.told)
            if still is not None:
                self.links.excluded[key] = still
                return []  # reported once, in the initial run
            reopened = _reopened(self.left_out.pop(key))
            self.links.excluded.pop(key, None)
        owner = self.owner.get(key)
        owned = owner is not None and self._owned_elsewhere(mapping, owner)
        if owned or _engine_marked(mapping, record, owner):
            return []  # another mapping wrote or linked it (e.g. the TPS invoice behind it)
        link = self._link(pair_of(mapping), mapping, source_id)
        if link is not None:
            voids = void_across(self.given, mapping, key, record, link)
            if voids is not None:
                return voids
        carried = warned = ""
        paid: str | None = None  # a payment's invoice, when it paid only invoices left out
        try:
            if mapping.source == "tps.Payment":
                left_out = _Either(self.links.excluded, self.left_out)
                part, paid = left_out_part(record, left_out)
                if part is not None:
                    record, carried = part
            if not wanted(mapping, record, self.resolver):
                return self._out_of_scope(mapping, key, record)
            # Scope follows changes: linked records are held to the exclusions every run too
            # (a client moved into an excluded office stops syncing, and says why).
            excluded = self._excluded(mapping.source, record)
            if excluded is not None:
                self.links.excluded[key] = excluded.message
                if key in self.given.reported and excluded.action is not Action.BLOCK:
                    return []  # said once, in the run that first met it
                action, level = excluded.outcome()
                return note(action, level, excluded.message, excluded.rule)
            target_id = self._partner(mapping, record, source_id, link)
            if isinstance(target_id, Operation):
                if target_id.action == "review":  # what refers to it says why it waits
                    self.links.held[key] = target_id.message.split(". ", 1)[0]
                return [target_id]
            self._claim(mapping, key, source_id, target_id, link)
            inactive = self._inactive(mapping, target_id)
            if inactive and mapping.on_inactive == "review":
                return note(
                    "review",
                    "Warning",
                    f"{inactive} is inactive in QBO (on_inactive: review): reactivate it in QBO, "
                    "or pin another record",
                    mapping.where,
                )
            self.resolver.writing(mapping.target, target_id)
            if paid is not None:  # stays out with its invoices, whatever its fields would say
                reason = self.links.excluded.get(paid) or self.left_out[paid]
                raise ExcludedReference(paid, reason)
            want = desired(mapping, record, self.resolver)
            warned = self._unapplied(mapping, record)
            if inactive:
                want[REACTIVATE] = True
        except ExcludedReference as excluded_reference:
            self.links.excluded[key] = excluded_reference.reason
            if key in self.given.reported:
                return []  # said once, in the run that first met it
            return note("exclude", "Excluded", str(excluded_reference))
        except ExpressionError as failure:
            return note("fail", "Failed", failure.told, mapping.where)
        if inactive and mapping.on_inactive == "reactivate":
            carried = f"reactivates {inactive}, which is inactive in QBO, before anything uses it"
        writes = writes_for(
            self.given.snapshot,
            self.given.reported,
            self.resolver,
            mapping,
            record,
            source_id,
            target_id,
            want,
            link,
        )
        if not writes and (mapping.id, key) in self.given.failed:
            return note("resolved", "Successful", RESOLVED)
        return _told(writes, reopened, carried, warned)

    def _claim(
        self,
        mapping: MappingRule,
        key: str,
        source_id: str,
        target_id: str | None,
        link: LinkRow | None,
    ) -> None:
        """What later records see of this one's partner: a record this plan creates, or one
        matched or pinned now (later records may refer to it already)."""
        if target_id is None:
            self.links.planned.add(key)
        elif link is None:
            tps_side = system_of(mapping.source) == "tps"
            pair_ids = (source_id, target_id) if tps_side else (target_id, source_id)
            self.links.add(pair_of(mapping), *pair_ids)
            self.owner[record_key(mapping.target, target_id)] = mapping.id

    def _unapplied(self, mapping: MappingRule, record: Record) -> str:
        """The Warning for a QBO payment whose TPS payment keeps unapplied what paid a
        finance charge's QBO invoice (engine/sync/unapplied.py), or ''."""
        if system_of(mapping.source) != "qbo" or mapping.target != "tps.Payment":
            return ""
        rules = self.given.rules
        left = split_lines(record.get("Line"), "the payment's Line", rules, self.links)[1]
        return warning([part for _, part in left]) if left else ""

    def _owned_elsewhere(self, mapping: MappingRule, owner: str | None) -> bool:
        """Whether another mapping linked the record as its own: one that wrote it, or that
        reads it into the same pair. A mapping reading the same records into another pair
        (an adjustment's credit memo, and the same adjustment's application to an invoice)
        leaves it to this one's own decision."""
        if owner in (None, "", mapping.id):
            return False
        other = self._mappings.get(str(owner))
        return other is None or other.source != mapping.source or pair_of(other) == pair_of(mapping)

    def _out_of_scope(self, mapping: MappingRule, key: str, record: Record) -> list[Operation]:
        """A record the mapping's `when:` leaves out: Excluded, with the rule's place, once,
        unless another mapping of the same records takes it (an adjustment increase is out
        of the decreases' scope, not out of the sync)."""
        if key in self.given.reported or mapping.when is None:
            return []
        for other in self.given.rules.mappings:
            if other.source != mapping.source or other.id == mapping.id:
                continue
            try:
                if wanted(other, record, self.resolver):
                    return []
            except ExpressionError:
                return []  # that mapping reports its own failure
        return [
            Operation(
                mapping.id,
                key,
                # not "exclude": the initial sync's exclusions stay out while they hold, a
                # record out of scope syncs as soon as its when: holds again
                "out-of-scope",
                mapping.target,
                level="Excluded",
                message=f"{OUT_OF_SCOPE}: {mapping.when.source}",
                rule=mapping.when.where,
            )
        ]

    def _unmapped_exclusions(self) -> None:
        """Records no mapping reads (QBO journal entries, deposits...) are still checked
        against the exclusions, so the checklist and the history can name them. Each is
        reported once, in the run that first meets it."""
        sources = {m.source for m in self.given.rules.mappings}
        for entity in sorted({r.entity for r in self.given.rules.exclusions} - sources):
            for record in self.given.snapshot.records(entity).values():
                key = record_key(entity, ident_of(entity, record))
                if key in self.owner or key in self.given.reported:
                    continue
                if key in self.given.ignored and self.given.phase != "initial":
                    continue  # the firm looked at it and took it out: nothing to say nightly
                try:
                    excluded = self._excluded(entity, record)
                except ExpressionError as failure:  # one record's rule failing stops no run
                    self.operations.append(
                        Operation(
                            "exclusions",
                            key,
                            "fail",
                            entity,
                            level="Failed",
                            message=failure.told,
                        )
                    )
                    continue
                if excluded is not None and key in self.given.ignored:
                    self.operations.append(
                        Operation(
                            "exclusions",
                            key,
                            "ignore",
                            entity,
                            level="Ignored",
                            message=f"ignored by hand: {self.given.ignored[key]}",
                            rule=excluded.rule,
                        )
                    )
                elif excluded is not None:
                    action, level = excluded.outcome()
                    self.operations.append(
                        Operation(
                            "exclusions",
                            key,
                            action,
                            entity,
                            level=level,
                            message=excluded.message,
                            rule=excluded.rule,
                        )
                    )

    def _partner(
        self, mapping: MappingRule, record: Record, source_id: str, link: LinkRow | None
    ) -> str | Operation | None:
        """The target record's id, None for a new one, or an Operation that stops here."""
        if link is not None:
            return link.qbo_id if system_of(mapping.target) == "qbo" else link.tps_id
        return self.matcher.partner(mapping, record, source_id)

    def _left_out_target(self, qualified: str, record: Record) -> str | None:
        """Why a record a match key found is out of this sync, or None: ignored by hand, the
        initial sync's left out, unless this plan found it owed again, a void TPS record, or
        the exclusions for the phase (paid QBO history in the initial sync)."""
        key = record_key(qualified, ident_of(qualified, record))
        if key in self.given.ignored:
            return f"ignored by hand: {self.given.ignored[key]}"
        if key in self.left_out:
            return self.left_out[key]
        if system_of(qualified) == "tps" and record.get("status") == "void":
            # its number is taken, and nothing is written to a void record: never a partner
            return "it is void in TPS"
        try:
            excluded = self._excluded(qualified, record)
        except ExpressionError as failure:  # its own mapping reports the failure
            return f"its exclusions cannot be decided: {failure.message}"
        return None if excluded is None else excluded.message

    def _link(self, pair: str, mapping: MappingRule, source_id: str) -> LinkRow | None:
        if system_of(mapping.source) == "tps":
            return self.rows.get(pair, {}).get(source_id)
        tps_id = self.links.other(pair, "qbo", source_id)
        return self.rows.get(pair, {}).get(tps_id or "") if tps_id else None

    def _inactive(self, mapping: MappingRule, target_id: str | None) -> str:
        """The partner, when it is an inactive QBO record (named for messages), or ''."""
        if target_id is None or system_of(mapping.target) != "qbo":
            return ""
        target = self.given.snapshot.find(mapping.target, target_id)
        if target is None or target.get("Active") is not False:
            return ""
        return f"{mapping.target}:{target_id} ({_display_of(target)})"

    def _still_left_out(self, qualified: str, key: str, record: Record) -> str | None:
        """Why a record the initial sync left out stays out, as it is now, or None when the
        reason no longer holds and it is decided as any record of an ongoing run: an
        initial-sync exclusion (paid history) that no longer matches it (a bounced cheque
        voided, a QBO payment deleted), or a reference that left it out, decided again (a
        walk-in's customer since linked; one still left out leaves it out again, silently).
        Anything else that left it out (a review, a match) keeps it out, as it did."""
        why = self.left_out[key]
        if why.startswith(REFERS_TO):
            return None
        reasons = {r.reason for r in self.given.rules.exclusions if r.entity == qualified}
        if why not in reasons:
            return why
        excluded = self._excluded(qualified, record, initial=True)
        return None if excluded is None else excluded.message

    def _excluded(
        self, qualified: str, record: Record, *, initial: bool | None = None
    ) -> _Exclusion | None:
        """The exclusion of this phase (or of the initial sync's) that leaves `record` out."""
        initial = self.given.phase == "initial" if initial is None else initial
        rules = self._exclusions.get((qualified, initial))
        if rules is None:  # asked for every record: the rules of each entity found once
            rules = self._exclusions[qualified, initial] = [
                (rule, _Exclusion(action, rule.reason, rule.label))
                for rule in self.given.rules.exclusions
                if rule.entity == qualified
                and (action := rule.initial if initial else rule.ongoing) is not Action.ALLOW
            ]
        for rule, exclusion in rules:
            if rule.when is None or rule.when.evaluate(self.resolver.scope(qualified, record)):
                return exclusion
        return None


def _told(writes: list[Operation], reopened: str, carried: str, warned: str) -> list[Operation]:
    """The writes with what the history says of them beyond the rules: why a record of the
    initial sync's history is back (`reopened`), what a write does beyond the rules
    (`carried`), what is left for the firm to do (`warned`, a Warning). Anything that writes
    nothing keeps its own message."""
    if reopened:
        carried = f"{reopened}; {carried}" if carried else reopened
        warned = f"{reopened}; {warned}" if warned else ""
    if warned:
        return [replace(op, message=warned, level="Warning") if op.writes else op for op in writes]
    if not carried:
        return writes
    return [replace(op, message=carried) if op.writes else op for op in writes]


def _reopened(why: str) -> str:
    return f"left out of the initial sync ({why.rstrip('.')}) and owed again now"


def _display_of(record: Record) -> str:
    return str(record.get("DisplayName") or record.get("Name") or record.get("Id"))


@dataclass(frozen=True)
class _Either:
    """Membership in either of two mappings, without merging them."""

    first: Mapping[str, str]
    second: Mapping[str, str]

    def __contains__(self, key: object) -> bool:
        return key in self.first or key in self.second


@dataclass(frozen=True)
class _Exclusion:
    action: Action
    message: str
    rule: str

    def outcome(self) -> tuple[str, str]:
        """(action, history status): a block fails the record, a skip excludes it."""
        if self.action is Action.BLOCK:
            return "block", "Failed"
        return "exclude", "Warning" if self.action is Action.SKIP_AND_WARN else "Excluded"


def _engine_marked(mapping: MappingRule, record: Record, owner: str | None) -> bool:
    """A QBO record carrying the engine's marker was written from TPS, even if the state
    never heard of it (a crash between the write and its link): not QBO-originated."""
    return (
        system_of(mapping.source) == "qbo"
        and owner is None
        and bool(marker_of(record.get("PrivateNote")))
    )
