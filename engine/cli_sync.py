"""The sync's commands. Each loads the firm config, opens a Session, calls one method and
prints; errors go to the CLI's one error boundary."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tpsqbo_engine.cli_paths import folder_out, writable, write_out
from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.sync import render
from tpsqbo_engine.sync.config import CONFIG_FILE

if TYPE_CHECKING:
    from tpsqbo_engine.sync.session import RunSummary, Session

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The firm config.")]
FormatOption = Annotated[str, typer.Option("--format", "-f", help="text or json.")]


def _format(value: str) -> str:
    if value not in ("text", "json"):
        raise UsageError(f"--format is text or json, not {value!r}")
    return value


def _session(config: Path) -> Session:
    from tpsqbo_engine.sync.config import load_config
    from tpsqbo_engine.sync.session import Session

    return Session(load_config(config))


def _check_named(session: Session, records: list[str]) -> None:
    """Record names the user typed: a typo is refused, not acted on as nothing."""
    from tpsqbo_engine.sync.records import check_records

    for warning in check_records(session, records):
        typer.echo(f"warning: {warning}", err=True)


def _echo_lines(lines: list[str]) -> None:
    for line in lines:
        typer.echo(line)


def demo(
    workdir: Annotated[Path, typer.Option(help="Where everything the demo makes is kept.")] = Path(
        "demo-run"
    ),
    firm: Annotated[
        str,
        typer.Option(
            help="demo (the tidy demo firm) or awkward (books as a real practice has "
            "them: typing, inactive customers, credits, years of QBO history)."
        ),
    ] = "demo",
    watch: Annotated[
        bool, typer.Option("--watch", help="Show the watcher: an online payment reaching TPS.")
    ] = False,
    rules: Annotated[
        Path | None, typer.Option(help="Run the demo with this rule pack instead of the standard.")
    ] = None,
) -> None:
    """Run the whole job on local emulators: no credentials, no network.

    Starts both emulators, connects, runs checklist, backup, plan and sync, changes both
    sides, syncs again, and shows the history and the reconciliation (zero for the demo
    firm; exactly the documented differences for the awkward one). With --watch: the
    initial sync, then the watcher, and a client paying online.
    """
    from tpsqbo_engine.sync.demo import FIRMS, run_demo

    if firm not in FIRMS:
        raise UsageError(f"--firm is {' or '.join(FIRMS)}, not {firm!r}")
    if rules is not None and not (rules / "pack.yaml").is_file():
        raise UsageError(f"--rules {rules} is not a rule pack folder (no pack.yaml)")
    if watch:
        from tpsqbo_engine.watch.demo import run_watch_demo

        if firm != "demo":
            raise UsageError("--watch runs with the demo firm", hint="leave out --firm")

        raise typer.Exit(run_watch_demo(workdir, typer.echo, rules=rules))
    raise typer.Exit(run_demo(workdir, typer.echo, firm, rules))


def checklist(config: ConfigOption = Path(CONFIG_FILE), output: FormatOption = "text") -> None:
    """Run the pack's pre-flight checks; exit 1 if one that must pass fails."""
    output = _format(output)
    results = _session(config).checklist()
    if output == "json":
        typer.echo(render.as_json(results))
    else:
        _echo_lines(render.checklist_text(results))
    raise typer.Exit(1 if any(r.blocks for r in results) else 0)


def backup(config: ConfigOption = Path(CONFIG_FILE)) -> None:
    """Snapshot every QBO entity the rules touch into a compressed JSON-lines file."""
    session = _session(config)
    folder_out(session.config.workdir / "backups", "the firm config's workdir:")
    typer.echo(f"backup written to {session.backup()}")


