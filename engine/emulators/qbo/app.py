"""HTTP around the emulated API: routing, OAuth, the gateway's auth check, throttling,
requestid replay, injected faults, JSON or XML answers, the admin token of the control
endpoints and the request size limit. A WSGI application served by werkzeug.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from html import escape
from typing import Any
from urllib.parse import unquote_plus, urlencode

from werkzeug.exceptions import HTTPException, NotFound, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from tpsqbo_engine.connectors.qbo.limits import Limits, Throttle
from tpsqbo_engine.emulators.injection import FaultPlan, drop_connection
from tpsqbo_engine.emulators.qbo import api, faults, properties, query, reports, uploads, xmlwire
from tpsqbo_engine.emulators.qbo.company import Company
from tpsqbo_engine.emulators.qbo.faults import Fault
from tpsqbo_engine.emulators.qbo.oauth import OAuthServer, discovery_document

MINOR_VERSION = 75
MAX_REQUESTID = 50
MAX_BATCH_REQUESTID = 36
REPLAY_MEMORY = 50_000
MAX_BODY = 10 * 1024 * 1024  # the emulator's own limit: a batch of 30 invoices is far below

_URLS = Map(
    [
        Rule("/.well-known/openid_sandbox_configuration/", endpoint="discovery"),
        Rule("/.well-known/openid_configuration/", endpoint="discovery"),
        Rule("/connect/oauth2", endpoint="authorize"),
        Rule("/oauth2/v1/tokens/bearer", endpoint="token", methods=["POST"]),
        Rule("/oauth2/v1/tokens/revoke", endpoint="revoke", methods=["POST"]),
        Rule("/op/v1/jwks", endpoint="jwks"),
        Rule("/v1/openid_connect/userinfo", endpoint="userinfo"),
        Rule("/connect/pay/<token>", endpoint="pay", methods=["GET", "POST"]),
        Rule("/__emulator__/faults", endpoint="admin_faults", methods=["POST", "DELETE"]),
        Rule("/__emulator__/expire-tokens", endpoint="admin_expire", methods=["POST"]),
        Rule("/v3/company/<realm>/<path:rest>", endpoint="api", methods=["GET", "POST"]),
    ],
    strict_slashes=False,
)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # QBO sends doubles; two-decimal amounts survive the round trip
    raise TypeError(type(value).__name__)


def json_response(body: Any, status: int = 200) -> Response:
    text = json.dumps(body, default=_json_default, ensure_ascii=False)
    response = Response(text, status=status, content_type="application/json;charset=UTF-8")
    response.headers["intuit_tid"] = secrets.token_hex(12)
    return response


def api_response(request: Request, body: Any, status: int = 200) -> Response:
    """An API answer in the format the request's Accept header asks for."""
    if not xmlwire.wanted(request.headers.get("Accept", "")):
        return json_response(body, status)
    response = Response(
        xmlwire.render(body), status=status, content_type=f"{xmlwire.MEDIA_TYPE};charset=UTF-8"
    )
    response.headers["intuit_tid"] = secrets.token_hex(12)
    return response


