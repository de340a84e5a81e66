"""Intuit's OAuth 2.0, as `intuit-oauth` sees it: a discovery document, an authorize endpoint
that consents at once, a token endpoint with refresh-token rotation, and revoke.

Access tokens expire (their lifetime is configurable, so tests can watch one expire);
a refresh token is single-use: refreshing returns a new one, and the old one then answers
`invalid_grant`, as a superseded token does at Intuit.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

ACCESS_TTL = 3600
REFRESH_TTL = 8_726_400  # about 101 days, as Intuit reports


@dataclass
class Grant:
    realm_id: str
    expires: float


@dataclass
class OAuthServer:
    client_id: str
    client_secret: str
    realm_id: str
    access_ttl: float = ACCESS_TTL
    access_tokens: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
    codes: dict[str, tuple[str, str, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def issue_refresh_token(self) -> str:
        token = f"AB11{secrets.token_urlsafe(32)}"
        with self.lock:
            self.refresh_tokens[token] = Grant(self.realm_id, time.time() + REFRESH_TTL)
        return token

    def authorize(self, redirect_uri: str) -> str:
        code = f"AB11{secrets.token_urlsafe(24)}"
        with self.lock:
            self.codes[code] = (redirect_uri, self.realm_id, time.time() + 300)
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
        return self._tokens(found[1])

    def refresh(self, refresh_token: str) -> dict[str, object] | None:
        with self.lock:
            grant = self.refresh_tokens.pop(refresh_token, None)  # rotated: never valid again
        if grant is None or grant.expires < time.time():
            return None
        return self._tokens(grant.realm_id)

    def revoke(self, token: str) -> None:
        with self.lock:
            self.refresh_tokens.pop(token, None)
            self.access_tokens.pop(token, None)

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

    def _tokens(self, realm_id: str) -> dict[str, object]:
        access = f"eyJ{secrets.token_urlsafe(48)}"
        refresh = f"AB11{secrets.token_urlsafe(32)}"
        now = time.time()
        with self.lock:
            self.access_tokens[access] = Grant(realm_id, now + self.access_ttl)
            self.refresh_tokens[refresh] = Grant(realm_id, now + REFRESH_TTL)
        return {
            "token_type": "bearer",
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": int(self.access_ttl),
            "x_refresh_token_expires_in": REFRESH_TTL,
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
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
    }