def plan(
    config: ConfigOption = Path(CONFIG_FILE),
    output: FormatOption = "text",
    out: Annotated[
        Path | None, typer.Option(help="Also write the plan to this file (for `sync --plan`).")
    ] = None,
) -> None:
    """Show every write the next sync would make, with field-level differences."""
    output = _format(output)
    if out is not None:
        writable(out, "--out")
    made, _ = _session(config).plan()
    if out is not None:
        write_out(out, made.to_json())
    if output == "json":
        typer.echo(made.to_json())
    else:
        _echo_lines(render.plan_text(made))


def sync(
    config: ConfigOption = Path(CONFIG_FILE),
    plan_file: Annotated[
        Path | None, typer.Option("--plan", help="Apply exactly this reviewed plan.")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Run the initial sync although checks fail (needs --reason).")
    ] = False,
    reason: Annotated[str, typer.Option(help="Why --force; kept in the history.")] = "",
    output: FormatOption = "text",
    render_dir: Annotated[
        Path | None,
        typer.Option("--render", help="Render every invoice the run wrote into this folder."),
    ] = None,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            help="Exit 1 on: new (failures not already reported, unchanged, by an earlier "
            "run; the default), any failure, or never.",
        ),
    ] = "new",
    whole: Annotated[
        bool,
        typer.Option(
            "--whole", help="Read both systems whole, not only what changed since the last run."
        ),
    ] = False,
) -> None:
    """Apply the plan: write to QBO and TPS, record every record's outcome."""
    from tpsqbo_engine.sync.plan import Plan

    output = _format(output)
    if fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on is new, any or never, not {fail_on!r}")
    if force and not reason.strip():
        raise UsageError("--force needs --reason", hint="say why; it is kept in the history")
    if render_dir is not None:
        folder_out(render_dir, "--render")
    given = Plan.from_file(plan_file) if plan_file else None  # before any connection
    if given is not None and given.phase == "undo":
        raise UsageError(
            f"{plan_file} is the plan of an undo, which `sync` does not apply",
            hint="undo a run with `tpsqbo-engine undo --run N`",
        )
    session = _session(config)
    summary = session.sync(
        given=given,
        force_reason=reason if force else "",
        progress=_progress(output == "text"),
        render_to=render_dir,
        whole=whole,
    )
    _print_summary(summary, output)
    raise typer.Exit(_exit_code(summary, fail_on))


FAIL_ON = ("new", "any", "never")


def _exit_code(summary: RunSummary, fail_on: str) -> int:
    """A scheduler's view: with `new`, a run whose only failures were already reported,
    unchanged, exits 0 and raises no alarm."""
    if fail_on == "never":
        return 0
    failures = summary.new_failures if fail_on == "new" else summary.counts.get("Failed", 0)
    return 1 if failures else 0


def _progress(show: bool) -> Callable[[int, int], None]:
    """A bar that redraws itself on a terminal; a plain line every 50 records otherwise."""
    terminal = sys.stderr.isatty()
    shown = {"last": 0}

    def progress(done: int, total: int) -> None:
        if not show:
            return
        if terminal:
            filled = int(30 * done / max(total, 1))
            end = "\n" if done == total else ""
            sys.stderr.write(f"\r  [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}{end}")
            sys.stderr.flush()
        elif done == total or done - shown["last"] >= 50:
            shown["last"] = done
            typer.echo(f"  {done}/{total}", err=True)

    return progress


def retry(
    records: Annotated[
        list[str] | None, typer.Argument(help="Records to try again, e.g. tps.Invoice:inv-1001.")
    ] = None,
    all_failed: Annotated[
        bool, typer.Option("--all-failed", help="Every record whose last outcome was Failed.")
    ] = False,
    config: ConfigOption = Path(CONFIG_FILE),
    output: FormatOption = "text",
) -> None:
    """Sync only some records again, after fixing what made them fail."""
    output = _format(output)
    session = _session(config)
    _check_named(session, records or [])
    wanted = set(records or [])
    if all_failed:
        wanted |= session.failed_records()
    if not wanted:
        raise UsageError(
            "no record's last outcome is Failed: nothing to retry"
            if all_failed
            else "name the records to retry, or pass --all-failed"
        )
    summary = session.sync(only=frozenset(wanted), progress=_progress(output == "text"))
    _print_summary(summary, output)
    raise typer.Exit(1 if summary.counts.get("Failed") else 0)


