"""Text for people: plans, checklists, history and reconciliation as the CLI prints them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from tpsqbo_engine.sync.checks import CheckResult
from tpsqbo_engine.sync.plan import Plan
from tpsqbo_engine.sync.reconcile import Balance

MAX_DIFF_FIELDS = 6


def _short(value: Any) -> str:
    text = (
        json.dumps(value, default=str, ensure_ascii=False)
        if isinstance(value, list | dict)
        else str(value)
    )
    return text if len(text) <= 60 else text[:57] + "..."


def plan_text(plan: Plan, *, detail: bool = True) -> list[str]:
    lines = [
        f"Plan for the {plan.phase} sync: {len(plan.writes())} write(s), about "
        f"{plan.estimated_calls()} QBO call(s)"
    ]
    by_mapping: dict[str, Counter[str]] = {}
    for op in plan.operations:
        by_mapping.setdefault(op.mapping, Counter())[op.action] += 1
    for mapping, counts in by_mapping.items():
        lines.append(f"  {mapping:22} " + ", ".join(f"{n} {a}" for a, n in sorted(counts.items())))
    if detail:
        for op in plan.writes():
            note = f"  ({op.message})" if op.message else ""
            lines.append(f"  {op.action:6} {op.record} -> {op.target}{note}")
            for field, (old, new) in list(op.diff.items())[:MAX_DIFF_FIELDS]:
                lines.append(f"           {field}: {_short(old)} -> {_short(new)}")
            if len(op.diff) > MAX_DIFF_FIELDS:
                lines.append(f"           ... and {len(op.diff) - MAX_DIFF_FIELDS} more field(s)")
    left = [op for op in plan.operations if not op.writes and op.action != "refresh"]
    if left:
        lines.append(f"Not written ({len(left)}):")
        lines.extend(f"  {op.level or op.action:9} {op.record}: {op.message}" for op in left)
    return lines


def checklist_text(results: Sequence[CheckResult]) -> list[str]:
    lines = []
    for result in results:
        mark = "ok  " if result.passed else ("FAIL" if result.level == "error" else "warn")
        lines.append(f"{mark} {result.title or result.id}")
        lines.extend(f"       {detail}" for detail in result.details[:10])
        if len(result.details) > 10:
            lines.append(f"       ... and {len(result.details) - 10} more")
        if not result.passed and result.fix:
            lines.append(f"       fix: {result.fix}")
    return lines


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in counts.items())


def reconcile_text(rows: Iterable[Balance]) -> list[str]:
    """Nets (owed less credits) side by side; the credits in their own columns."""
    every = list(rows)
    rows = [r for r in every if not r.out_of_scope]
    lines = [
        f"{'client':12} {'name':32} {'TPS credits':>11} {'TPS net A/R':>12} "
        f"{'QBO credits':>11} {'QBO net A/R':>12} {'difference':>11}"
    ]
    for row in rows:
        lines.append(
            f"{row.client[:12]:12} {row.name.strip()[:32]:32} {row.tps_credits:>11} "
            f"{row.tps:>12} {row.qbo_credits:>11} {row.qbo:>12} {row.difference:>11}"
        )
    total_tps = sum((r.tps for r in rows), Decimal(0))
    total_qbo = sum((r.qbo for r in rows), Decimal(0))
    differences = [r for r in rows if r.difference]
    lines.append(
        f"{'total':45} {'':>11} {total_tps:>12} {'':>11} {total_qbo:>12} "
        f"{total_tps - total_qbo:>11}"
    )
    lines.append(f"{len(differences)} client(s) with a difference")
    outside = [r for r in every if r.out_of_scope]
    if outside:
        lines.append(f"out of the sync's scope, not compared ({len(outside)}):")
        lines.extend(
            f"  {r.client[:12]:12} {r.name.strip()[:32]:32} TPS {r.tps} · QBO {r.qbo}: "
            f"{r.out_of_scope}"
            for r in outside
        )
    return lines


def as_json(value: Any) -> str:
    if isinstance(value, list) and value and hasattr(value[0], "__dataclass_fields__"):
        value = [
            asdict(v) | ({"difference": v.difference} if isinstance(v, Balance) else {})
            for v in value
        ]
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)
