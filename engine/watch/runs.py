"""What each of the watcher's triggers does to the firm: an incremental sync, a check of
TPS for changes first, or the full reconciliation recorded as a run of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tpsqbo_engine.errors import EngineError
from tpsqbo_engine.sync.lock import run_lock
from tpsqbo_engine.sync.snapshot import ALWAYS_WHOLE, TPS_RESOURCES, entities_used

if TYPE_CHECKING:
    from tpsqbo_engine.sync.session import Session


@dataclass(frozen=True)
class Outcome:
    synced: bool
    run_id: int = 0
    status: str = ""
    counts: dict[str, int] = field(default_factory=dict)


class BackToInitial(EngineError):
    def __init__(self) -> None:
        super().__init__(
            "this firm has no completed sync any more (its initial sync was undone); the "
            "watcher runs incremental syncs only",
            hint="run the initial sync by hand (checklist, backup, plan, sync), then the watcher",
        )


def run_trigger(session: Session, trigger: str) -> Outcome:
    if session.phase == "initial":  # an initial sync is reviewed by a person, never unattended
        raise BackToInitial()
    if trigger == "reconcile":
        return reconcile_run(session)
    if trigger == "tps-poll" and not tps_changed(session):
        return Outcome(synced=False)
    summary = session.sync()
    run = next(r for r in session.state.runs(5) if r["id"] == summary.run_id)
    return Outcome(True, summary.run_id, str(run["status"]), summary.counts)


def tps_changed(session: Session) -> bool:
    """Whether TPS holds anything newer than the sync's cursors: TPS calls only, so a quiet
    TPS costs no QBO call. The lists read whole on every run are looked at too."""
    for name in sorted(entities_used(session.rules)):
        system, entity = name.split(".", 1)
        if system != "tps":
            continue
        cursor = session.state.cursor(name)
        since = "" if name in ALWAYS_WHOLE else cursor
        if any(
            str(r.get("updated_at", "")) > cursor
            for r in session.tps.records(TPS_RESOURCES[entity], since)
        ):
            return True
    return False


def reconcile_run(session: Session) -> Outcome:
    """The full check: open A/R per client, every difference a Warning in the history, and
    the report page written beside the state."""
    from tpsqbo_engine.sync.report import write_report

    with run_lock(session.state):
        balances = session.reconcile()
        run_id = session.state.start_run("reconcile")
        with session.state.transaction():
            for row in balances:
                if row.difference:
                    session.state.record_item(
                        run_id,
                        f"tps.Client:{row.client}",
                        "reconcile",
                        "reconcile",
                        "Warning",
                        f"open A/R differs: TPS {row.tps}, QBO {row.qbo} "
                        f"(difference {row.difference})",
                    )
            differences = sum(1 for b in balances if b.difference)
            session.state.record_item(
                run_id,
                "reconcile",
                "reconcile",
                "reconcile",
                "Successful" if not differences else "Warning",
                f"{len(balances)} client(s) compared, {differences} with a difference; "
                f"QBO's side from {session.reconciled_from}",
            )
            counts = session.state.finish_run(run_id, "completed")
    write_report(session, run_id, session.config.workdir / "reports" / f"reconcile-{run_id}.html")
    return Outcome(False, run_id, "completed", counts)
