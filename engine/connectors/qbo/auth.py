"""Access tokens for the API client, refreshed through `intuit-oauth` when they expire."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from intuitlib.client import AuthClient
from intuitlib.exceptions import AuthClientError

from tpsqbo_engine.connectors.qbo.errors import ReconnectRequired
from tpsqbo_engine.connectors.qbo.tokens import Tokens, TokenStore

AuthClientFactory = Callable[..., Any]


class QboAuth:
    """Hands out a valid access token; refreshes it, one process at a time, when needed."""

    def __init__(
        self, store: TokenStore, client_secret: str, auth_client: AuthClientFactory = AuthClient
    ) -> None:
        self.store = store
        self._secret = client_secret
        self._factory = auth_client
        self._client: Any = None

    @property
    def tokens(self) -> Tokens:
        return self.store.load()

    def access_token(self) -> str:
        tokens = self.store.load()
        return tokens.access_token if tokens.access_valid() else self.refresh(tokens.access_token)

    def refresh(self, rejected: str) -> str:
        """A new access token, unless another run already replaced the `rejected` one."""
        with self.store.lock():
            tokens = self.store.load()
            if tokens.access_token != rejected and tokens.access_valid():
                return tokens.access_token
            client = self._auth_client(tokens)
            try:
                client.refresh(refresh_token=tokens.refresh_token)
            except AuthClientError as exc:
                raise ReconnectRequired(_reason(exc)) from None
            renewed = tokens.renewed(
                client.access_token,
                float(client.expires_in or 3600),
                client.refresh_token,
                float(client.x_refresh_token_expires_in or 0),
            )
            self.store.save(renewed)  # saved before use: the old refresh token is now dead
            return renewed.access_token

    def _auth_client(self, tokens: Tokens) -> Any:
        # The constructor fetches the discovery document: build it once per process.
        if self._client is None:
            self._client = self._factory(
                tokens.client_id,
                self._secret,
                "http://127.0.0.1/",
                tokens.environment,
                realm_id=tokens.realm_id,
            )
        return self._client


def _reason(exc: AuthClientError) -> str:
    try:
        body = json.loads(exc.content or b"{}")
    except ValueError:
        body = {}
    if body.get("error") == "invalid_grant":
        return "the refresh token was superseded or has expired (invalid_grant)"
    return f"the token endpoint answered HTTP {exc.status_code}"
