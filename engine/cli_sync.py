"""The sync's commands. Each loads the firm config, opens a Session, calls one method and
prints; errors go to the CLI's one error boundary."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tpsqbo_engine.cli_history import COMMANDS as HISTORY_COMMANDS
from tpsqbo_engine.cli_options import (
    ConfigOption,
    FormatOption,
    check_named,
    echo_lines,
    open_session,
    output_format,
)
from tpsqbo_engine.cli_paths import folder_out, writable, write_out
from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.sync import render
from tpsqbo_engine.sync.config import CONFIG_FILE

if TYPE_CHECKING:
    from tpsqbo_engine.sync.session import RunSummary


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
    output = output_format(output)
    results = open_session(config).checklist()
    if output == "json":
        typer.echo(render.as_json(results))
    else:
        echo_lines(render.checklist_text(results))
    raise typer.Exit(1 if any(r.blocks for r in results) else 0)


def backup(config: ConfigOption = Path(CONFIG_FILE)) -> None:
    """Snapshot every QBO entity the rules touch into a compressed JSON-lines file."""
    session = open_session(config)
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
    output = output_format(output)
    if out is not None:
        writable(out, "--out")
    made, _ = open_session(config).plan()
    if out is not None:
        write_out(out, made.to_json())
    if output == "json":
        typer.echo(made.to_json())
    else:
        echo_lines(render.plan_text(made))


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

    output = output_format(output)
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
    session = open_session(config)
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
    output = output_format(output)
    session = open_session(config)
    check_named(session, records or [])
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


COMMANDS = (
    demo,
    checklist,
    backup,
    plan,
    sync,
    retry,
    *HISTORY_COMMANDS,
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
    document = render_invoice(open_session(config), invoice, template)
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
