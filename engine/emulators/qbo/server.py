"""Run the QBO emulator: build it from options, serve it on loopback, keep its state.

`QboEmulatorServer` is used by the CLI (`tpsqbo-engine emulate qbo`), by the demo and by the
tests, which start it on a free port and stop it after.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from tpsqbo_engine.connectors.qbo.limits import Limits
from tpsqbo_engine.emulators.bodies import json_default
from tpsqbo_engine.emulators.injection import FaultPlan, parse_spec
from tpsqbo_engine.emulators.qbo import shares
from tpsqbo_engine.emulators.qbo.app import Emulator
from tpsqbo_engine.emulators.qbo.company import Company
from tpsqbo_engine.emulators.qbo.oauth import REFRESH_ROTATION, REFRESH_TTL, Grant, OAuthServer
from tpsqbo_engine.emulators.qbo.seed import seeded_company
from tpsqbo_engine.emulators.qbo.webhooks import WebhookSender
from tpsqbo_engine.emulators.serving import LoopbackServer
from tpsqbo_engine.private import write_private


@dataclass(frozen=True)
class QboOptions:
    host: str = "127.0.0.1"
    port: int = 0
    seed: str = "sandbox-us"
    state: Path | None = None
    faults: str = ""
    limits: str = "off"
    access_ttl: float = 3600
    webhook_url: str = ""
    webhook_verifier: str = ""
    webhook_format: str = "legacy"
    refresh_rotation: float = REFRESH_ROTATION
    redirect_uris: tuple[str, ...] = ()


def _save(path: Path, company: Company, oauth: OAuthServer) -> None:
    with company.lock:
        state = {
            "realm_id": company.realm_id,
            "country": company.country,
            "next_id": company.next_id,
            "records": company.records,
            "deleted": company.deleted,
            "payment_links": company.payment_links,
            "client_id": oauth.client_id,
            "client_secret": oauth.client_secret,
            "refresh_tokens": {
                t: [g.expires, g.connection, g.issued] for t, g in oauth.refresh_tokens.items()
            },
        }
        text = json.dumps(state, default=json_default)
    write_private(path, text)


def _load(path: Path) -> tuple[Company, OAuthServer]:
    state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    company = Company(
        state["realm_id"],
        state["country"],
        state["records"],
        state["deleted"],
        state["next_id"],
        state["payment_links"],
    )
    shares.rebuild_indexes(company)
    oauth = OAuthServer(state["client_id"], state["client_secret"], company.realm_id)
    oauth.refresh_tokens = {
        t: _grant(company.realm_id, g) for t, g in state["refresh_tokens"].items()
    }
    return company, oauth


def _grant(realm_id: str, saved: Any) -> Grant:
    """A saved refresh token's grant: `[expires, connection, issued]`, or the bare expiry
    older state files hold. The state is read with Decimal money, so its times come back as
    Decimals; the token endpoint computes with `time.time()` floats."""
    fields = saved if isinstance(saved, list) else [saved]
    connection = fields[1] if len(fields) > 1 else ""
    issued = fields[2] if len(fields) > 2 else 0.0
    return Grant(realm_id, float(fields[0]), str(connection), float(issued))


class QboEmulatorServer:
    """The emulator on a real loopback socket, served from a background thread."""

    def __init__(self, options: QboOptions) -> None:
        parse_spec(options.faults)  # a bad spec fails here, before anything starts
        limits = Limits.parse(options.limits)
        if options.state is not None and options.state.exists():
            company, oauth = _load(options.state)
        else:
            company = seeded_company(options.seed)
            oauth = OAuthServer(
                f"emulator-{secrets.token_hex(8)}", secrets.token_urlsafe(24), company.realm_id
            )
        oauth.access_ttl = options.access_ttl
        oauth.refresh_rotation = options.refresh_rotation
        oauth.redirect_uris = options.redirect_uris
        self.options = options
        self.company, self.oauth = company, oauth
        self.emulator = Emulator(company, oauth, limits, FaultPlan())
        self.emulator.plan.add(options.faults)
        self.refresh_token = oauth.issue_refresh_token()
        self.webhooks: WebhookSender | None = None
        if options.webhook_url:
            self.webhooks = WebhookSender(
                options.webhook_url,
                options.webhook_verifier,
                company.realm_id,
                options.webhook_format,
            )
            company.listeners.append(self.webhooks)
        self._loop = LoopbackServer(self.emulator, options.host, options.port, self.save)
        self.emulator.on_write = self._loop.mark_dirty
        self.base_url = self._loop.base_url
        self.emulator.base_url = company.pay_base = self.base_url

    @property
    def discovery_url(self) -> str:
        return f"{self.base_url}/.well-known/openid_sandbox_configuration/"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/v3/company/{self.company.realm_id}"

    def connection_info(self) -> dict[str, str]:
        return {
            "base_url": self.base_url,
            "realm_id": self.company.realm_id,
            "discovery_url": self.discovery_url,
            "client_id": self.oauth.client_id,
            "client_secret": self.oauth.client_secret,
            "refresh_token": self.refresh_token,
            "admin_token": self.emulator.admin_token,
        }

    def start(self) -> QboEmulatorServer:
        if self.webhooks is not None:
            self.webhooks.start()
        self._loop.start()
        return self

    def stop(self) -> None:
        self._loop.stop()
        if self.webhooks is not None:
            self.webhooks.stop()

    def save(self) -> None:
        if self.options.state is not None:
            _save(self.options.state, self.company, self.oauth)

    def __enter__(self) -> QboEmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["REFRESH_ROTATION", "REFRESH_TTL", "QboEmulatorServer", "QboOptions"]
