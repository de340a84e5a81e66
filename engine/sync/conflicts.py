"""Who wins when a linked record changed in both systems since the last sync.

Each field may say (`conflict:` next to `value:`), the mapping's `conflict:` is the default.
The fields that differ decide together: if they all name the same side, that side wins; a
field that says `flag`, or fields that name different sides, send the record to review with
nothing written, naming the fields, since writing half of each side would lose one of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tpsqbo_engine.ruleset.model import MappingRule

SIDES = {"source_wins": "source", "target_wins": "target", "flag": "flag"}


def field_policies(mapping: MappingRule) -> dict[str, str]:
    return {rule.path: rule.conflict for rule in mapping.fields if rule.conflict}


def _policy(path: str, policies: Mapping[str, str], default: str) -> str:
    for rule_path, policy in policies.items():
        if path == rule_path or path.startswith(f"{rule_path}."):
            return policy
    return default


def winner(
    mapping: MappingRule, changes: Mapping[str, Any], newest: Callable[[], str]
) -> tuple[str, str]:
    """("source" | "target" | "flag", why) for the fields in `changes`."""
    policies = field_policies(mapping)
    decided: dict[str, list[str]] = {}
    for path in changes:
        policy = _policy(path, policies, mapping.conflict)
        side = newest() if policy == "newest" else SIDES[policy]
        decided.setdefault(side, []).append(f"{path} ({policy})")
    if not policies:
        side = next(iter(decided), "target")
        return side, f"conflict: {mapping.conflict}"
    if "flag" in decided:
        return "flag", f"flagged fields: {', '.join(decided['flag'])}"
    if len(decided) > 1:
        named = "; ".join(f"{side} wins {', '.join(paths)}" for side, paths in decided.items())
        return "flag", f"fields disagree on who wins: {named}"
    side = next(iter(decided), "target")
    return side, f"per field: {', '.join(decided[side])}"
