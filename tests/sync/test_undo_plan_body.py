"""A QBO restore sends the body its undo plan holds, built once when planned: the plan shown
(and its JSON) is what is sent, not the journal read a second time."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tpsqbo_engine.dotted import get_path as get
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.plan import Operation, Plan
from tpsqbo_engine.sync.session import Session
from tpsqbo_engine.sync.undo import UndoPlan, plan_undo
from tpsqbo_engine.sync.undo_apply import apply_undo

Sent = list[tuple[str, dict[str, Any], bool]]


def _sending(session: Session, monkeypatch: pytest.MonkeyPatch) -> Sent:
    """Every QBO update the undo sends: (the record, the body, sparse)."""
    sent: Sent = []
    real = session.qbo.update

    def update(entity: str, ident: str, changes: dict[str, Any], **how: Any) -> Any:
        sent.append((f"qbo.{entity}:{ident}", changes, how.get("sparse", True)))
        return real(entity, ident, changes, **how)

    monkeypatch.setattr(session.qbo, "update", update)
    return sent


def _restore_of(undo: UndoPlan, target: str) -> Operation:
    (op,) = [op for op in undo.plan.operations if op.target == target]
    assert op.action == "update", op.message
    return op


def _from_file(undo: UndoPlan, tmp_path: Path, target: str) -> Operation:
    """The operation as the plan file (`undo --plan --format json`) shows it."""
    path = tmp_path / "undo-plan.json"
    path.write_text(undo.plan.to_json(), encoding="utf-8")
    (op,) = [op for op in Plan.from_file(path).operations if op.target == target]
    return op


def test_a_sparse_restore_sends_the_body_of_the_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with demo_firm(tmp_path) as (session, qbo, tps):
        session.backup()
        session.sync()
        invoice = next(
            i for i in tps.firm.table("invoices").values() if i["status"] == "outstanding"
        )
        pushed = qbo.company.find_by("Invoice", "DocNumber", invoice["doc_number"])
        assert pushed is not None
        lines = [dict(line) for line in invoice["lines"]]
        lines[0]["amount"] = str(Decimal(lines[0]["amount"]) + Decimal("20.00"))
        session.tps.update("invoices", invoice["id"], {"lines": lines}, version=invoice["version"])
        run = session.sync().run_id

        undo = plan_undo(session, run)
        target = f"qbo.Invoice:{pushed['Id']}"
        op = _restore_of(undo, target)
        shown = _from_file(undo, tmp_path, target)
        sent = _sending(session, monkeypatch)
        assert apply_undo(session, undo, "test").complete
        ((_, body, sparse),) = [s for s in sent if s[0] == target]
        assert body == op.body == shown.body and sparse
        assert body["Line"][0]["Amount"] == Decimal(str(pushed["Line"][0]["Amount"]))


def test_a_restore_sends_its_operations_body_not_the_journal_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The body is the plan's: an operation whose body says otherwise than the journal
    sends its body (the step, read from the journal, is not turned into a body again)."""
    with demo_firm(tmp_path) as (session, qbo, tps):
        session.backup()
        session.sync()
        client = next(c for c in tps.firm.table("clients").values() if c.get("email"))
        session.tps.update(
            "clients", client["id"], {"email": "new@example.com"}, version=client["version"]
        )
        run = session.sync().run_id
        undo = plan_undo(session, run)
        ((index, op),) = [
            (i, op)
            for i, op in enumerate(undo.plan.operations)
            if op.action == "update" and op.target.startswith("qbo.Customer:")
        ]
        assert get(op.body, "PrimaryEmailAddr.Address") == client["email"]
        body = {"PrimaryEmailAddr": {"Address": "planned@example.com"}}
        undo.plan.operations[index] = dataclasses.replace(op, body=body)
        sent = _sending(session, monkeypatch)
        apply_undo(session, undo, "test")
        ((_, changes, _),) = [s for s in sent if s[0] == op.target]
        assert changes == body
        now = qbo.company.get("Customer", op.target.split(":")[1])
        assert now["PrimaryEmailAddr"]["Address"] == "planned@example.com"


def test_a_full_restore_sends_the_plans_values_and_leaves_out_what_it_clears(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restore that clears fields absent before the run is a full update: the record as
    QBO has it when sent, every path the plan changes as the plan's body has it."""
    with demo_firm(tmp_path) as (session, qbo, tps):
        name = tps.firm.table("clients")["c-1002"]["name"]
        bare = qbo.company.create("Customer", {"DisplayName": name})
        session.backup()
        run = session.sync().run_id
        undo = plan_undo(session, run)
        target = f"qbo.Customer:{bare['Id']}"
        op = _restore_of(undo, target)
        shown = _from_file(undo, tmp_path, target)
        assert shown.body == op.body and "a full update" in op.message
        sent = _sending(session, monkeypatch)
        before = dict(qbo.company.get("Customer", bare["Id"]))
        assert apply_undo(session, undo, "test").complete

        ((_, whole, sparse),) = [s for s in sent if s[0] == target]
        assert not sparse
        cleared = [path for path in op.diff if get(op.body, path) is None]
        assert cleared and all(get(whole, path) is None for path in cleared)
        kept = [path for path in op.diff if path not in cleared]
        assert all(get(whole, path) == get(op.body, path) for path in kept)
        # Not a field of its own: what the plan does not name is sent as QBO had it.
        assert whole["DisplayName"] == before["DisplayName"] == name
