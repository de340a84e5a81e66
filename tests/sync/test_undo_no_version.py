"""A journal row with no version (a write whose answer carried no SyncToken, or a journal
from before versions were kept) proves nothing by versions: the record's content is
compared with what run N left, and with nothing to compare the undo says it cannot tell,
never "changed since" of a record nobody touched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tpsqbo_engine.sync import before_image
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.session import Session
from tpsqbo_engine.sync.undo import plan_undo
from tpsqbo_engine.sync.undo_apply import apply_undo

NAMES = ("Juniper Hill Farm", "Blue Heron Yoga", "Red Rock Diner")


def _emails_changed(session: Session, tps: Any) -> tuple[int, dict[str, dict[str, Any]]]:
    """A run updating three QBO customers: (the run, each name's journal row)."""
    session.backup()
    session.sync()
    for name in NAMES:
        client = next(c for c in tps.firm.table("clients").values() if c["name"] == name)
        email = f"office@{name.split()[0].lower()}.example"
        session.tps.update("clients", client["id"], {"email": email}, version=client["version"])
    run = session.sync().run_id
    rows = {}
    for row in session.state.journal(run):
        if row["operation"] == "update" and row["target"].startswith("qbo.Customer:"):
            record = session.qbo.read("Customer", row["target"].split(":")[1])
            rows[record["DisplayName"]] = row
    assert set(rows) == set(NAMES)
    return run, rows


def _forget(session: Session, row: dict[str, Any], fingerprint: bool = False) -> None:
    """The row as a write whose answer carried no version (and, if asked, no fingerprint)."""
    assert row["result_version"] and row["result_fingerprint"]
    lost: dict[str, Any] = {"result_version": None}
    if fingerprint:
        lost["result_fingerprint"] = None
    with session.state.transaction():
        session.state.db.table("journal").update(row["id"], lost)


def test_a_row_without_a_version_is_judged_by_content_or_said_unknown(tmp_path: Path) -> None:
    with demo_firm(tmp_path) as (session, qbo, tps):
        run, rows = _emails_changed(session, tps)
        untouched, edited, unknown = (rows[name] for name in NAMES)
        for row in rows.values():
            _forget(session, row, fingerprint=row is unknown)
        ident = edited["target"].split(":")[1]
        current = qbo.company.get("Customer", ident)
        phone = {"FreeFormNumber": "555-0199"}
        qbo.company.update(
            "Customer",
            {"Id": ident, "SyncToken": current["SyncToken"], "PrimaryPhone": phone},
            sparse=True,
        )

        undo = plan_undo(session, run)
        ops = {op.target: op for op in undo.plan.operations}
        same = ops[untouched["target"]]  # its content is what the run left: restored
        assert same.action == "update" and "restore" in same.message, same.message
        moved = ops[edited["target"]]
        assert moved.action == "review" and moved.level == "Warning"
        assert "changed since" in moved.message and "kept no version" in moved.message
        assert "the run left )" not in moved.message
        told = ops[unknown["target"]]
        assert told.action == "review" and told.level == "Warning"
        assert "cannot tell whether it changed since" in told.message
        assert "changed since run" not in told.message
        assert f"--force {unknown['target']}" in told.message

        summary = apply_undo(session, undo, "test")
        assert not summary.complete  # two records listed, not touched
        assert qbo.company.get("Customer", ident)["PrimaryPhone"] == phone

        forced = plan_undo(session, run, frozenset({unknown["target"]}))
        (op,) = forced.plan.writes()
        assert op.target == unknown["target"] and "(forced: run " in op.message
        assert "cannot tell" in op.message
        again = apply_undo(session, forced, "checked by hand: nobody changed it")
        said = {i["record"]: i["status"] for i in session.state.items(again.run_id)}
        assert said == {unknown["target"]: "Undone", edited["target"]: "Warning"}
        was = before_image.loads(unknown["before"])["fields"]["PrimaryEmailAddr.Address"]
        now = qbo.company.get("Customer", unknown["target"].split(":")[1])
        assert now["PrimaryEmailAddr"]["Address"] == was != "office@red.example"
