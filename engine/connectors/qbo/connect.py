"""Connecting a QBO company: the OAuth 2.0 authorization-code flow through `intuit-oauth`.

The user opens the authorize URL; Intuit (or the emulator) redirects to a loopback address
where a one-shot listener takes the `code`, checks `state`, and the code is exchanged for
tokens, which are saved 0600. Works against the emulator (a discovery URL as environment)
and, by configuration only, against Intuit's sandbox and production. A redirect URI with
port 0 (for the emulator and loopback testing: Intuit only redirects to registered URIs)
makes the listener bind a free port and the flow use the URI with that port.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError

from tpsqbo_engine.connectors.qbo.tokens import Tokens, TokenStore
from tpsqbo_engine.errors import EngineError, UsageError

API_BASES = {
    "sandbox": "https://sandbox-quickbooks.api.intuit.com",
    "production": "https://quickbooks.api.intuit.com",
}
LOOPBACK = ("127.0.0.1", "localhost")
CLIENT_ID_ENV, CLIENT_SECRET_ENV = "TPSQBO_QBO_CLIENT_ID", "TPSQBO_QBO_CLIENT_SECRET"


@dataclass(frozen=True)
class ConnectSettings:
    client_id: str
    client_secret: str
    environment: str
    redirect_uri: str
    token_file: Path

    def __repr__(self) -> str:
        return f"ConnectSettings(client_id={self.client_id!r}, environment={self.environment!r})"

    @property
    def api_base(self) -> str:
        if self.environment in API_BASES:
            return API_BASES[self.environment]
        parsed = urlparse(self.environment)
        return f"{parsed.scheme}://{parsed.netloc}"


def default_token_file() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "tpsqbo-engine" / "qbo-tokens.json"


def client_credentials() -> tuple[str, str]:
    client_id, secret = os.environ.get(CLIENT_ID_ENV, ""), os.environ.get(CLIENT_SECRET_ENV, "")
    if not client_id or not secret:
        raise UsageError(
            "the QBO app's client id and secret are not set",
            hint=f"export {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV} (from the Intuit "
            "developer portal, or printed by `tpsqbo-engine emulate qbo`)",
        )
    return client_id, secret


def _port_of(redirect_uri: str) -> int | None:
    """The redirect URI's port (None: it names none), or a usage error when it is no port."""
    try:
        return urlparse(redirect_uri).port
    except ValueError:  # `:99999`, `:abc`
        raise UsageError(
            f"--redirect-uri {redirect_uri}: its port is not a port number (0 to 65535)",
            hint="e.g. http://127.0.0.1:8765/callback (port 0: any free port)",
        ) from None


def _refuse_port_zero(redirect_uri: str, auth_code: str) -> None:
    """Port 0 means "the listener binds a free port": only a loopback listener can."""
    parsed = urlparse(redirect_uri)
    if _port_of(redirect_uri) != 0:
        return
    if parsed.hostname not in LOOPBACK:
        raise UsageError(
            f"--redirect-uri {redirect_uri}: port 0 is only for a loopback listener",
            hint="use http://127.0.0.1:0/callback, or the exact URI registered for the app",
        )
    if auth_code:
        raise UsageError(
            f"--redirect-uri {redirect_uri}: port 0 needs the redirect listener, which "
            "--auth-code skips",
            hint="pass the redirect URI the code was issued for, or drop --auth-code",
        )