def _print_summary(summary: RunSummary, output: str) -> None:
    if output == "json":
        typer.echo(
            render.as_json(
                {
                    "run": summary.run_id,
                    "phase": summary.phase,
                    "counts": summary.counts,
                    "new_failures": summary.new_failures,
                    "notes": list(summary.notes),
                }
            )
        )
    else:
        typer.echo(
            f"run {summary.run_id} ({summary.phase}): {render.counts_text(summary.counts)}"
            f" ({summary.new_failures} new)"
        )
        for note in summary.notes:
            typer.echo(f"  {note}")


def report(
    out: Annotated[Path, typer.Option(help="The HTML file to write.")],
    run: Annotated[int | None, typer.Option(help="The run (default: the latest).")] = None,
    config: ConfigOption = Path(CONFIG_FILE),
) -> None:
    """Write one self-contained HTML page about a run, for a bookkeeper to open."""
    from tpsqbo_engine.sync.report import write_report

    writable(out, "--out", "report.html")
    try:
        path = write_report(_session(config), run, out)
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
    output = _format(output)
    from tpsqbo_engine.sync.records import run_named, status_named

    status = status_named(status) if status is not None else None
    state = _session(config).state
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
    session = _session(config)
    _check_named(session, [record])
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
    if not _session(config).state.unignore(record):
        raise UsageError(f"{record} was not ignored")
    typer.echo(f"{record} is back in the sync")


def explain(
    record: Annotated[str, typer.Argument(help="e.g. tps.Client:c-1001")],
    config: ConfigOption = Path(CONFIG_FILE),
    output: FormatOption = "text",
) -> None:
    """Which rule decided what about a record, run by run, and what the next sync would do
    (that part needs the connections; without them the history is shown alone)."""
    output = _format(output)
    session = _session(config)
    _check_named(session, [record])
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
    output = _format(output)
    session = _session(config)
    rows = session.reconcile()
    if output == "json":
        typer.echo(render.as_json(rows))
    else:
        _echo_lines(render.reconcile_text(rows))
        typer.echo(f"QBO's side from {session.reconciled_from}")
    raise typer.Exit(1 if any(r.difference for r in rows) else 0)


COMMANDS = (
    demo,
    checklist,
    backup,
    plan,
    sync,
    retry,
    history,
    ignore,
    unignore,
    explain,
    reconcile,
    report,
)


render_app = typer.Typer(help="Render documents from TPS records.", no_args_is_help=True)


@render_app.command("invoice")
def render_invoice_command(
    invoice: Annotated[str, typer.Argument(help="The TPS invoice id, e.g. inv-1001.")],
    template: Annotated[str, typer.Option(help="Template id from the pack.")] = "invoice-html",
    out: Annotated[Path | None, typer.Option(help="Write here instead of printing.")] = None,
    config: ConfigOption = Path(CONFIG_FILE),
) -> None:
    """Render a TPS invoice with its template and the QBO payment link, if QBO gives one."""
    from tpsqbo_engine.sync.documents import render_invoice, write_pdf

    if out is not None:
        writable(out, "--out", f"{invoice}.html")
    document = render_invoice(_session(config), invoice, template)
    for warning in document.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if out is None:
        typer.echo(document.text)
        return
    if out.suffix.lower() == ".pdf":
        for refused in write_pdf(document, out)[1]:
            typer.echo(f"warning: refused to read {refused}", err=True)
    else:
        write_out(out, document.text)
    typer.echo(f"{invoice} rendered to {out}", err=True)


def register(app: typer.Typer) -> None:
    for command in COMMANDS:
        app.command()(command)
    app.add_typer(render_app, name="render")