@dataclass
class Emulator:
    company: Company
    oauth: OAuthServer
    limits: Limits | None = None
    plan: FaultPlan = field(default_factory=FaultPlan)
    honour_requestid: bool = True
    on_write: Callable[[], None] | None = None
    base_url: str = ""
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    max_body: int = MAX_BODY
    strict_properties: bool = True
    _throttle: Throttle | None = None
    _replies: OrderedDict[str, tuple[int, bytes, str]] = field(default_factory=OrderedDict)
    _replies_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._throttle = Throttle(self.limits) if self.limits else None

    # WSGI ---------------------------------------------------------------------------------
    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = self.max_body  # a longer chunked body stops at the limit
        strict = properties.STRICT.set(self.strict_properties)
        try:
            if (request.content_length or 0) > self.max_body:
                raise RequestEntityTooLarge()  # refused on its header, before a byte is read
            endpoint, args = _URLS.bind_to_environ(environ).match()
            response = getattr(self, f"on_{endpoint}")(request, **args)
        except Fault as fault:
            response = api_response(request, fault.body(), fault.status)
        except NotFound:
            response = api_response(request, faults.system_fault("Resource not found").body(), 404)
        except RequestEntityTooLarge:
            response = api_response(request, faults.too_large(self.max_body).body(), 413)
        except HTTPException as exc:
            response = exc.get_response(environ)
        finally:
            properties.STRICT.reset(strict)
        result: Iterable[bytes] = response(environ, start_response)
        return result

    # OAuth --------------------------------------------------------------------------------
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
            tokens["x_refresh_token_hard_expires_in"] = 5 * 365 * 86400
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
        return json_response({"sub": self.company.realm_id, "email": "owner@example.com"})

    # Online payments --------------------------------------------------------------------
    def on_pay(self, request: Request, token: str) -> Response:
        with self.company.lock:
            invoice_id = self.company.payment_links.get(token)
            invoice = self.company.table("Invoice").get(invoice_id or "")
        if invoice is None:
            return Response("This payment link is not valid.", status=404)
        if request.method == "POST":
            payment = self.company.pay_online(token)
            self._written()
            return (
                json_response({"Payment": payment})
                if request.args.get("format") == "json"
                else Response(_paid_page(invoice, payment), content_type="text/html")
            )
        return Response(_pay_page(invoice, token), content_type="text/html")

    # Test controls ------------------------------------------------------------------------
    def _admin(self, request: Request) -> None:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not secrets.compare_digest(given, self.admin_token):
            raise Fault(
                "3200",
                "AuthenticationFailed",
                "The control endpoints need the emulator's admin token "
                "(admin_token in --print-json) as a Bearer token",
                status=401,
                type="AUTHENTICATION",
            )

    def on_admin_faults(self, request: Request) -> Response:
        self._admin(request)
        if request.method == "DELETE":
            self.plan.clear()
        else:
            try:
                self.plan.add(str((request.get_json(silent=True) or {}).get("spec", "")))
            except ValueError as exc:
                return json_response({"error": str(exc)}, 400)
        return json_response({"ok": True})

    def on_admin_expire(self, request: Request) -> Response:
        self._admin(request)
        self.oauth.expire_access_tokens()
        return json_response({"ok": True})

    # The API ------------------------------------------------------------------------------
    def on_api(self, request: Request, realm: str, rest: str) -> Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        is_write = request.method == "POST" and rest.strip("/") not in ("query",)
        drawn = self.plan.draw(write=is_write)
        if "expire-token" in drawn:
            self.oauth.expire_access_tokens()
        problem = (
            self.oauth.check_access(token, realm)
            if realm == self.company.realm_id
            else "Token is not valid for this company"
        )
        if problem is not None:
            return json_response(faults.gateway_unauthorized(problem), 401)
        if "slow" in drawn:
            time.sleep(drawn["slow"] or 1.0)
        if "throttle" in drawn or "throttle-xml" in drawn:
            return _throttled("throttle-xml" in drawn)
        if "5xx" in drawn:
            return Response(
                "<html><body><h1>503 Service Unavailable</h1></body></html>",
                status=503,
                content_type="text/html",
            )
        batch = rest.strip("/") == "batch"
        if self._throttle is not None and not self._throttle.admit(batch=batch):
            return _throttled(False)
        key = self._replay_key(request, realm, batch) if is_write else None
        if key is not None and self.honour_requestid and "ignore-requestid" not in drawn:
            with self._replies_lock:
                stored = self._replies.get(key)
            if stored is not None:
                return _stored_response(stored)
        response = self._dispatch(request, rest.strip("/"))
        if key is not None and response.status_code < 500:
            with self._replies_lock:
                self._replies[key] = (
                    response.status_code,
                    response.get_data(),
                    response.content_type or "application/json",
                )
                while len(self._replies) > REPLAY_MEMORY:
                    self._replies.popitem(last=False)
        if is_write:
            self._written()
        if "commit-timeout" in drawn and is_write:
            drop_connection(request.environ)
        return response

    def _replay_key(self, request: Request, realm: str, batch: bool) -> str | None:
        requestid = request.args.get("requestid")
        if not requestid:
            return None
        limit = MAX_BATCH_REQUESTID if batch else MAX_REQUESTID
        if len(requestid) > limit:
            raise Fault(
                "2010",
                "Request has invalid or unsupported property",
                f"requestid is longer than {limit} characters",
                element="requestid",
            )
        if batch:  # a batch is replayed only when both the requestid and its bIds are the same
            body = request.get_json(silent=True) or {}
            bids = ",".join(str(i.get("bId")) for i in body.get("BatchItemRequest") or [])
            return f"{realm}:{requestid}:{bids}"
        return f"{realm}:{requestid}"

    def _written(self) -> None:
        if self.on_write is not None:
            self.on_write()

    def _dispatch(self, request: Request, rest: str) -> Response:
        _minor_version(request)
        try:
            body = self._route(request, rest)
        except query.QueryError as error:
            raise api.query_fault(error) from None
        return api_response(request, body)

    def _route(self, request: Request, rest: str) -> dict[str, Any]:
        parts = rest.split("/")
        include = frozenset(request.args.get("include", "").lower().split(","))
        if parts[0] == "query":
            text = (
                request.args.get("query")
                if request.method == "GET"
                else request.get_data(as_text=True)
            )
            return api.run_query(self.company, text or "")
        if parts[0] == "cdc":
            return api.cdc(
                self.company, request.args.get("entities", ""), request.args.get("changedSince", "")
            )
        if parts[0] == "reports" and len(parts) == 2 and request.method == "GET":
            return reports.run(self.company, parts[1], request.args)
        if parts[0] == "upload" and request.method == "POST":
            return uploads.upload(
                self.company, request.content_type or "", request.get_data(as_text=True)
            )
        if parts[0] == "batch" and request.method == "POST":
            return api.batch(self.company, _body(request))
        if parts[0] == "companyinfo":
            return api.envelope("CompanyInfo", self.company.singleton("CompanyInfo"))
        if parts[0] == "preferences" and request.method == "GET":
            return api.envelope("Preferences", self.company.singleton("Preferences"))
        entity = api.entity_name(parts[0])
        if request.method == "GET" and len(parts) == 2:
            return api.read(self.company, entity, parts[1], invoice_link="invoicelink" in include)
        if request.method == "POST" and len(parts) == 1:
            return api.write(
                self.company,
                entity,
                _body(request),
                request.args.get("operation", "").lower(),
                include,
            )
        raise faults.system_fault(f"Unsupported operation on {rest}")


