"""`tpsqbo-engine connect`: connect a QuickBooks Online company and save its tokens, to the
environment and token file of the firm config when one is given."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tpsqbo_engine.errors import UsageError


def connect(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="The firm config: its qbo.environment and qbo.token_file are used.",
        ),
    ] = None,
    environment: Annotated[
        str,
        typer.Option(
            help="sandbox, production, or the OAuth discovery URL of an emulator. "
            "Default: the firm config's, else sandbox."
        ),
    ] = "",
    redirect_uri: Annotated[
        str,
        typer.Option(
            help="Loopback redirect URI registered for the app. Port 0 (for the emulator "
            "and loopback testing; Intuit needs the registered URI exactly): any free port."
        ),
    ] = "http://127.0.0.1:8765/callback",
    token_file: Annotated[
        Path | None,
        typer.Option(
            help="Where to keep the tokens (0600). Default: the firm config's, else "
            "~/.config/tpsqbo-engine/qbo-tokens.json"
        ),
    ] = None,
    auth_code: Annotated[
        str, typer.Option(help="Skip the browser: an authorization code you already have.")
    ] = "",
    realm_id: Annotated[str, typer.Option(help="The company id that came with --auth-code.")] = "",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the redirect.")] = 300,
) -> int:
    """Connect a QuickBooks Online company (OAuth 2.0) and save its tokens.

    The app's client id and secret come from TPSQBO_QBO_CLIENT_ID and
    TPSQBO_QBO_CLIENT_SECRET; nothing secret is printed.
    """
    from tpsqbo_engine.connectors.qbo.connect import (
        ConnectSettings,
        client_credentials,
        default_token_file,
    )
    from tpsqbo_engine.connectors.qbo.connect import connect as run_connect

    environment, token_file = _connect_target(config, environment, token_file)
    client_id, secret = client_credentials()
    settings = ConnectSettings(
        client_id, secret, environment, redirect_uri, token_file or default_token_file()
    )
    tokens = run_connect(
        settings,
        auth_code=auth_code,
        realm_id=realm_id,
        timeout=timeout,
        announce=lambda url: typer.echo(f"Open this URL to authorize:\n{url}"),
        listening=lambda uri: typer.echo(f"listening for the redirect on {uri}"),
    )
    typer.echo(f"connected to company {tokens.realm_id}; tokens saved to {settings.token_file}")
    raise typer.Exit(0)


def _connect_target(
    config: Path | None, environment: str, token_file: Path | None
) -> tuple[str, Path | None]:
    """The environment and token file to connect: the firm config's, where one is given, so
    the connection is saved where the firm's runs look for it and is to the books it names."""
    if config is None:
        return environment or "sandbox", token_file
    from tpsqbo_engine.sync.config import load_config
    from tpsqbo_engine.sync.firmfiles import same_place

    qbo = load_config(config).qbo
    if environment and not same_place(environment, qbo.environment):
        raise UsageError(
            f"--environment {environment!r}, but {config} says qbo.environment {qbo.environment!r}",
            hint="leave out --environment, or change qbo.environment in the firm config",
        )
    return qbo.environment, token_file or qbo.token_file


def register(app: typer.Typer) -> None:
    app.command()(connect)
