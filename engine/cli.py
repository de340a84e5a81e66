"""The command line. Each command is a thin shell over a library call and returns an exit
code; `main` is the one error boundary that turns exceptions into exit codes:

    0 ok · 1 problems found · 2 usage · 3 unexpected (traceback logged) · 130 interrupted
"""

from __future__ import annotations

import sys
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from tpsqbo_engine import __version__
from tpsqbo_engine.errors import EngineError
from tpsqbo_engine.problems import REPORTERS, Level, Problem, has_errors
from tpsqbo_engine.ruleset.validate import validate_paths

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

app = typer.Typer(
    name="tpsqbo-engine",
    help="Keep TPS Cloud Axis and QuickBooks Online in sync, with the rules kept as code.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

FORMATS = ", ".join(REPORTERS)


def _known_format(value: str) -> str:
    # Checked against the reporter registry, so the choices cannot drift from what exists.
    if value not in REPORTERS:
        raise typer.BadParameter(f"'{value}' is not one of: {FORMATS}")
    return value


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tpsqbo-engine {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Keep TPS Cloud Axis and QuickBooks Online in sync, with the rules kept as code."""


@app.command()
def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Rule pack folders, or files inside them. Default: ./rules if it is a pack, "
            "else the shipped standard pack.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            callback=_known_format,
            help=f"How to print problems: {FORMATS} (github: workflow annotations; "
            "sarif: code scanning).",
        ),
    ] = "text",
    online: Annotated[
        bool,
        typer.Option("--online", help="Also check references against the connected QBO company."),
    ] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too.")] = False,
) -> int:
    """Check rule packs: YAML, schema, expressions, references and templates.

    Exit 0 when clean, 1 when problems were found, 2 on a usage error.
    """
    result = validate_paths(paths or [])
    problems = list(result.problems)
    if online:
        problems.append(
            Problem(
                "<online>",
                1,
                1,
                "online.not-connected",
                "online checks need a connected QBO company, and this engine "
                "version cannot connect to QBO yet",
                level=Level.ERROR,
                hint="run without --online; the offline layers were checked",
            )
        )
    rendered = REPORTERS[output](problems)
    if rendered:
        typer.echo(rendered)
    if output == "text":
        for pack in result.packs:
            name = pack.pack.id if pack.pack else pack.root.name
            status = "problems found" if pack.problems else "ok"
            typer.echo(
                f"pack {name} ({pack.root}): {len(pack.documents)} documents, {status}", err=True
            )
    failed = has_errors(problems, strict=strict)
    raise typer.Exit(EXIT_PROBLEMS if failed else EXIT_OK)


def _crash_log(exc: BaseException) -> Path:
    folder = Path(tempfile.gettempdir()) / "tpsqbo-engine"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"crash-{stamp}.log"
    path.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """Runs the CLI and maps every outcome onto an exit code. Nothing else exits."""
    try:
        result = app(args=argv, prog_name="tpsqbo-engine", standalone_mode=False)
    except typer.TyperException as exc:  # usage errors raised by typer's own click
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"error: {exc.message}", err=True)
        return int(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        typer.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except EngineError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        if exc.hint:
            typer.echo(f"hint: {exc.hint}", err=True)
        return exc.exit_code
    except Exception as exc:
        log = _crash_log(exc)
        typer.echo(
            f"unexpected error: {type(exc).__name__}. This is a bug in tpsqbo-engine; "
            f"the details are in {log}",
            err=True,
        )
        return EXIT_BUG
    return result if isinstance(result, int) else EXIT_OK


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
