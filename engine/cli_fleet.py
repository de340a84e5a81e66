"""`tpsqbo-engine fleet`: many firms. With `--broker` (or TPSQBO_FLEET_BROKER) the runs go
to Celery workers sharing a Redis broker; without one they run here, in a pool of threads,
coordinated through one SQLite file."""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tpsqbo_engine.cli_options import FormatOption, output_format
from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.fleet.reach import BROKER_ENV, reaching, redacted

if TYPE_CHECKING:
    from celery import Celery

    from tpsqbo_engine.fleet.coord import Coordinator, FirmRun, Schedule
    from tpsqbo_engine.fleet.firms import Firm

fleet_app = typer.Typer(
    help="Sync many firms: run, schedule, status, worker.", no_args_is_help=True
)

COORD_ENV = "TPSQBO_FLEET_COORD"
Broker = Annotated[
    str,
    typer.Option(
        "--broker", envvar=BROKER_ENV, help="Redis URL of the broker; none: run here, embedded."
    ),
]
CoordFile = Annotated[
    Path,
    typer.Option(
        "--coord",
        envvar=COORD_ENV,
        help="Without a broker: the SQLite file the embedded fleet shares (relative to the "
        "current directory: give cron an absolute path).",
    ),
]
Paths = Annotated[list[Path] | None, typer.Argument(help="Fleet folders or firm config files.")]
DEFAULT_COORD = Path(".tpsqbo-fleet/fleet.db")


def parse_duration(text: str) -> float:
    """`--every`, in seconds: the same intervals `watch` takes (90, 15m, 2h, daily...)."""
    from tpsqbo_engine.durations import interval

    return interval(text, "--every", allow_off=False)


def open_coordinator(broker: str, coord: Path, *, existing: bool = False) -> Coordinator:
    """`existing`: the coord file must be there already (a command that only reads it)."""
    if broker:
        from tpsqbo_engine.fleet.redis_coord import RedisCoordinator

        with reaching(broker):
            coordinator = RedisCoordinator(broker)
            coordinator.redis.ping()
        return coordinator
    from tpsqbo_engine.fleet.local_coord import LocalCoordinator

    if existing and not coord.is_file():
        raise UsageError(
            f"no fleet coordination file at {coord.resolve()}",
            hint=f"run `fleet schedule` first, or pass --coord (or {COORD_ENV}) naming the "
            "file `fleet schedule` wrote",
        )
    return LocalCoordinator(coord)


