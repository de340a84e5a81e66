"""The fleet on Celery, with Redis as broker, result store and Coordinator.

Celery because it is the most used task queue for Python, runs workers on any machine that
reaches the broker, and brings what a fleet needs without our writing it: late
acknowledgement (a message leaves the queue only after its run ended, so a worker that dies
mid-run loses nothing: Redis gives the message to another worker once its visibility timeout
passes), retries with a countdown, a beat scheduler, and task events that Flower shows.

Tasks carry only a firm's name and config path: the firm's secrets stay in the worker's
environment (the variables its config names), its state in its own folder.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from celery import Celery

from tpsqbo_engine.fleet.coord import LEASE_TTL, FirmRun, now_iso
from tpsqbo_engine.fleet.firms import Firm
from tpsqbo_engine.fleet.redis_coord import RedisCoordinator
from tpsqbo_engine.fleet.runner import FINAL, RealmBusy, run_firm, unexpected

SYNC = "tpsqbo.fleet.sync_firm"
TICK = "tpsqbo.fleet.tick"
BUSY_WAIT_TOTAL = 3600.0  # a realm busy this long: the firm is reported failed


@dataclass(frozen=True)
class WorkerSettings:
    """How a worker (and the broker's clients) behave; `fleet worker` options."""

    visibility_timeout: float = 3600.0  # a message unacknowledged this long goes back
    restore_interval: float = 10.0  # how often a worker looks for such messages
    lease_ttl: float = LEASE_TTL
    tick: float = 30.0  # how often beat looks for firms whose schedule is due
    busy_wait: float = 5.0  # before asking again for a realm another run holds

    @property
    def busy_waits(self) -> int:
        return max(int(BUSY_WAIT_TOTAL / self.busy_wait), 1)


_coordinators: dict[tuple[int, str], RedisCoordinator] = {}


def coordinator_for(url: str) -> RedisCoordinator:
    """One per process: a connection pool does not survive the prefork pool's fork."""
    key = (os.getpid(), url)
    if key not in _coordinators:
        _coordinators[key] = RedisCoordinator(url)
    return _coordinators[key]


def make_app(broker: str, settings: WorkerSettings = WorkerSettings()) -> Celery:
    app = Celery("tpsqbo_fleet", broker=broker, backend=broker, set_as_current=False)
    transport = {
        "visibility_timeout": settings.visibility_timeout,
        "unacked_restore_interval": settings.restore_interval,
        "unacked_restore_throttle": 1,
    }
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        broker_transport_options=transport,
        result_expires=7 * 24 * 3600,
        worker_send_task_events=True,  # what Flower shows
        task_send_sent_event=True,
        task_track_started=True,
        broker_connection_retry_on_startup=True,
        beat_schedule={"tpsqbo-fleet-tick": {"task": TICK, "schedule": settings.tick}},
    )
    _register(app, settings)
    return app


@dataclass(frozen=True)
class Job:
    """What a task message carries: the firm, and where its retries stand."""

    name: str
    config: str
    attempt: int = 1
    waits: int = 0
    attempts: int = 3
    backoff: float = 30.0
    backup_first: bool = False


