"""`watch` (webhooks and a schedule drive the sync) and `undo` (take a run back)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tpsqbo_engine.cli_options import ConfigOption, FormatOption, open_session, output_format
from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.sync.config import CONFIG_FILE

if TYPE_CHECKING:
    from tpsqbo_engine.sync.undo import UndoPlan
    from tpsqbo_engine.sync.undo_apply import UndoSummary


def watch(
    config: ConfigOption = Path(CONFIG_FILE),
    host: Annotated[str, typer.Option(help="Address to listen on for webhooks.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for webhooks, /healthz and /metrics.")] = 8780,
    debounce: Annotated[
        float, typer.Option(help="Seconds of notifications that make one run.")
    ] = 3.0,
    poll: Annotated[str, typer.Option(help="CDC sweep for missed webhooks: 15m, 1h, off.")] = "15m",
    tps_poll: Annotated[str, typer.Option(help="How often TPS is asked for changes.")] = "5m",
    reconcile: Annotated[
        str, typer.Option(help="Full check of open A/R: daily, hourly, 12h, off.")
    ] = "daily",
    log_format: Annotated[str, typer.Option(help="text or json (one object a line).")] = "text",
) -> None:
    """Keep the firm in sync: QBO webhooks and a schedule trigger incremental syncs.

    Serves POST /webhooks (signed with the verifier token in TPSQBO_WEBHOOK_VERIFIER),
    GET /healthz and GET /metrics (Prometheus). SIGTERM or Ctrl-C finishes the run in
    flight and exits 0.
    """
    from tpsqbo_engine.durations import interval
    from tpsqbo_engine.watch.logs import configure, unconfigure
    from tpsqbo_engine.watch.watcher import Watcher, WatchOptions

    if debounce < 0 or debounce > 600:
        raise UsageError("--debounce is between 0 and 600 seconds")
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port} is not a port")
    options = WatchOptions(
        config,
        host,
        port,
        debounce,
        interval(poll, "--poll"),
        interval(tps_poll, "--tps-poll"),
        interval(reconcile, "--reconcile"),
    )
    watcher = Watcher(options, open_session)
    try:
        logs = configure(log_format)
    except ValueError as error:
        raise UsageError(str(error)) from None
    previous = {
        number: signal.signal(number, lambda *_: watcher.stop())
        for number in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        code = watcher.serve()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        unconfigure(logs)
    raise typer.Exit(code)


def undo(
    run: Annotated[int, typer.Option("--run", help="The run to take back (see `history`).")],
    config: ConfigOption = Path(CONFIG_FILE),
    plan: Annotated[
        bool, typer.Option("--plan", help="Only show what would be done, as `plan` does.")
    ] = False,
    force: Annotated[
        list[str] | None,
        typer.Option(help="Take back this record although it changed since (repeatable)."),
    ] = None,
    reason: Annotated[str, typer.Option(help="Why; kept in the history (with --force).")] = "",
    output: FormatOption = "text",
) -> None:
    """Take back what run N wrote: created records deleted, voided or made inactive,
    updated ones restored; records changed since are listed, not touched."""
    from tpsqbo_engine.sync import render
    from tpsqbo_engine.sync.undo import plan_undo
    from tpsqbo_engine.sync.undo_apply import apply_undo

    output = output_format(output)
    if force and not reason.strip():
        raise UsageError("--force needs --reason", hint="say why; it is kept in the history")
    session = open_session(config)
    made = plan_undo(session, run, frozenset(force or []))
    if plan:
        if output == "json":
            typer.echo(made.plan.to_json())
            return
        for line in _undo_header(made) + render.plan_text(made.plan):
            typer.echo(line)
        return
    summary = apply_undo(session, made, reason)
    _print_undone(summary, output)
    # 1 when the books are not as they were: a write not taken back, or (the initial sync)
    # QBO not back to the backup, which a script reading only the exit code must see.
    raise typer.Exit(0 if summary.ok else 1)


def _print_undone(summary: UndoSummary, output: str) -> None:
    from tpsqbo_engine.sync import render

    if output == "json":
        typer.echo(
            render.as_json(
                {
                    **vars(summary),
                    "ok": summary.ok,
                    "not_as_before": _verdicts(summary, "in backup_check"),
                }
            )
        )
        return
    typer.echo(
        f"run {summary.run_id} (undo of run {summary.undone}): {render.counts_text(summary.counts)}"
    )
    for line in summary.backup_check + _verdicts(summary, "above"):
        typer.echo(line)


def _verdicts(summary: UndoSummary, listed: str) -> list[str]:
    """What is not as it was before run N, and where to see it."""
    said = []
    if not summary.complete:
        said.append(
            f"run {summary.undone} is not wholly taken back: see "
            f"`tpsqbo-engine history --run {summary.run_id}`"
        )
    if summary.back_to_backup is False:
        said.append(
            f"the books are not back to the backup taken before run {summary.undone}: QBO "
            f"differs from it as listed {listed} (records added or removed since, or fields "
            "not as they were); put them right in QBO, or restore from that backup"
        )
    if summary.unchecked:
        said.append(
            f"the books are not known to be back to the backup taken before run "
            f"{summary.undone}: it was not compared with QBO (said above); compare them by hand"
        )
    return said


def _undo_header(made: UndoPlan) -> list[str]:
    run = made.run
    lines = [f"Undo of run {run['id']} ({run['phase']}, {run['started_at']})"]
    if made.initial:
        backup = made.backup
        lines.append(
            "This is the initial sync: undoing it brings QBO back to the backup taken "
            + (f"before it ({backup['taken_at']}, {backup['path']})" if backup else "before it")
            + "; the next sync is then an initial sync again."
        )
    if made.unreadable:
        lines.append(f"{made.unreadable}: QBO will not be compared with it after the undo.")
    return lines


def register(app: typer.Typer) -> None:
    app.command()(watch)
    app.command()(undo)
