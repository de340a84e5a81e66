"""A pack whose mapping targets an entity QBO's CDC does not track (a firm that sends its
WIP entries to QBO as time activities): every incremental run reads it whole, so a change
made in QBO is seen, where asking CDC for it answered a fault read as "no changes"."""

from __future__ import annotations

import shutil
from pathlib import Path

from tpsqbo_engine.resources import rules_dir
from tpsqbo_engine.sync.demo import demo_firm

TIME = """\
kind: mapping
id: time
description: Each TPS WIP entry becomes a QBO time activity.
source: tps.WipEntry
target: qbo.TimeActivity
direction: one-way
key: id
fields:
  NameOf: Vendor
  VendorRef: "{{ ref('Vendor', employee_id) }}"
  Hours: "{{ hours }}"
  TxnDate: "{{ date }}"
  Description: "{{ description }}"
"""


def test_an_incremental_run_sees_a_time_activity_changed_in_qbo(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(rules_dir(), pack)
    (pack / "time.yaml").write_text(TIME, encoding="utf-8")
    with demo_firm(tmp_path / "firm", rules=str(pack)) as (session, qbo, _):
        session.backup()
        session.sync()
        employee = qbo.company.create("Employee", {"DisplayName": "Pat Worker"})
        made = qbo.company.create(
            "TimeActivity",
            {"NameOf": "Employee", "EmployeeRef": {"value": employee["Id"]}, "Hours": 2},
        )
        snapshot = session.snapshot()
        assert snapshot.records("qbo.TimeActivity")[made["Id"]]["Hours"] == 2
        assert "TimeActivity" not in session.watched()  # never sent to CDC
        summary = session.sync()  # the run reads it again whole, and ends as runs do
        assert summary.phase == "ongoing"