class _Callback:
    """Receives the single redirect that carries the authorization code. Port 0 binds a
    free port (for the emulator and loopback testing): `redirect_uri` names the one bound,
    so no port is picked first and taken by someone else before the listener binds it."""

    def __init__(self, redirect_uri: str) -> None:
        parsed, port = urlparse(redirect_uri), _port_of(redirect_uri)
        if parsed.hostname not in LOOPBACK or port is None:
            raise UsageError(
                f"the redirect URI must be a loopback address with a port, not {redirect_uri}",
                hint="e.g. http://127.0.0.1:8765/callback (port 0: any free port)",
            )
        self.path = parsed.path or "/"
        self.params: dict[str, str] = {}
        self.done = threading.Event()
        self.server = _listen(parsed.hostname or "127.0.0.1", port, self)
        # Any other URI stays as given, byte for byte: Intuit matches registered URIs exactly.
        self.redirect_uri = redirect_uri
        if port == 0:
            bound = self.server.server_address[1]
            self.redirect_uri = parsed._replace(netloc=f"{parsed.hostname}:{bound}").geturl()
        # Listening before the URL is announced: the redirect may come back at once.
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, timeout: float) -> dict[str, str]:
        if not self.done.wait(timeout):
            raise EngineError(
                "no answer from the authorization page",
                hint="open the URL above in a browser, or pass --auth-code",
            )
        return self.params

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _listen(host: str, port: int, callback: _Callback) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path != callback.path:
                self.send_error(404)
                return
            callback.params = {k: v[0] for k, v in parse_qs(url.query).items()}
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"tpsqbo-engine is connected. You can close this window.")
            callback.done.set()

        def log_message(self, *args: object) -> None:
            return  # the query string carries the authorization code: never logged

    try:
        return ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:  # the port is taken (or not ours to take)
        raise UsageError(
            f"cannot listen for the redirect on {host}:{port}: {exc.strerror or exc}",
            hint="stop what uses that port, or register and pass another --redirect-uri",
        ) from None


def _auth_client(settings: ConnectSettings, redirect_uri: str) -> AuthClient:
    try:
        return AuthClient(
            settings.client_id, settings.client_secret, redirect_uri, settings.environment
        )
    except AuthClientError as exc:
        raise EngineError(
            f"cannot read the OAuth discovery document ({exc.status_code})",
            hint="check --environment",
        ) from None


def _authorize(
    settings: ConnectSettings,
    announce: Callable[[str], None],
    listening: Callable[[str], None],
    timeout: float,
) -> tuple[AuthClient, str, str]:
    """The browser leg: the listener first (so its bound port is in the redirect URI the
    authorization URL and the code exchange carry), closed however the leg ends."""
    callback = _Callback(settings.redirect_uri)
    try:
        client = _auth_client(settings, callback.redirect_uri)
        listening(callback.redirect_uri)
        state = secrets.token_urlsafe(24)
        announce(client.get_authorization_url([Scopes.ACCOUNTING], state_token=state))
        params = callback.wait(timeout)
    finally:
        callback.close()
    if params.get("state") != state:
        raise EngineError(
            "the authorization answer does not match this request (state)",
            hint="run `tpsqbo-engine connect` again",
        )
    if "error" in params:
        raise EngineError(f"authorization was refused: {params['error']}")
    return client, params.get("code", ""), params.get("realmId", "")


def connect(
    settings: ConnectSettings,
    *,
    announce: Callable[[str], None],
    auth_code: str = "",
    realm_id: str = "",
    timeout: float = 300.0,
    listening: Callable[[str], None] = lambda redirect_uri: None,
) -> Tokens:
    """Runs the authorization flow and saves the tokens; returns them. `listening` is told
    the redirect URI the listener took (its port bound when the URI named port 0)."""
    _refuse_port_zero(settings.redirect_uri, auth_code)
    if auth_code:
        client = _auth_client(settings, settings.redirect_uri)
    else:
        client, auth_code, realm_id = _authorize(settings, announce, listening, timeout)
    if not realm_id:
        raise UsageError("the company (realm) id is missing", hint="pass --realm-id")
    try:
        client.get_bearer_token(auth_code, realm_id=realm_id)
    except AuthClientError as exc:
        raise EngineError(
            f"the authorization code was refused (HTTP {exc.status_code})",
            hint="codes are single-use and expire in minutes: connect again",
        ) from None
    now = time.time()
    tokens = Tokens(
        realm_id,
        settings.api_base,
        settings.environment,
        settings.client_id,
        client.access_token,
        now + float(client.expires_in or 3600),
        client.refresh_token,
        now + float(client.x_refresh_token_expires_in or 0),
    )
    TokenStore(settings.token_file).save(tokens)
    return tokens
