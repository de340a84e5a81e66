"""What the state says about runs and records: `history`, `report`, `explain`,
`reconcile`, and taking a record out of the sync (`ignore`, `unignore`)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from tpsqbo_engine.cli_options import (
    ConfigOption,
    FormatOption,
    check_named,
    echo_lines,
    open_session,
    output_format,
)
from tpsqbo_engine.cli_paths import writable
from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.sync import render
from tpsqbo_engine.sync.config import CONFIG_FILE


def report(
    out: Annotated[Path, typer.Option(help="The HTML file to write.")],
    run: Annotated[int | None, typer.Option(help="The run (default: the latest).")] = None,
    config: ConfigOption = Path(CONFIG_FILE),
) -> None:
    """Write one self-contained HTML page about a run, for a bookkeeper to open."""
    from tpsqbo_engine.sync.report import write_report

    writable(out, "--out", "report.html")
    try:
        path = write_report(open_session(config), run, out)
    except OSError as exc:
        if exc.filename is None or Path(exc.filename).parent != out.parent:
            raise  # not the page's own file: not the user's path at fault
        raise UsageError(f"cannot write {out}: {exc.strerror}") from None
    typer.echo(f"report written to {path}")


def history(
    config: ConfigOption = Path(CONFIG_FILE),
    run: Annotated[int | None, typer.Option(help="One run's records.")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only this status (Failed, Warning, ...).")
    ] = None,
    output: FormatOption = "text",
) -> None:
    """Past runs, or one run's records with their status, message and rule."""
    output = output_format(output)
    from tpsqbo_engine.sync.records import run_named, status_named

    status = status_named(status) if status is not None else None
    state = open_session(config).state
    if run is not None:
        run_named(state, run)
    rows = state.items(run, status) if run is not None or status else state.runs()
    if output == "json":
        typer.echo(render.as_json(rows))
        return
    for row in rows:
        if "record" in row:
            typer.echo(
                f"{row['status']:10} {row['record']}: {row['message']}"
                f"{'  [' + row['rule'] + ']' if row['rule'] else ''}"
            )
        else:
            typer.echo(
                f"run {row['id']} {row['phase']:8} {row['status']:9} "
                f"{row['started_at']}  {row['counts']}"
                + (f"\n    {row['notes']}" if row.get("notes") else "")
            )


def ignore(
    record: Annotated[str, typer.Argument(help="e.g. tps.Invoice:inv-1001")],
    reason: Annotated[str, typer.Option(help="Why; kept with the record.")],
    config: ConfigOption = Path(CONFIG_FILE),
) -> None:
    """Take a record out of the sync (undo with `unignore`)."""
    session = open_session(config)
    check_named(session, [record])
    session.state.ignore(record, reason)
    typer.echo(
        f"{record} is ignored. Warning: while it is, A/R in TPS and QBO may disagree "
        "for its client; `tpsqbo-engine unignore` brings it back."
    )


def unignore(
    record: Annotated[str, typer.Argument(help="e.g. tps.Invoice:inv-1001")],
    config: ConfigOption = Path(CONFIG_FILE),
) -> None:
    """Bring an ignored record back into the sync."""
    if not open_session(config).state.unignore(record):
        raise UsageError(f"{record} was not ignored")
    typer.echo(f"{record} is back in the sync")


def explain(
    record: Annotated[str, typer.Argument(help="e.g. tps.Client:c-1001")],
    config: ConfigOption = Path(CONFIG_FILE),
    output: FormatOption = "text",
) -> None:
    """Which rule decided what about a record, run by run, and what the next sync would do
    (that part needs the connections; without them the history is shown alone)."""
    output = output_format(output)
    session = open_session(config)
    check_named(session, [record])
    unconnected = session.unconnected()
    upcoming = (
        [op for op in session.plan()[0].operations if op.record == record]
        if not unconnected
        else []
    )
    disabled = [d.describe() for d in session.rules.disabled_for(record.split(":", 1)[0])]
    if output == "json":
        typer.echo(
            render.as_json(
                {
                    "history": session.explain(record),
                    "next": [asdict(op) for op in upcoming] if not unconnected else None,
                    "next_unknown": unconnected,
                    "disabled": disabled,
                }
            )
        )
        return
    for line in disabled:
        typer.echo(f"rules: {line}")
    for item in session.explain(record):
        typer.echo(
            f"run {item['run_id']}: {item['status']} ({item['action']}) "
            f"{item['message']}  [{item['rule'] or item['mapping']}]"
        )
    for op in upcoming:
        typer.echo(f"next: {op.action} {op.target} by {op.mapping} [{op.rule}] {op.message}")
        for field, (old, new) in op.diff.items():
            typer.echo(f"      {field}: {old!r} -> {new!r}")
    if unconnected:
        typer.echo(f"next: not known without the connections ({unconnected})")
    elif not upcoming:
        typer.echo("next: nothing to do for it")


def reconcile(config: ConfigOption = Path(CONFIG_FILE), output: FormatOption = "text") -> None:
    """Open A/R per client in TPS and QBO, net of unapplied credits, side by side; exit 1 on
    any difference."""
    output = output_format(output)
    session = open_session(config)
    rows = session.reconcile()
    if output == "json":
        typer.echo(render.as_json(rows))
    else:
        echo_lines(render.reconcile_text(rows))
        typer.echo(f"QBO's side from {session.reconciled_from}")
    raise typer.Exit(1 if any(r.difference for r in rows) else 0)


COMMANDS = (history, ignore, unignore, explain, reconcile, report)
