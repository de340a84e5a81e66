"""The OAuth routes of the emulator as Intuit serves them: the discovery document, authorize,
token, revoke, JWKS and userinfo. A mixin of `Emulator`, which provides the OAuth server,
the company and the base URL; the JSON answer helpers live here so both can use them.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any
from urllib.parse import unquote_plus, urlencode

from werkzeug.wrappers import Request, Response

from tpsqbo_engine.emulators.bodies import json_default
from tpsqbo_engine.emulators.qbo.company import Company
from tpsqbo_engine.emulators.qbo.oauth import OAuthServer, discovery_document

HARD_EXPIRY = 5 * 365 * 86400  # tokens issued since October 2023 end after five years


def json_response(body: Any, status: int = 200) -> Response:
    text = json.dumps(body, default=json_default, ensure_ascii=False)
    response = Response(text, status=status, content_type="application/json;charset=UTF-8")
    response.headers["intuit_tid"] = secrets.token_hex(12)
    return response


class OAuthEndpoints:
    oauth: OAuthServer
    company: Company
    base_url: str

    def on_discovery(self, request: Request) -> Response:
        return json_response(discovery_document(self.base_url))

    def on_authorize(self, request: Request) -> Response:
        redirect_uri = request.args.get("redirect_uri", "")
        if request.args.get("client_id") != self.oauth.client_id:
            return json_response({"error": "invalid_client"}, 400)
        if not self.oauth.redirect_allowed(redirect_uri):  # shown to the user, never followed
            return json_response(
                {
                    "error": "invalid_request",
                    "error_description": "The redirect_uri is not registered for this app",
                },
                400,
            )
        params = {
            "code": self.oauth.authorize(redirect_uri),
            "state": request.args.get("state", ""),
            "realmId": self.company.realm_id,
        }
        return Response(status=302, headers={"Location": f"{redirect_uri}?{urlencode(params)}"})

    def _client_credentials(self, request: Request) -> bool:
        """client_secret_basic (an Authorization header) or client_secret_post (the form)."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            client_id = request.form.get("client_id", "")
            secret = request.form.get("client_secret", "")
            return bool(client_id and secret) and self.oauth.client_ok(client_id, secret)
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return False
        client_id, _, secret = decoded.partition(":")
        return self.oauth.client_ok(unquote_plus(client_id), unquote_plus(secret))

    def on_token(self, request: Request) -> Response:
        if not self._client_credentials(request):
            return json_response({"error": "invalid_client"}, 401)
        grant = request.form.get("grant_type")
        if grant == "authorization_code":
            tokens = self.oauth.exchange_code(
                request.form.get("code", ""), request.form.get("redirect_uri", "")
            )
        elif grant == "refresh_token":
            tokens = self.oauth.refresh(request.form.get("refresh_token", ""))
        else:
            return json_response({"error": "unsupported_grant_type"}, 400)
        if tokens is None:
            return json_response(
                {
                    "error": "invalid_grant",
                    "error_description": "Incorrect or invalid refresh token"
                    if grant == "refresh_token"
                    else "Invalid authorization code",
                },
                400,
            )
        if request.headers.get("x-include-refresh-token-hard-expires-in") == "true":
            tokens["x_refresh_token_hard_expires_in"] = HARD_EXPIRY
        return json_response(tokens)

    def on_revoke(self, request: Request) -> Response:
        if not self._client_credentials(request):
            return json_response({"error": "invalid_client"}, 401)
        body = request.get_json(silent=True) or {}
        token = str(body.get("token", "") if isinstance(body, dict) else "")
        self.oauth.revoke(token or request.form.get("token", ""))
        return Response(status=200)

    def on_jwks(self, request: Request) -> Response:
        return json_response({"keys": []})

    def on_userinfo(self, request: Request) -> Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if self.oauth.check_access(token, self.company.realm_id) is not None:
            return json_response({"error": "invalid_token"}, 401)  # OpenID Connect's answer
        return json_response({"sub": self.company.realm_id, "email": "owner@example.com"})
