"""Which TPS clients are in the sync's scope now: the clients mapping's `when:` and the
exclusions for tps.Client, evaluated as the planner does. `reconcile` compares the clients
in scope and lists the others apart, with the reason, instead of as differences."""

from __future__ import annotations

import re
from collections.abc import Callable

from tpsqbo_engine.expr import ExpressionError
from tpsqbo_engine.ruleset.model import Action, ExclusionRule, MappingRule, RuleSet
from tpsqbo_engine.sync.links import Links
from tpsqbo_engine.sync.mirror import MIRRORED
from tpsqbo_engine.sync.runtime import Resolver, context, wanted
from tpsqbo_engine.sync.snapshot import Record, Snapshot

CLIENT = "tps.Client"


def out_of_scope(rules: RuleSet, snapshot: Snapshot, phase: str = "ongoing") -> dict[str, str]:
    """TPS client id → why it is out of scope, for every client that is."""
    resolver = Resolver(rules, snapshot, Links())
    mapping = next((m for m in rules.mappings if m.source == CLIENT), None)
    found: dict[str, str] = {}
    for ident, client in snapshot.records(CLIENT).items():
        try:
            if mapping is not None and not wanted(mapping, client, resolver):
                when = mapping.when.source if mapping.when else ""
                found[ident] = f"left out by the mapping's when: {when}"
                continue
            for rule in rules.exclusions:
                action = rule.initial if phase == "initial" else rule.ongoing
                if rule.entity != CLIENT or action is Action.ALLOW:
                    continue
                if rule.when is None or rule.when.evaluate(context(CLIENT, client, resolver)):
                    found[ident] = f"{rule.reason} ({rule.id})"
                    break
        except ExpressionError as failed:
            found[ident] = f"its scope cannot be decided: {failed.message}"
    return found


# History the initial sync leaves out ----------------------------------------------------------
# Functions whose answer depends on the run's links and records: an expression calling one
# cannot be judged as a record arrives, so its records are kept whole.
_STATEFUL = re.compile(r"\b(linked|record|wip|ref|lookup|unique)\s*\(")
# A payment's applications decide its open part before any rule, and the mirrored lists
# and clients are kept for later runs: always whole.
_KEPT_WHOLE = frozenset({"tps.Payment", "qbo.Payment"}) | MIRRORED
Slimmer = Callable[[str, Record], Record]


def _pure(source: str) -> bool:
    return not _STATEFUL.search(source)


def history_slimmer(rules: RuleSet) -> Slimmer:
    """For the initial sync: a record an exclusion rule leaves out (paid history) keeps its
    fields but not its lists (lines), as it is read. The planner decides it the same way (the
    same rules give the same answers on what is kept, checked record by record) and reports
    it; only open A/R is held whole, so memory follows what can be written, not the firm's
    history."""
    judged: dict[str, tuple[list[ExclusionRule], list[MappingRule]]] = {}
    for entity in {r.entity for r in rules.exclusions} - _KEPT_WHOLE:
        exclusions = [
            r for r in rules.exclusions if r.entity == entity and r.initial is not Action.ALLOW
        ]
        mappings = [m for m in rules.mappings if m.source == entity]
        sources = [r.when.source for r in exclusions if r.when is not None]
        sources += [m.when.source for m in mappings if m.when is not None]
        if exclusions and all(isinstance(s, str) and _pure(s) for s in sources):
            judged[entity] = (exclusions, mappings)
    resolver = Resolver(rules, Snapshot(), Links())

    def decision(qualified: str, record: Record) -> tuple[tuple[bool, ...], str]:
        exclusions, mappings = judged[qualified]
        wants = tuple(wanted(m, record, resolver) for m in mappings)
        for rule in exclusions:
            if rule.when is None or rule.when.evaluate(context(qualified, record, resolver)):
                return wants, rule.id
        return wants, ""

    def slim(qualified: str, record: Record) -> Record:
        if qualified not in judged:
            return record
        try:
            whole = decision(qualified, record)
            if not whole[1]:
                return record  # not left out: the planner needs all of it
            small = {k: v for k, v in record.items() if not isinstance(v, list)}
            return small if decision(qualified, small) == whole else record
        except ExpressionError:
            return record  # the planner reports it, from the whole record

    return slim
