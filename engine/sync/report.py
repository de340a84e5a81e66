"""`tpsqbo-engine report`: one self-contained HTML page about a run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from tpsqbo_engine import resources
from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.expr import environment
from tpsqbo_engine.private import write_private

if TYPE_CHECKING:
    from tpsqbo_engine.sync.session import Session


def write_report(session: Session, run_id: int | None, out: Path) -> Path:
    runs = session.state.runs(1000)
    run = next((r for r in runs if run_id is None or r["id"] == run_id), None)
    if run is None:
        raise UsageError(
            f"no run {run_id}" if run_id else "no run yet", hint="see `tpsqbo-engine history`"
        )
    items = session.state.items(run["id"])
    # The page reads the state; only the reconciliation needs both systems.
    unreconciled = session.unconnected()
    balances = session.reconcile() if not unreconciled else []
    template = environment(autoescape=True).from_string(
        (resources.templates_dir() / "report.html").read_text(encoding="utf-8")
    )
    page = template.render(
        firm=session.config.firm,
        run=run,
        counts=list(json.loads(run["counts"] or "{}").items()),
        problems=[i for i in items if i["status"] in ("Failed", "Warning")],
        excluded_qbo=[
            i
            for i in items
            if i["status"] in ("Excluded", "Warning", "Failed")
            and i["record"].startswith("qbo.")
            and i["action"] in ("exclude", "block")
        ],
        balances=balances,
        unreconciled=unreconciled,
        differences=sum(1 for b in balances if b.difference),
        reconciled_from=session.reconciled_from,
    )
    return write_private(out, page)