@fleet_app.command("run")
def run(
    paths: Paths = None,
    broker: Broker = "",
    coord: CoordFile = DEFAULT_COORD,
    threads: Annotated[int, typer.Option(min=1, help="Embedded: firms synced at once.")] = 4,
    attempts: Annotated[
        int,
        typer.Option(min=1, help="Tries for a failing firm (a config, usage or rule error: one)."),
    ] = 3,
    backoff: Annotated[
        float, typer.Option(min=0, help="Seconds before the 2nd try; doubles.")
    ] = 30.0,
    due: Annotated[
        bool,
        typer.Option(help="Only the scheduled firms that are due (of PATHS, when given)."),
    ] = False,
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
    from tpsqbo_engine.fleet.firms import load_fleet
    from tpsqbo_engine.fleet.views import line

    output_format(output)
    coordinator = open_coordinator(broker, coord, existing=due)
    with reaching(broker):
        if due:
            firms = _due_firms(coordinator, paths or [], _where(broker, coord), output)
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
        for shown in map(line, runs):
            typer.echo(shown)
    raise typer.Exit(1 if any(r.status == "failed" for r in runs) else 0)


def _where(broker: str, coord: Path) -> str:
    return f"the broker at {redacted(broker)}" if broker else str(coord.resolve())


def _due_firms(coordinator: Coordinator, paths: list[Path], where: str, output: str) -> list[Firm]:
    """The scheduled firms that are due (of `paths`, when given), marked enqueued now. No
    schedule at all is an error, not "nothing due": cron run from another directory (the
    coord file is relative to it) would otherwise sync nothing and say nothing."""
    from tpsqbo_engine.fleet.firms import Firm, load_fleet
    from tpsqbo_engine.fleet.views import next_due

    scheduled = coordinator.schedules()
    if not scheduled:
        raise UsageError(
            f"no firm is scheduled in {where}",
            hint=f"run `fleet schedule` first, or pass --coord (or {COORD_ENV}) naming the "
            "file `fleet schedule` wrote",
        )
    if paths:
        wanted = {str(f.config) for f in load_fleet(paths)}
        scheduled = [s for s in scheduled if s.config in wanted]
        if not scheduled:
            raise UsageError(
                f"none of the firms in {', '.join(map(str, paths))} is scheduled in {where}",
                hint="`fleet schedule --list` shows the scheduled firms",
            )
    now = time.time()
    ready = [s for s in scheduled if s.due(now)]
    for item in ready:
        coordinator.mark_enqueued(item.firm, now)
    if not ready and output == "text":
        typer.echo(f"0 of {len(scheduled)} scheduled firm(s) due; next: {next_due(scheduled, now)}")
    return [Firm(s.firm, Path(s.config)) for s in ready]


def _run_on_workers(
    broker: str,
    coordinator: Coordinator,
    firms: list[Firm],
    policy: tuple[int, float, bool],
    wait: bool,
    timeout: float,
) -> list[FirmRun]:
    from tpsqbo_engine.fleet.tasks import enqueue, make_app

    app = make_app(broker)
    attempts, backoff, backup_first = policy
    ids = enqueue(app, firms, attempts=attempts, backoff=backoff, backup_first=backup_first)
    if not wait:
        typer.echo(f"{len(ids)} firm(s) queued; `tpsqbo-engine fleet status` shows them")
        return []
    return _await_outcomes(app, coordinator, firms, ids, timeout)


def _await_outcomes(
    app: Celery, coordinator: Coordinator, firms: list[Firm], ids: list[str], timeout: float
) -> list[FirmRun]:
    """Each firm's outcome from its own task, once every task has ended."""
    from tpsqbo_engine.fleet.tasks import outcome

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
    return [outcome(f, r, latest.get(f.name)) for f, r in zip(firms, results, strict=True)]


@fleet_app.command("schedule")
def schedule(
    paths: Paths = None,
    every: Annotated[
        str,
        typer.Option(help="How often: seconds (90) or 90s, 15m, 2h, 1d, hourly, daily."),
    ] = "1h",
    remove: Annotated[
        bool,
        typer.Option(
            help="Take these firms off the schedule: folders, configs, or firm names (a firm "
            "whose folder is gone too)."
        ),
    ] = False,
    listing: Annotated[
        bool, typer.Option("--list", help="List the scheduled firms and when each is due.")
    ] = False,
    broker: Broker = "",
    coord: CoordFile = DEFAULT_COORD,
) -> None:
    """Sync these firms periodically: beat (`fleet worker --beat`) enqueues them when due;
    without a broker, `fleet run --due` (from cron) runs the due ones. A firm scheduled
    again keeps when it was last run."""
    from tpsqbo_engine.fleet.coord import Schedule
    from tpsqbo_engine.fleet.firms import load_fleet

    coordinator = open_coordinator(broker, coord, existing=remove or listing)
    where = _where(broker, coord)
    with reaching(broker):
        if listing:
            if paths:
                raise UsageError("--list takes no paths", hint="it lists every scheduled firm")
            _list_schedules(coordinator, where)
            return
        if remove:
            _unschedule(coordinator, paths or [], where)
            return
        firms = load_fleet(paths or [])
        seconds = parse_duration(every)
        for firm in firms:
            coordinator.set_schedule(Schedule(firm.name, str(firm.config), seconds))
    typer.echo(f"{len(firms)} firm(s) scheduled every {every} in {where}")
    if not broker:
        typer.echo(f"from cron: tpsqbo-engine fleet run --due --coord {shlex.quote(where)}")


def _list_schedules(coordinator: Coordinator, where: str) -> None:
    from tpsqbo_engine.fleet.views import span

    scheduled = coordinator.schedules()
    if not scheduled:
        typer.echo(f"no firm is scheduled in {where}")
    now = time.time()
    for item in scheduled:
        left = item.last + item.every - now
        when = f"due in {span(left)}" if left > 0 else "due now"
        typer.echo(f"{item.firm:24} every {span(item.every):6} {when:14} {item.config}")


def _unschedule(coordinator: Coordinator, paths: list[Path], where: str) -> None:
    """Each path names firms by their folder or config, or is a firm's name; the folder may
    be gone (the firm left the practice), so the stored config paths decide."""
    if not paths:
        raise UsageError("no firms given", hint="name the firms, or their folders or configs")
    scheduled = coordinator.schedules()
    gone: set[str] = set()
    for path in paths:
        matched = _scheduled_as(path, scheduled)
        if not matched:
            raise UsageError(
                f"{path}: no such firm on the schedule in {where}",
                hint="`fleet schedule --list` shows the scheduled firms",
            )
        gone |= matched
    for name in sorted(gone):
        coordinator.remove_schedule(name)
    typer.echo(f"{len(gone)} firm(s) taken off the schedule")


def _scheduled_as(path: Path, scheduled: list[Schedule]) -> set[str]:
    from tpsqbo_engine.fleet.firms import load_fleet

    target = path.resolve()
    found = {s.firm for s in scheduled if s.firm == str(path)}
    for item in scheduled:
        config = Path(item.config)
        if config == target or target in config.parents:
            found.add(item.firm)
    if path.exists():
        try:
            names = {f.name for f in load_fleet([path])}
        except UsageError:  # a folder whose firms are all gone: matched by configs above
            names = set()
        found |= names & {s.firm for s in scheduled}
    return found


@fleet_app.command("status")
def status(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Only these fleet folders or firm configs (never-run ones too)."),
    ] = None,
    broker: Broker = "",
    coord: CoordFile = DEFAULT_COORD,
    output: FormatOption = "text",
) -> None:
    """The last run of every firm (and every scheduled firm): status, counts, age; a run
    whose lease expired unrecorded is `lost`, a scheduled firm never run `never run`, one
    whose last run is older than two periods OVERDUE."""
    from tpsqbo_engine.fleet.firms import load_fleet
    from tpsqbo_engine.fleet.views import rows, status_line

    output_format(output)
    coordinator = open_coordinator(broker, coord)
    with reaching(broker):
        only = {f.name: str(f.config) for f in load_fleet(paths)} if paths else None
        found = rows(coordinator, only=only)
    if output == "json":
        typer.echo(json.dumps([r.to_dict() for r in found], indent=2))
        return
    now = datetime.now(UTC)
    if not found:
        typer.echo(f"no runs yet in {_where(broker, coord)}")
    for row in found:
        typer.echo(status_line(row, now))


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
