"""Which TPS clients are in the sync's scope now: the clients mapping's `when:` and the
exclusions for tps.Client, evaluated as the planner does. `reconcile` compares the clients
in scope and lists the others apart, with the reason, instead of as differences."""

from __future__ import annotations

from tpsqbo_engine.expr import ExpressionError
from tpsqbo_engine.ruleset.model import Action, RuleSet
from tpsqbo_engine.sync.runtime import Links, Resolver, context, wanted
from tpsqbo_engine.sync.snapshot import Snapshot

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
