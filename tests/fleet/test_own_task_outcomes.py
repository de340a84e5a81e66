"""`fleet run --broker --wait` reports each firm from its own task: the run the task
returned, or how the task failed; never an earlier run's record of the firm."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tpsqbo_engine.cli_fleet import _await_outcomes
from tpsqbo_engine.fleet.coord import FirmRun
from tpsqbo_engine.fleet.firms import Firm, load_fleet
from tpsqbo_engine.fleet.redis_coord import RedisCoordinator
from tpsqbo_engine.fleet.tasks import SYNC, Job, enqueue, make_app, outcome

from .conftest import Firms, Workers


def test_a_task_that_crashed_is_reported_failed_not_as_the_firm_s_last_record(
    firms: Firms, workers: Workers
) -> None:
    firms.make("alpha")
    bravo = firms.make("bravo")
    coordinator = RedisCoordinator(workers.broker)
    yesterday = FirmRun("bravo", str(bravo.config), "completed", finished="2026-11-26T10:05")
    assert coordinator.record(yesterday)
    workers.start("w1", "--busy-wait", "0.5", "--lease-ttl", "3")
    app = make_app(workers.broker)
    alpha, _ = load_fleet([firms.root])
    [alpha_id] = enqueue(app, [alpha], attempts=1, backoff=0.1, backup_first=True)
    # A message this worker cannot read (from an engine whose jobs carry more): the task
    # fails before any run starts, so nothing records it.
    newer = {**asdict(Job("bravo", str(bravo.config))), "priority": 1}
    bravo_id = str(app.send_task(SYNC, kwargs=newer).id)
    firm_list = [alpha, Firm("bravo", bravo.config)]
    runs = _await_outcomes(app, coordinator, firm_list, [alpha_id, bravo_id], 90)
    assert (runs[0].status, runs[0].task) == ("completed", alpha_id)
    assert runs[0].counts["Successful"] > 0
    assert (runs[1].status, runs[1].task) == ("failed", bravo_id)
    assert "could not read its task" in runs[1].error and "priority" in runs[1].error
    # Its record says the task failed, not yesterday's outcome.
    record = {r.firm: r for r in coordinator.runs()}["bravo"]
    assert (record.status, record.task) == ("failed", bravo_id)
    assert "could not read its task" in record.error and "priority" in record.error


@dataclass
class FinishedTask:
    """What an AsyncResult of a task that ended tells."""

    id: str
    state: str
    result: Any

    def successful(self) -> bool:
        return self.state == "SUCCESS"


FIRM = Firm("alpha", Path(__file__))


def test_the_task_s_own_result_beats_any_record() -> None:
    returned = FirmRun("alpha", __file__, "completed", counts={"Successful": 3}, task="t1")
    later = FirmRun("alpha", __file__, "running", task="t2")  # the next run, already going
    shown = outcome(FIRM, FinishedTask("t1", "SUCCESS", asdict(returned)), later)
    assert shown == returned


def test_a_failed_task_s_own_final_record_says_more_than_its_failure() -> None:
    recorded = FirmRun("alpha", __file__, "partial", counts={"Failed": 1}, task="t1")
    failed = FinishedTask("t1", "FAILURE", ConnectionError("the broker went away"))
    assert outcome(FIRM, failed, recorded) == recorded


def test_a_failed_task_is_not_hidden_by_a_stale_or_unfinished_record() -> None:
    failed = FinishedTask("t1", "FAILURE", ConnectionError("the broker went away"))
    for record in (
        FirmRun("alpha", __file__, "completed", task="t0"),  # an earlier task's
        FirmRun("alpha", __file__, "retrying", task="t1"),  # its own, never finished
        None,
    ):
        shown = outcome(FIRM, failed, record)
        assert (shown.status, shown.task) == ("failed", "t1")
        assert "FAILURE" in shown.error and "ConnectionError: the broker went away" in shown.error
