"""`tpsqbo-engine fleet`: many firms. With `--broker` (or TPSQBO_FLEET_BROKER) the runs go
to Celery workers sharing a Redis broker; without one they run here, in a pool of threads,
coordinated through one SQLite file."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tpsqbo_engine.cli_options import FormatOption, output_format
from tpsqbo_engine.errors import UsageError

if TYPE_CHECKING:
    from tpsqbo_engine.fleet.coord import Coordinator, FirmRun
    from tpsqbo_engine.fleet.firms import Firm

fleet_app = typer.Typer(
    help="Sync many firms: run, schedule, status, worker.", no_args_is_help=True
)

BROKER_ENV = "TPSQBO_FLEET_BROKER"
Broker = Annotated[
    str,
    typer.Option(
        "--broker", envvar=BROKER_ENV, help="Redis URL of the broker; none: run here, embedded."
    ),
]
CoordFile = Annotated[
    Path,
    typer.Option("--coord", help="Without a broker: the SQLite file the embedded fleet shares."),
]
Paths = Annotated[list[Path] | None, typer.Argument(help="Fleet folders or firm config files.")]
DEFAULT_COORD = Path(".tpsqbo-fleet/fleet.db")


def parse_duration(text: str) -> float:
    """`--every`, in seconds: the same intervals `watch` takes (90, 15m, 2h, daily...)."""
    from tpsqbo_engine.durations import interval

    return interval(text, "--every", allow_off=False)


def _coordinator(broker: str, coord: Path) -> Coordinator:
    if broker:
        from tpsqbo_engine.fleet.redis_coord import RedisCoordinator

        return RedisCoordinator(broker)
    from tpsqbo_engine.fleet.local_coord import LocalCoordinator

    return LocalCoordinator(coord)


def _line(run: FirmRun) -> str:
    counts = ", ".join(f"{n} {k}" for k, n in run.counts.items() if n)
    if run.calls:
        counts += f"; {run.calls} QBO calls, {run.throttled} throttled"
    extra = f": {run.error}" if run.error else (f" ({counts})" if counts else "")
    return f"{run.firm:24} {run.status:9} attempt {run.attempt}{extra}"


def _age(run: FirmRun, now: datetime) -> str:
    stamp = run.finished or run.started
    if not stamp:
        return "-"
    seconds = int((now - datetime.fromisoformat(stamp)).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


@fleet_app.command("run")
def run(
    paths: Paths = None,
    broker: Broker = "",
    coord: CoordFile = DEFAULT_COORD,
    threads: Annotated[int, typer.Option(min=1, help="Embedded: firms synced at once.")] = 4,
    attempts: Annotated[int, typer.Option(min=1, help="Tries for a failing firm.")] = 3,
    backoff: Annotated[
        float, typer.Option(min=0, help="Seconds before the 2nd try; doubles.")
    ] = 30.0,
    due: Annotated[bool, typer.Option(help="Only the scheduled firms that are due.")] = False,
    backup_first: Annotated[
        bool, typer.Option(help="A firm's initial sync takes its backup first.")
    ] = False,
    wait: Annotated[
        bool, typer.Option(help="With a broker: wait for every firm's outcome.")
    ] = True,
    timeout: Annotated[
        float, typer.Option(help="With a broker and --wait: give up after.")
    ] = 3600.0,
    output: FormatOption = "text",
) -> None:
    """Sync every firm of the fleet; exit 1 if any firm failed."""
    from tpsqbo_engine.fleet.firms import Firm, load_fleet

    output_format(output)
    coordinator = _coordinator(broker, coord)
    if due:
        now = time.time()
        ready = [s for s in coordinator.schedules() if s.due(now)]
        firms = [Firm(s.firm, Path(s.config)) for s in ready]
        for schedule in ready:
            coordinator.mark_enqueued(schedule.firm, now)
    else:
        firms = load_fleet(paths or [])
    if broker:
        policy = (attempts, backoff, backup_first)
        runs = _run_on_workers(broker, coordinator, firms, policy, wait, timeout)
        if not wait:
            return
    else:
        from tpsqbo_engine.fleet.embedded import EmbeddedFleet, RetryPolicy

        fleet = EmbeddedFleet(
            coordinator,
            threads=threads,
            policy=RetryPolicy(attempts, backoff),
            backup_first=backup_first,
        )
        runs = fleet.run(firms)
    if output == "json":
        typer.echo(json.dumps([asdict(r) for r in runs], indent=2))
    else:
        for line in map(_line, runs):
            typer.echo(line)
    raise typer.Exit(1 if any(r.status == "failed" for r in runs) else 0)


def _run_on_workers(
    broker: str,
    coordinator: Coordinator,
    firms: list[Firm],
    policy: tuple[int, float, bool],
    wait: bool,
    timeout: float,
) -> list[FirmRun]:
    from tpsqbo_engine.fleet.coord import FirmRun
    from tpsqbo_engine.fleet.tasks import enqueue, make_app

    app = make_app(broker)
    attempts, backoff, backup_first = policy
    ids = enqueue(app, firms, attempts=attempts, backoff=backoff, backup_first=backup_first)
    if not wait:
        typer.echo(f"{len(ids)} firm(s) queued; `tpsqbo-engine fleet status` shows them")
        return []
    results = [app.AsyncResult(i) for i in ids]
    deadline = time.monotonic() + timeout
    while not all(r.ready() for r in results):
        if time.monotonic() > deadline:
            raise UsageError(
                f"the workers did not finish within {timeout:.0f} s",
                hint="are workers running (`tpsqbo-engine fleet worker`)? see `fleet status`",
            )
        time.sleep(0.5)
    latest = {r.firm: r for r in coordinator.runs()}
    return [
        latest.get(f.name) or FirmRun(f.name, str(f.config), "failed", error="no record")
        for f in firms
    ]


@fleet_app.command("schedule")
def schedule(
    paths: Paths = None,
    every: Annotated[
        str,
        typer.Option(help="How often: seconds (90) or 90s, 15m, 2h, 1d, hourly, daily."),
    ] = "1h",
    remove: Annotated[bool, typer.Option(help="Take these firms off the schedule.")] = False,
    broker: Broker = "",
    coord: CoordFile = DEFAULT_COORD,
) -> None:
    """Sync these firms periodically: beat (`fleet worker --beat`) enqueues them when due;
    without a broker, `fleet run --due` (from cron) runs the due ones."""
    from tpsqbo_engine.fleet.coord import Schedule
    from tpsqbo_engine.fleet.firms import load_fleet

    coordinator = _coordinator(broker, coord)
    firms = load_fleet(paths or [])
    if remove:
        gone = sum(coordinator.remove_schedule(f.name) for f in firms)
        typer.echo(f"{gone} firm(s) taken off the schedule")
        return
    seconds = parse_duration(every)
    for firm in firms:
        coordinator.set_schedule(Schedule(firm.name, str(firm.config), seconds))
    typer.echo(f"{len(firms)} firm(s) scheduled every {every}")


@fleet_app.command("status")
def status(
    broker: Broker = "", coord: CoordFile = DEFAULT_COORD, output: FormatOption = "text"
) -> None:
    """The last run of every firm: status, counts, age."""
    runs = _coordinator(broker, coord).runs()
    if output_format(output) == "json":
        typer.echo(json.dumps([asdict(r) for r in runs], indent=2))
        return
    now = datetime.now(UTC)
    if not runs:
        typer.echo("no runs yet")
    for item in runs:
        typer.echo(f"{_line(item)}  [{_age(item, now)}]")


@fleet_app.command("worker")
def worker(
    broker: Broker = "",
    concurrency: Annotated[int, typer.Option(min=1, help="Firms this worker runs at once.")] = 2,
    beat: Annotated[bool, typer.Option(help="Also run the scheduler (one per fleet).")] = False,
    hostname: Annotated[str, typer.Option(help="This worker's name (Celery's %h@%n).")] = "",
    visibility_timeout: Annotated[
        float, typer.Option(help="Seconds before a dead worker's firm goes to another worker.")
    ] = 3600.0,
    restore_interval: Annotated[float, typer.Option(help="Seconds between looks for them.")] = 10.0,
    lease_ttl: Annotated[float, typer.Option(help="Seconds a silent run keeps its realm.")] = 60.0,
    tick: Annotated[
        float, typer.Option(help="With --beat: seconds between schedule looks.")
    ] = 30.0,
    busy_wait: Annotated[
        float, typer.Option(help="Seconds before asking again for a realm in use.")
    ] = 5.0,
) -> None:
    """Run a Celery worker for the fleet on this machine (Flower sees its events)."""
    from tpsqbo_engine.fleet.tasks import WorkerSettings, make_app

    if not broker:
        raise UsageError(
            "a worker needs a broker", hint=f"pass --broker redis://... or set {BROKER_ENV}"
        )
    settings = WorkerSettings(visibility_timeout, restore_interval, lease_ttl, tick, busy_wait)
    argv = ["worker", f"--concurrency={concurrency}", "--loglevel=INFO", "--pool=prefork"]
    argv += [f"--hostname={hostname}"] if hostname else []
    argv += ["--beat", f"--schedule={Path('.tpsqbo-fleet') / 'beat-schedule'}"] if beat else []
    if beat:
        Path(".tpsqbo-fleet").mkdir(exist_ok=True)
    make_app(broker, settings).worker_main(argv)


def register(app: typer.Typer) -> None:
    app.add_typer(fleet_app, name="fleet")
