"""The command line. Each command is a thin shell over a library call and returns an exit
code; `main` is the one error boundary that turns exceptions into exit codes:

    0 ok · 1 problems found · 2 usage · 3 unexpected (where, logged) · 130 interrupted (Ctrl-C)
    · 143 terminated (SIGTERM, after the write in flight is committed)
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from tpsqbo_engine import __version__, private, signals
from tpsqbo_engine.errors import EngineError, RuleError, UsageError
from tpsqbo_engine.problems import REPORTERS, Problem, has_errors
from tpsqbo_engine.ruleset.validate import Validation, validate_paths

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
    encoding: Annotated[
        str,
        typer.Option(
            "--encoding",
            help="Encoding of CSV sheets (files connection), e.g. cp1252; default: detected.",
        ),
    ] = "",
) -> None:
    """Keep TPS Cloud Axis and QuickBooks Online in sync, with the rules kept as code."""
    from tpsqbo_engine.connectors.tps import sheetio

    try:
        sheetio.from_command_line(encoding)
    except ValueError as exc:
        raise UsageError(str(exc), hint="e.g. utf-8, utf-16, cp1252, latin-1") from None


@app.command()
def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Rule pack folders, or files inside them. Default: the firm config's rules "
            "and pins file (--config), else ./rules if it is a pack, else the shipped "
            "standard pack.",
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
    config: Annotated[
        Path,
        typer.Option(
            "--config",
            "-c",
            help="The firm config: whose rules and pins file to check when no path is "
            "given, and with --online the one that connects.",
        ),
    ] = Path("tpsqbo.yaml"),
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too.")] = False,
) -> int:
    """Check rule packs: YAML, schema, expressions, references and templates.

    Exit 0 when clean, 1 when problems were found, 2 on a usage error.
    """
    from tpsqbo_engine.sync.config import load_config
    from tpsqbo_engine.sync.firmfiles import pins_problems

    # With no path, the firm's own rules and pins file: what its runs load.
    firm = load_config(config) if not paths and config.is_file() else None
    result = validate_paths(list(firm.rules) if firm else paths or [])
    problems = list(result.problems)
    if firm is not None and not has_errors(problems):
        problems.extend(pins_problems(firm))
    if online:
        problems.extend(_online_problems(result, config))
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


def _online_problems(result: Validation, config: Path) -> list[Problem]:
    from tpsqbo_engine.online import check_online, company_names, not_connected

    if not config.is_file():
        return [not_connected(f"no firm config at {config}")]
    try:
        return check_online(result.packs, company_names(config))
    except EngineError as exc:
        return [not_connected(exc.message)]


emulate_app = typer.Typer(
    help="Run a local emulator of TPS or QBO on 127.0.0.1.", no_args_is_help=True
)
app.add_typer(emulate_app, name="emulate")


def _limits_spec(value: str) -> str:
    from tpsqbo_engine.sync.config import limits_problem

    problem = limits_problem(value)  # checked while the command line is parsed, not after start
    if problem:
        raise typer.BadParameter(problem)
    return value


def _qbo_seeds() -> type[StrEnum]:
    from tpsqbo_engine.emulators.qbo.seed import SEEDS

    # Built from the seed list, so a new seed is a new choice without touching the CLI.
    return StrEnum("QboSeed", {name: name for name in SEEDS})  # type: ignore[return-value]


QboSeed = _qbo_seeds()
DEFAULT_QBO_SEED = QboSeed("sandbox-us")


class WebhookFormat(StrEnum):
    legacy = "legacy"
    cloudevents = "cloudevents"


@emulate_app.command("qbo")
def emulate_qbo(
    host: Annotated[str, typer.Option(help="Loopback address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 0,
    seed: Annotated[
        QboSeed,  # type: ignore[valid-type]
        typer.Option(help="Company to start with."),
    ] = DEFAULT_QBO_SEED,
    state: Annotated[
        Path | None, typer.Option(help="Keep the company in this file across restarts.")
    ] = None,
    faults: Annotated[
        str,
        typer.Option(
            help="Faults to inject, e.g. 'throttle@5,5xx%10,"
            "slow=2@3,commit-timeout#1,ignore-requestid'."
        ),
    ] = "",
    limits: Annotated[
        str,
        typer.Option(
            parser=_limits_spec,
            help="Throttling: real (500/min, 10/s, 40 batch/min), off, or scale=N.",
        ),
    ] = "off",
    access_ttl: Annotated[float, typer.Option(help="Access-token lifetime in seconds.")] = 3600,
    refresh_rotation: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds a refresh token keeps its value before a refresh rotates it "
            "(Intuit: about a day).",
        ),
    ] = 86_400,
    redirect_uri: Annotated[
        list[str] | None,
        typer.Option(
            help="A redirect URI registered for the app (repeatable); http loopback "
            "addresses are always allowed."
        ),
    ] = None,
    webhook_url: Annotated[
        str, typer.Option(help="POST change notifications here (loopback only).")
    ] = "",
    webhook_verifier: Annotated[
        str,
        typer.Option(envvar="TPSQBO_WEBHOOK_VERIFIER", help="Verifier token that signs webhooks."),
    ] = "",
    webhook_format: Annotated[
        WebhookFormat, typer.Option(help="Webhook payload format.")
    ] = WebhookFormat.legacy,
    print_json: Annotated[
        bool,
        typer.Option(
            "--print-json",
            help="Print one JSON line with the connection details and the admin token.",
        ),
    ] = False,
) -> int:
    """Serve the QuickBooks Online API, OAuth and webhooks on loopback, for tests and demos.

    Prints the base URL, realm id, OAuth discovery URL, client id and secret, and a ready
    refresh token. --print-json adds the admin token of the /__emulator__ endpoints.
    Stops cleanly on Ctrl-C or SIGTERM.
    """
    from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer, QboOptions
    from tpsqbo_engine.emulators.run import require_loopback, serve

    require_loopback(host)
    try:
        server = QboEmulatorServer(
            QboOptions(
                host,
                port,
                str(seed),
                state,
                faults,
                limits,
                access_ttl,
                webhook_url,
                webhook_verifier,
                webhook_format.value,
                refresh_rotation,
                tuple(redirect_uri or ()),
            )
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    raise typer.Exit(serve(server, print_json=print_json, echo=typer.echo, describe=_describe_qbo))


@emulate_app.command("tps")
def emulate_tps(
    host: Annotated[str, typer.Option(help="Loopback address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 0,
    seed: Annotated[
        str,
        typer.Option(
            help="Firm to start with: demo, empty (settings only), large:N (N clients), "
            "or a firm file (.yaml/.json: clients, work_codes, invoices, payments, ...)."
        ),
    ] = "demo",
    state: Annotated[
        Path | None, typer.Option(help="Keep the firm in this file across restarts.")
    ] = None,
    faults: Annotated[str, typer.Option(help="Faults to inject, e.g. 'throttle@5,5xx#1'.")] = "",
    print_json: Annotated[
        bool, typer.Option("--print-json", help="Print one JSON line with base_url and token.")
    ] = False,
) -> int:
    """Serve the TPS contract (docs/tps-contract.md) with a demo firm, on loopback.

    Prints the base URL and the bearer token. Stops cleanly on Ctrl-C or SIGTERM.
    """
    from tpsqbo_engine.emulators.run import require_loopback, serve
    from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer, TpsOptions

    require_loopback(host)
    try:
        server = TpsEmulatorServer(TpsOptions(host, port, seed, state, faults))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    raise typer.Exit(
        serve(
            server,
            print_json=print_json,
            echo=typer.echo,
            describe=lambda info: [
                f"TPS emulator at {info['base_url']}/api/v1",
                f"  token: {info['token']}",
                "Ctrl-C stops it.",
            ],
        )
    )


def _describe_qbo(info: dict[str, str]) -> list[str]:
    return [
        f"QBO emulator at {info['base_url']} (company {info['realm_id']})",
        f"  OAuth discovery: {info['discovery_url']}",
        f"  client id:       {info['client_id']}",
        f"  client secret:   {info['client_secret']}",
        f"  refresh token:   {info['refresh_token']}",
        "Ctrl-C stops it.",
    ]


from tpsqbo_engine.cli_sync import register  # noqa: E402 - after the app exists

register(app)
from tpsqbo_engine.cli_fleet import register as register_fleet  # noqa: E402

register_fleet(app)
from tpsqbo_engine.cli_watch import register as register_watch  # noqa: E402

register_watch(app)
from tpsqbo_engine.cli_unlock import register as register_unlock  # noqa: E402

register_unlock(app)
from tpsqbo_engine.cli_connect import register as register_connect  # noqa: E402
from tpsqbo_engine.cli_init import register as register_init  # noqa: E402
from tpsqbo_engine.cli_pack import register as register_pack  # noqa: E402
from tpsqbo_engine.cli_test import register as register_test  # noqa: E402

register_pack(app)
register_test(app)
register_init(app)
register_connect(app)
from tpsqbo_engine.cli_render import register as register_render  # noqa: E402
from tpsqbo_engine.cli_sync import render_app  # noqa: E402

register_render(render_app)


def main(argv: list[str] | None = None) -> int:
    """Runs the CLI and maps every outcome onto an exit code. Nothing else exits."""
    previous = os.umask(private.UMASK)  # whatever the engine or a library creates is private
    private.set_crash_folder(None)  # until a firm config names the state folder
    try:
        with signals.installed():
            return _outcome(argv)
    except signals.Terminated:  # held until the write in flight was committed
        typer.echo("terminated", err=True)
        return signals.EXIT_TERMINATED
    except KeyboardInterrupt:  # Ctrl-C before or after the command proper
        typer.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    finally:
        os.umask(previous)


def _outcome(argv: list[str] | None) -> int:
    try:
        result = app(args=argv, prog_name="tpsqbo-engine", standalone_mode=False)
    except typer.TyperException as exc:  # usage errors raised by typer's own click
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"error: {exc.message}", err=True)
        return int(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort) as exc:
        if isinstance(exc.__cause__, EOFError):  # click reads any EOFError as a Ctrl-D
            return _unexpected(exc.__cause__)
        typer.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except EngineError as exc:
        if isinstance(exc, RuleError) and exc.problems:  # each one located, as validate shows it
            typer.echo(REPORTERS["text"](exc.problems), err=True)
        typer.echo(f"error: {exc.message}", err=True)
        if exc.hint:
            typer.echo(f"hint: {exc.hint}", err=True)
        return exc.exit_code
    except Exception as exc:
        stop = signals.stop_within(exc)
        if stop is not None:  # a stop that came wrapped, raised as itself for main()
            raise stop from None
        return _unexpected(exc)
    if result == EXIT_INTERRUPTED:  # typer turns a Ctrl-C inside a command into Exit(130)
        typer.echo("interrupted", err=True)
    return result if isinstance(result, int) else EXIT_OK


def _unexpected(exc: BaseException) -> int:
    log = private.crash_log(exc)
    where = f"the details are in {log}" if log else "the details could not be saved"
    typer.echo(
        f"unexpected error: {type(exc).__name__}. This is a bug in tpsqbo-engine; {where}",
        err=True,
    )
    return EXIT_BUG


def run() -> None:
    """The console script of earlier installs; `entry.run` is the one to use."""
    from tpsqbo_engine.entry import run as entry_run

    entry_run()
