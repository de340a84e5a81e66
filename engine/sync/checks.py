"""The pre-flight checklist and the QBO backup it asks for."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.private import open_private, temporary_beside
from tpsqbo_engine.ruleset.model import Check, RuleSet
from tpsqbo_engine.state import StateStore
from tpsqbo_engine.sync.company_checks import expression_check
from tpsqbo_engine.sync.plan import Plan


@dataclass(frozen=True)
class CheckResult:
    id: str
    title: str
    passed: bool
    level: str
    fix: str
    where: str
    details: tuple[str, ...] = field(default_factory=tuple)

    @property
    def blocks(self) -> bool:
        return not self.passed and self.level == "error"


def _preference(prefs: dict[str, Any], path: str) -> Any:
    value: Any = prefs
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def run_checklist(
    rules: RuleSet, plan: Plan, state: StateStore, qbo: QboClient
) -> list[CheckResult]:
    results = []
    for check in rules.checks:
        passed, details = _evaluate(check, rules, plan, state, qbo)
        results.append(
            CheckResult(
                check.id, check.title, passed, check.level, check.fix, check.where, tuple(details)
            )
        )
    return results


Evaluator = Callable[[Check, RuleSet, Plan, StateStore, QboClient], tuple[bool, list[str]]]


def _evaluate(
    check: Check, rules: RuleSet, plan: Plan, state: StateStore, qbo: QboClient
) -> tuple[bool, list[str]]:
    evaluator = CHECK_TYPES.get(check.type)
    if evaluator is None:
        return False, [f"unknown check type {check.type}"]
    return evaluator(check, rules, plan, state, qbo)


def _backup_recent(
    check: Check, rules: RuleSet, plan: Plan, state: StateStore, qbo: QboClient
) -> tuple[bool, list[str]]:
    backup = state.latest_backup()
    if backup is None:
        return False, ["no backup has been taken"]
    age = datetime.now(UTC) - datetime.fromisoformat(backup["taken_at"])
    if age > timedelta(hours=int(check.options["max_age_hours"])):
        return False, [f"the newest backup is {age.total_seconds() / 3600:.0f} hours old"]
    return True, [f"{backup['path']} ({backup['taken_at']})"]


def _all_mapped(
    check: Check, rules: RuleSet, plan: Plan, state: StateStore, qbo: QboClient
) -> tuple[bool, list[str]]:
    missing = [
        f"{op.record}: {op.message}"
        for op in plan.operations
        if op.mapping == check.options["mapping"] and op.action in ("fail", "review")
    ]
    return not missing, missing


def _no_blocking(
    check: Check, rules: RuleSet, plan: Plan, state: StateStore, qbo: QboClient
) -> tuple[bool, list[str]]:
    # The exclusions documents the check names (all when it names none): a block from a
    # document it leaves out, such as a firm's informational one, does not stop the sync.
    named = check.options.get("exclusions")
    applied = {r.label for r in rules.exclusions if named is None or r.document in named}
    blocking = [
        f"{op.record}: {op.message}"
        for op in plan.operations
        if op.action == "block" and op.rule in applied
    ]
    ignored = [
        f"{op.record}: {op.message}"
        for op in plan.operations
        if op.action == "ignore" and op.mapping == "exclusions" and op.rule in applied
    ]
    return not blocking, blocking + ignored


def _qbo_preference(
    check: Check, rules: RuleSet, plan: Plan, state: StateStore, qbo: QboClient
) -> tuple[bool, list[str]]:
    options = check.options
    if options.get("only_if") == "payment-links-used" and not rules.uses_payment_links:
        return True, ["not needed: no template shows the payment link"]
    value = _preference(qbo.preferences(), str(options["preference"]))
    return value == options["equals"], [f"{options['preference']} is {value!r}"]


def _expression(
    check: Check, rules: RuleSet, plan: Plan, state: StateStore, qbo: QboClient
) -> tuple[bool, list[str]]:
    return expression_check(check, qbo, plan.phase)


# One registry of check types: the checklist schema's types and this dict agree (a test).
CHECK_TYPES: dict[str, Evaluator] = {
    "backup-recent": _backup_recent,
    "all-mapped": _all_mapped,
    "no-blocking-transactions": _no_blocking,
    "qbo-preference": _qbo_preference,
    "expression": _expression,
}


def qbo_entities(names: Iterable[str]) -> list[str]:
    return sorted({n.split(".", 1)[1] for n in names if n.startswith("qbo.")})


def take_backup(qbo: QboClient, entities: list[str], folder: Path, state: StateStore) -> Path:
    """Every record of every QBO entity the rules touch, as gzip'd JSON lines."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"qbo-{qbo.realm_id}-{stamp}.jsonl.gz"
    counts: dict[str, int] = {}
    lists = ("Customer", "Item", "Account", "Term", "PaymentMethod")
    wanted = {e: "Active IN (true, false)" if e in lists else "" for e in entities}
    # A backup cut short by a failed read is removed, never left looking like one.
    with temporary_beside(path, suffix=".partial") as partial:
        raw = os.fdopen(open_private(partial), "wb")  # 0600 from the first byte
        with raw, gzip.open(raw, "wt", encoding="utf-8") as handle:
            # The first page of each in one batch call; the rest streamed, page by page.
            for entity, records in qbo.query_batch(wanted).items():
                for record in records:
                    handle.write(
                        json.dumps({"entity": entity, "record": record}, default=_decimal) + "\n"
                    )
                    counts[entity] = counts.get(entity, 0) + 1
        partial.replace(path)
    state.add_backup(path, counts)
    return path


def _decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)
