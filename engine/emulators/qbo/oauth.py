"""Intuit's OAuth 2.0 as Intuit runs it: a discovery document, an authorize endpoint that
consents at once but redirects only to a registered redirect URI, a token endpoint taking the
client credentials by HTTP Basic or in the form, refresh-token rotation, and revoke.

Access tokens expire (their lifetime is configurable, so tests can watch one expire). A
refresh token keeps its value for a rotation period (24 hours at Intuit): refreshing with it
inside the period answers the same value; after it, the answer is a new value and the old
one is superseded (`invalid_grant`). Every token descends from one connection (an
authorization); revoking any of its tokens disconnects it, access tokens included.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

ACCESS_TTL = 3600
REFRESH_TTL = 8_726_400  # about 101 days, as Intuit reports
REFRESH_ROTATION = 86_400  # Intuit keeps a refresh token's value for about a day
CODE_TTL = 300
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass
class Grant:
    realm_id: str
    expires: float
    connection: str = ""
    issued: float = 0.0


@dataclass
class OAuthServer:
    client_id: str
    client_secret: str
    realm_id: str
    access_ttl: float = ACCESS_TTL
    refresh_rotation: float = REFRESH_ROTATION
    redirect_uris: tuple[str, ...] = ()
    access_tokens: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
    codes: dict[str, tuple[str, str, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def issue_refresh_token(self) -> str:
        """A refresh token of a new connection, as if the owner had just consented."""
        token = f"AB11{secrets.token_urlsafe(32)}"
        now = time.time()
        with self.lock:
            self.refresh_tokens[token] = Grant(
                self.realm_id, now + REFRESH_TTL, secrets.token_hex(8), now
            )
        return token

    def redirect_allowed(self, redirect_uri: str) -> bool:
        """Registered for the app: one of `redirect_uris`, or any http loopback address,
        which Intuit lets development keys use."""
        if redirect_uri in self.redirect_uris:
            return True
        parsed = urlparse(redirect_uri)
        return parsed.scheme == "http" and (parsed.hostname or "") in LOOPBACK_HOSTS

    def authorize(self, redirect_uri: str) -> str:
        code = f"AB11{secrets.token_urlsafe(24)}"
        with self.lock:
            self.codes[code] = (redirect_uri, self.realm_id, time.time() + CODE_TTL)
        return code

    def client_ok(self, client_id: str, client_secret: str) -> bool:
        return secrets.compare_digest(client_id, self.client_id) and secrets.compare_digest(
            client_secret, self.client_secret
        )

    def exchange_code(self, code: str, redirect_uri: str) -> dict[str, object] | None:
        with self.lock:
            found = self.codes.pop(code, None)  # single use
        if found is None or found[0] != redirect_uri or found[2] < time.time():
            return None
        now = time.time()
        refresh = f"AB11{secrets.token_urlsafe(32)}"
        grant = Grant(found[1], now + REFRESH_TTL, secrets.token_hex(8), now)
        with self.lock:
            self.refresh_tokens[refresh] = grant
        return self._tokens(refresh, grant)

    def refresh(self, refresh_token: str) -> dict[str, object] | None:
        now = time.time()
        with self.lock:
            grant = self.refresh_tokens.get(refresh_token)
            if grant is None or grant.expires < now:
                return None
            grant.expires = now + REFRESH_TTL  # the lifetime rolls with each use
            if now - grant.issued >= self.refresh_rotation:
                del self.refresh_tokens[refresh_token]  # superseded: invalid_grant from now on
                refresh_token = f"AB11{secrets.token_urlsafe(32)}"
                grant = Grant(grant.realm_id, grant.expires, grant.connection, now)
                self.refresh_tokens[refresh_token] = grant
        return self._tokens(refresh_token, grant)

    def revoke(self, token: str) -> bool:
        """Disconnects the connection the token belongs to; False for an unknown token."""
        with self.lock:
            grant = self.refresh_tokens.get(token) or self.access_tokens.get(token)
            if grant is None:
                return False
            for tokens in (self.refresh_tokens, self.access_tokens):
                for value in [t for t, g in tokens.items() if g.connection == grant.connection]:
                    del tokens[value]
        return True

    def check_access(self, token: str, realm_id: str) -> str | None:
        """None when the token is good for this realm, else the gateway's detail text."""
        grant = self.access_tokens.get(token)
        if grant is None:
            return "Malformed bearer token or unknown token"
        if grant.expires < time.time():
            return "Token expired: the access token is more than an hour old"
        if grant.realm_id != realm_id:
            return "Token is not valid for this company"
        return None

    def expire_access_tokens(self) -> None:
        with self.lock:
            for grant in self.access_tokens.values():
                grant.expires = 0

    def _tokens(self, refresh_token: str, grant: Grant) -> dict[str, object]:
        access = f"eyJ{secrets.token_urlsafe(48)}"
        now = time.time()
        with self.lock:
            self.access_tokens[access] = Grant(
                grant.realm_id, now + self.access_ttl, grant.connection, now
            )
        return {
            "token_type": "bearer",
            "access_token": access,
            "refresh_token": refresh_token,
            "expires_in": int(self.access_ttl),
            "x_refresh_token_expires_in": max(0, int(grant.expires - now)),
        }


def discovery_document(base_url: str) -> dict[str, object]:
    return {
        "issuer": f"{base_url}/op/v1",
        "authorization_endpoint": f"{base_url}/connect/oauth2",
        "token_endpoint": f"{base_url}/oauth2/v1/tokens/bearer",
        "userinfo_endpoint": f"{base_url}/v1/openid_connect/userinfo",
        "revocation_endpoint": f"{base_url}/oauth2/v1/tokens/revoke",
        "jwks_uri": f"{base_url}/op/v1/jwks",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": [
            "openid",
            "email",
            "profile",
            "address",
            "phone",
            "com.intuit.quickbooks.accounting",
            "com.intuit.quickbooks.payment",
        ],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
    }
