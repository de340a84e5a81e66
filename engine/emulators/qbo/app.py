"""HTTP around the emulated API: routing, OAuth, the gateway's auth check, throttling,
requestid replay, injected faults, JSON or XML answers, the admin token of the control
endpoints and the request size limit. A WSGI application served by werkzeug.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from html import escape
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from tpsqbo_engine.connectors.qbo.limits import Limits, Throttle
from tpsqbo_engine.emulators.bodies import BadBody, parse_json
from tpsqbo_engine.emulators.injection import FaultPlan, drop_connection
from tpsqbo_engine.emulators.qbo import (
    api,
    faults,
    paylinks,
    properties,
    query,
    reports,
    uploads,
    xmlwire,
)
from tpsqbo_engine.emulators.qbo.company import Company
from tpsqbo_engine.emulators.qbo.faults import Fault
from tpsqbo_engine.emulators.qbo.oauth import OAuthServer
from tpsqbo_engine.emulators.qbo.oauth_endpoints import (
    OAuthEndpoints,
    json_response,
)

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
class Emulator(OAuthEndpoints):
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
        strict = properties.STRICT.set(self.strict_properties)
        try:
            self._limit_body(request)
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

    def _limit_body(self, request: Request) -> None:
        """413 for a body over the limit: on its announced length before a byte is read; a
        chunked one is read one byte past the limit at most."""
        if (request.content_length or 0) > self.max_body:
            raise RequestEntityTooLarge()
        request.max_content_length = self.max_body + 1
        request.max_form_memory_size = self.max_body
        chunked = request.content_length is None and request.method == "POST"
        form = request.mimetype == "application/x-www-form-urlencoded"  # parsed within limits
        if chunked and not form and len(request.get_data(cache=True)) > self.max_body:
            raise RequestEntityTooLarge()

    # Online payments --------------------------------------------------------------------
    def on_pay(self, request: Request, token: str) -> Response:
        with self.company.lock:
            invoice_id = self.company.payment_links.get(token)
            invoice = self.company.table("Invoice").get(invoice_id or "")
        if invoice is None:
            return Response("This payment link is not valid.", status=404)
        if request.method == "POST":
            payment = paylinks.pay_online(self.company, token)
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
        if any(part in (".", "..") or "\x00" in part for part in parts):
            raise Fault("2010", "Request has invalid or unsupported property", "the path")
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
        if parts[0] == "download" and len(parts) == 2:
            raise uploads.download(self.company, parts[1])
        if parts[0] == "upload" and request.method == "POST":
            return uploads.upload(
                self.company, request.content_type or "", request.get_data(as_text=True)
            )
        if parts[0] == "batch" and request.method == "POST":
            return api.batch(self.company, _body(request))
        if parts[0] == "companyinfo" and request.method == "GET":  # a POST is an update
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
    try:  # nesting, NaN/Infinity and bad UTF-8 refused (emulators/bodies.py)
        return parse_json(request.get_data() or b"null", parse_float=Decimal)
    except BadBody as bad:
        raise Fault("2010", "Request has invalid or unsupported property", bad.message) from None


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
