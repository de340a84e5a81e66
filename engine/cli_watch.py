"""`watch` (webhooks and a schedule drive the sync) and `undo` (take a run back)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer

from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.sync.config import CONFIG_FILE

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The firm config.")]


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
    from tpsqbo_engine.watch.logs import configure
    from tpsqbo_engine.watch.schedule import interval
    from tpsqbo_engine.watch.watcher import Watcher, WatchOptions

    if debounce < 0 or debounce > 600:
        raise UsageError("--debounce is between 0 and 600 seconds")
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port} is not a port")
    try:
        configure(log_format)
    except ValueError as error:
        raise UsageError(str(error)) from None
    options = WatchOptions(
        config,
        host,
        port,
        debounce,
        interval(poll, "--poll"),
        interval(tps_poll, "--tps-poll"),
        interval(reconcile, "--reconcile"),
    )
    watcher = Watcher(options, _open_session)
    previous = {
        number: signal.signal(number, lambda *_: watcher.stop())
        for number in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        code = watcher.serve()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    raise typer.Exit(code)


def _open_session(config: Path):  # type: ignore[no-untyped-def]
    from tpsqbo_engine.sync.config import load_config
    from tpsqbo_engine.sync.session import Session

    return Session(load_config(config))


def register(app: typer.Typer) -> None:
    app.command()(watch)
