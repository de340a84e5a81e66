"""The `no-blocking-transactions` check applies the exclusions documents it names (all when
it names none): a firm's own blocking rule stops the initial sync only once the check names
its document."""

from __future__ import annotations

from pathlib import Path

import pytest

from tpsqbo_engine.sync.demo import demo_firm

FIRM_RULE = """kind: exclusions
id: firm-extra
rules:
  - {id: no-accounts, entity: qbo.Account, initial: block, reason: the firm reviews accounts first}
"""
NAMED = {
    "standard only": "[standard-exclusions]",
    "both": "[standard-exclusions, firm-extra]",
    "none named": None,
}


def _pack(root: Path, named: str | None) -> Path:
    root.mkdir()
    pack = "kind: pack\nid: firm-x\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"
    if named is None:
        pack += (
            "patches:\n  - document: initial-sync\n"
            "    remove: [checks/no-blocking-transactions/exclusions]\n"
        )
    else:
        pack += (
            "patches:\n  - document: initial-sync\n    set:\n"
            f"      checks/no-blocking-transactions/exclusions: {named}\n"
        )
    (root / "pack.yaml").write_text(pack)
    (root / "extra.yaml").write_text(FIRM_RULE)
    return root


@pytest.mark.parametrize(
    ("case", "blocks"), [("standard only", False), ("both", True), ("none named", True)]
)
def test_the_check_applies_the_documents_it_names(tmp_path: Path, case: str, blocks: bool) -> None:
    pack = _pack(tmp_path / "pack", NAMED[case])
    with demo_firm(tmp_path / "run", rules=str(pack)) as (session, _, _):
        (check,) = [c for c in session.rules.checks if c.type == "no-blocking-transactions"]
        assert check.options.get("exclusions") == (
            None if NAMED[case] is None else NAMED[case].strip("[]").split(", ")
        )
        plan, _ = session.plan()
        assert any(op.action == "block" and "no-accounts" in op.rule for op in plan.operations)
        (result,) = [r for r in session.checklist(plan) if r.id == check.id]
        assert result.passed is not blocks
        assert any("the firm reviews accounts first" in d for d in result.details) is blocks