def _register(app: Celery, settings: WorkerSettings) -> None:
    @app.task(  # type: ignore[untyped-decorator]
        bind=True, name=SYNC, acks_late=True, reject_on_worker_lost=True, max_retries=None
    )
    def sync_firm(task: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            job = Job(**kwargs)
        except TypeError as error:  # a message this worker cannot read: said, then failed
            _unreadable(task, kwargs, error)
            raise
        return _sync_firm(task, settings, job)

    @app.task(name=TICK)  # type: ignore[untyped-decorator]
    def tick() -> int:
        """Enqueues every firm whose schedule is due; beat calls it every `settings.tick`."""
        coordinator = coordinator_for(str(app.conf.broker_url))
        now = time.time()
        due = [s for s in coordinator.schedules() if s.due(now)]
        for schedule in due:
            coordinator.mark_enqueued(schedule.firm, now)
            app.send_task(SYNC, kwargs=asdict(Job(schedule.firm, schedule.config)))
        return len(due)


def _unreadable(task: Any, kwargs: dict[str, Any], error: TypeError) -> None:
    """A task whose message this worker cannot read (queued by a newer engine, say) ends
    before any run: its firm's record says so, or `fleet status` would go on showing the
    firm's previous outcome for it."""
    name, config = kwargs.get("name"), kwargs.get("config")
    if not isinstance(name, str) or not isinstance(config, str):
        return  # no firm to say it of
    told = f"this worker could not read its task ({error}); is it older than the engine "
    told += "that queued it? upgrade the workers"
    coordinator = coordinator_for(str(task.app.conf.broker_url))
    task_id = str(task.request.id or "")
    coordinator.record(
        FirmRun(name, config, "failed", error=told, finished=now_iso(), task=task_id)
    )


def _sync_firm(task: Any, settings: WorkerSettings, job: Job) -> dict[str, Any]:
    """One attempt; a busy realm or a failure sends the job again later (`task.retry`),
    with its own counters, so neither blocks the worker nor retries forever. A failure
    waiting cannot mend (`runner.permanent`) is recorded failed at once."""
    coordinator = coordinator_for(str(task.app.conf.broker_url))
    firm = Firm(job.name, Path(job.config))
    task_id = str(task.request.id or "")  # a retry keeps its task's id
    try:
        run = run_firm(
            firm,
            coordinator,
            attempt=job.attempt,
            owner=f"{task.request.hostname}:{os.getpid()}",
            ttl=settings.lease_ttl,
            backup_first=job.backup_first,
            task=task_id,
        )
    except RealmBusy as busy:
        waiting = FirmRun(
            job.name, job.config, "waiting", busy.realm, attempt=job.attempt, task=task_id
        )
        if job.waits >= settings.busy_waits:
            error = f"{busy}, through {job.waits} waits"
            run = replace(waiting, status="failed", finished=now_iso(), error=error)
        else:
            coordinator.record(waiting)
            again = asdict(replace(job, waits=job.waits + 1))
            raise task.retry(kwargs=again, countdown=settings.busy_wait) from None
    except Exception as error:  # this firm's failure: recorded, retried unless permanent
        run = replace(unexpected(firm, job.attempt, error), task=task_id)
    if run.status == "failed" and not run.permanent and job.attempt < job.attempts:
        coordinator.record(replace(run, status="retrying"))
        again = asdict(replace(job, attempt=job.attempt + 1))
        raise task.retry(kwargs=again, countdown=job.backoff * 2 ** (job.attempt - 1))
    coordinator.record(run)
    return asdict(run)


def enqueue(
    app: Celery, firms: list[Firm], *, attempts: int, backoff: float, backup_first: bool = False
) -> list[str]:
    ids = []
    for firm in firms:
        job = Job(firm.name, str(firm.config), attempts=attempts, backoff=backoff)
        result = app.send_task(SYNC, kwargs=asdict(replace(job, backup_first=backup_first)))
        ids.append(str(result.id))
    return ids


def outcome(firm: Firm, result: Any, record: FirmRun | None) -> FirmRun:
    """The firm's outcome from its own task (`result`, a finished AsyncResult): the run it
    returned, or how the task failed. The firm's record stands in only when it is this task's
    own final record (the task failed after recording its outcome): a record of an earlier
    run, or this task's `running` one, would show a stale outcome."""
    own = record if record and record.task == result.id and record.status in FINAL else None
    if result.successful() and isinstance(result.result, dict):
        try:
            return FirmRun.from_dict(result.result)
        except TypeError:
            pass  # not a run: said as the task's failure below
    if own is not None:
        return own
    error = result.result
    told = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else ""
    return FirmRun(
        firm.name,
        str(firm.config),
        "failed",
        error=f"its task {result.id} ended {result.state} without a run: {told or error!r}",
        finished=now_iso(),
        task=str(result.id),
    )
