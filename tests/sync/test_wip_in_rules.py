"""`wip(line)` in a mapping's fields answers, for each invoice the planner decides, the WIP
entries billed on that invoice: the function is bound to the record evaluated (only packs
that call it read WIP entries, and only for them is it bound per record)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tpsqbo_engine.resources import rules_dir
from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.sync.plan_input import PlanInput
from tpsqbo_engine.sync.planner import Planner
from tpsqbo_engine.sync.snapshot import Snapshot

CLIENT = {"id": "c-1", "code": "OAK01", "name": "Oak Street Dental"}
WORK_CODE = {
    "id": "wc-1",
    "code": "TAX",
    "name": "Tax return",
    "node_type": "work_code",
    "active": True,
    "work_type": "Tax",
}


def _invoice(ident: str) -> dict[str, Any]:
    return {
        "id": ident,
        "client_id": "c-1",
        "doc_number": f"INV-{ident}",
        "date": "2024-03-01",
        "status": "outstanding",
        "balance": "100.00",
        "tax_total": "0.00",
        "lines": [{"work_code": "TAX", "amount": "100.00", "description": "Return"}],
    }


def _wip(ident: str, invoice: str) -> dict[str, Any]:
    return {"id": ident, "invoice_id": invoice, "work_code": "TAX", "hours": "1"}


def test_each_invoice_line_sees_the_wip_billed_on_its_own_invoice(tmp_path: Path) -> None:
    pack = tmp_path / "rules"
    shutil.copytree(rules_dir(), pack)
    invoices = pack / "invoices.yaml"
    text = invoices.read_text(encoding="utf-8")
    invoices.write_text(
        text.replace(
            'Description: "{{ line.description }}"',
            "Description: \"{{ wip(line) | map(attribute='id') | join(',') }}\"",
            1,
        ),
        encoding="utf-8",
    )
    rules = load_ruleset(pack)
    assert "tps.WipEntry" in rules.reads
    snapshot = Snapshot(
        tps={
            "Client": {"c-1": dict(CLIENT)},
            "WorkCode": {"wc-1": dict(WORK_CODE)},
            "Invoice": {i: _invoice(i) for i in ("i-1", "i-2")},
            "WipEntry": {
                w["id"]: w for w in (_wip("w-1", "i-1"), _wip("w-2", "i-2"), _wip("w-3", "i-2"))
            },
        },
        qbo={},
    )
    plan = Planner(PlanInput(rules, snapshot, {}, phase="initial")).plan()
    described = {
        op.record: [line.get("Description") for line in op.body["Line"]]
        for op in plan.operations
        if op.record.startswith("tps.Invoice:")
    }
    assert described == {"tps.Invoice:i-1": ["w-1"], "tps.Invoice:i-2": ["w-2,w-3"]}