def _body(request: Request) -> Any:
    try:
        return json.loads(request.get_data(as_text=True) or "null", parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise Fault(
            "2010",
            "Request has invalid or unsupported property",
            f"The request body is not valid JSON (line {exc.lineno}, column {exc.colno})",
        ) from None


def _minor_version(request: Request) -> int:
    # Minor versions 1-74 are retired: below 75, or absent, the service behaves as 75.
    try:
        return max(MINOR_VERSION, int(request.args.get("minorversion", MINOR_VERSION)))
    except ValueError:
        return MINOR_VERSION


def _throttled(xml: bool) -> Response:
    if xml:
        return Response(faults.throttle_xml(), status=429, content_type="application/xml")
    return json_response(faults.throttle_json(), 429)


def _stored_response(stored: tuple[int, bytes, str]) -> Response:
    status, data, content_type = stored
    response = Response(data, status=status, content_type=content_type)
    response.headers["intuit_tid"] = secrets.token_hex(12)
    return response


def _pay_page(invoice: dict[str, Any], token: str) -> str:
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Pay invoice
{escape(str(invoice.get("DocNumber")))}</title></head><body style="font-family:sans-serif;
max-width:32rem;margin:3rem auto"><h1>Invoice {escape(str(invoice.get("DocNumber")))}</h1>
<p>{escape(invoice["CustomerRef"].get("name", ""))}</p><p>Balance due:
<strong>{invoice.get("Balance")}</strong></p>
<form method="post" action="/connect/pay/{escape(token)}">
<button type="submit">Pay now (emulated QuickBooks Payments)</button></form></body></html>"""


def _paid_page(invoice: dict[str, Any], payment: dict[str, Any]) -> str:
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Paid</title></head>
<body style="font-family:sans-serif;max-width:32rem;margin:3rem auto"><h1>Thank you</h1>
<p>Payment {escape(payment["Id"])} of {payment["TotalAmt"]} was applied to invoice
{escape(str(invoice.get("DocNumber")))}.</p></body></html>"""
