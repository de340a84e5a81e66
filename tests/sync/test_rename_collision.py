"""A linked client renamed so that the name the rule computes for it (colons to spaces,
whitespace collapsed) collides with an unchanged QBO customer: the run must see that
customer, as the whole-firm plan does, and QBO must never answer Duplicate Name."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.sync.test_referenced import _said, _whole_plan
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.session import Session

LONG = "Zebedee " + "Walk-in " * 14 + "Trading"  # over 100 characters


def _rename(session: Session, qbo: object, taken: str, renamed_to: str) -> Session:
    """Syncs the firm, adds a QBO customer called `taken`, then renames a linked client
    to `renamed_to`: a Session for the run that follows."""
    session.backup()
    session.sync()
    qbo.company.create("Customer", {"DisplayName": taken})  # type: ignore[attr-defined]
    time.sleep(1.1)  # the next run a second later, as scheduled runs are
    Session(session.config).sync()
    time.sleep(1.1)
    client = list(session.tps.records("clients"))[3]
    session.tps.update("clients", client["id"], {"name": renamed_to}, version=client["version"])
    time.sleep(1.1)
    return Session(session.config)


@pytest.mark.parametrize(
    ("taken", "renamed_to"),
    [
        ("Zebedee Walk-in", "Zebedee:Walk-in"),
        ("zebedee walk-in", "Zebedee\tWalk-in  "),
        (LONG, LONG.replace(" ", ":", 1)),
    ],
)
def test_a_renamed_client_plans_as_from_the_whole_firm(
    tmp_path: Path, taken: str, renamed_to: str
) -> None:
    with demo_firm(tmp_path, tps_seed="large:20") as (session, qbo, _):
        again = _rename(session, qbo, taken, renamed_to)
        read = again.snapshot()
        whole = _whole_plan(again, read)
        plan, _ = again.plan(read)
        assert _said(plan) == _said(whole)
        assert any(taken.casefold() in line.casefold() for line in _said(plan))


def test_a_renamed_client_syncs_without_a_duplicate_name(tmp_path: Path) -> None:
    with demo_firm(tmp_path, tps_seed="large:20") as (session, qbo, _):
        again = _rename(session, qbo, "Zebedee Walk-in", "Zebedee:Walk-in")
        summary = again.sync()
        run_id = again.state.runs(1)[-1]["id"]
        failed = [i["message"] for i in again.state.items(run_id, status="Failed")]
        assert failed == []
        assert summary.counts.get("Failed", 0) == 0
        names = sorted(
            c["DisplayName"]
            for c in qbo.company.table("Customer").values()
            if c["DisplayName"].startswith("Zebedee")
        )
        assert len(names) == 2 and names[0] == "Zebedee Walk-in"
        assert names[1].startswith("Zebedee Walk-in (")
