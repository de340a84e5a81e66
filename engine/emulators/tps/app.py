"""The TPS contract over HTTP (docs/tps-contract.md), as a WSGI application."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from tpsqbo_engine.connectors.tps.contract import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, RESOURCES
from tpsqbo_engine.emulators.bodies import BadBody, json_default, parse_json
from tpsqbo_engine.emulators.injection import FaultPlan, drop_connection
from tpsqbo_engine.emulators.tps.firm import Firm, TpsFault

_URLS = Map(
    [
        Rule("/api/v1/firm", endpoint="firm", methods=["GET"]),
        Rule("/api/v1/<resource>", endpoint="collection", methods=["GET", "POST"]),
        Rule("/api/v1/<resource>/<ident>", endpoint="item", methods=["GET", "PUT", "PATCH"]),
        Rule("/__emulator__/faults", endpoint="admin_faults", methods=["POST", "DELETE"]),
    ]
)


def json_response(body: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(body, default=json_default, ensure_ascii=False),
        status=status,
        content_type="application/json; charset=utf-8",
    )


def _page_token(record: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(f"{record['updated_at']}|{record['id']}".encode()).decode()


def _after_token(token: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
        stamp, bar, ident = decoded.partition("|")
        if not (bar and ident) or _stamp(stamp) is None:
            raise ValueError(token)
    except (ValueError, UnicodeDecodeError):
        raise TpsFault(
            400, "bad_page_token", "page_token is not one this server gave out", field="page_token"
        ) from None
    return stamp, ident


def _stamp(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass
class TpsEmulator:
    firm: Firm
    token: str = field(default_factory=lambda: f"tps_{secrets.token_urlsafe(24)}")
    plan: FaultPlan = field(default_factory=FaultPlan)
    on_write: Callable[[], None] | None = None
    _replies: dict[str, tuple[int, str]] = field(default_factory=dict)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, args = _URLS.bind_to_environ(environ).match()
            if endpoint != "admin_faults":
                self._admit(request)
            response = getattr(self, f"on_{endpoint}")(request, **args)
        except TpsFault as fault:
            response = json_response(fault.body(), fault.status)
        except NotFound:
            response = json_response(TpsFault(404, "not_found", "no such path").body(), 404)
        except MethodNotAllowed:
            response = json_response(
                TpsFault(405, "method_not_allowed", f"{request.method} is not allowed here").body(),
                405,
            )
        except HTTPException as exc:
            response = exc.get_response(environ)
        result: Iterable[bytes] = response(environ, start_response)
        return result

    def _admit(self, request: Request) -> None:
        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not secrets.compare_digest(supplied, self.token):
            raise TpsFault(401, "unauthorized", "a valid bearer token is required")
        drawn = self.plan.draw(write=request.method != "GET")
        request.environ["tpsqbo.faults"] = drawn
        if "slow" in drawn:
            time.sleep(drawn["slow"] or 1.0)
        if "throttle" in drawn:
            raise TpsFault(429, "rate_limited", "too many requests; retry after a pause")
        if "5xx" in drawn:
            raise TpsFault(503, "unavailable", "the service is temporarily unavailable")

    @staticmethod
    def _resource(resource: str) -> str:
        if resource not in RESOURCES:
            raise TpsFault(
                404,
                "unknown_resource",
                f"no resource {resource!r}; known: {', '.join(RESOURCES)}",
                resource=resource,
            )
        return resource

    def on_admin_faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.plan.clear()
        else:
            self.plan.add(str((request.get_json(silent=True) or {}).get("spec", "")))
        return json_response({"ok": True})

    def on_firm(self, request: Request) -> Response:
        return json_response(self.firm.firm)

    def on_collection(self, request: Request, resource: str) -> Response:
        resource = self._resource(resource)
        if request.method == "POST":
            return self._create(request, resource)
        return json_response(self._page(request, resource))

    def _create(self, request: Request, resource: str) -> Response:
        """A POST with an Idempotency-Key that was seen before gets the first answer again."""
        key = request.headers.get("Idempotency-Key", "")
        remembered = self._replies.get(f"{resource}:{key}") if key else None
        if remembered is not None:
            return Response(
                remembered[1], status=remembered[0], content_type="application/json; charset=utf-8"
            )
        try:
            response = json_response(self.firm.create(resource, self._body(request, resource)), 201)
        except TpsFault as fault:
            response = json_response(fault.body(), fault.status)
        if key and response.status_code < 500:
            self._replies[f"{resource}:{key}"] = (
                response.status_code,
                response.get_data(as_text=True),
            )
        if response.status_code == 201:
            self._written()
            if "commit-timeout" in request.environ.get("tpsqbo.faults", {}):
                drop_connection(request.environ)
        return response

    def _page(self, request: Request, resource: str) -> dict[str, Any]:
        try:
            size = int(request.args.get("page_size", DEFAULT_PAGE_SIZE))
        except ValueError:
            size = 0
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise TpsFault(
                400, "bad_page_size", f"page_size must be 1 to {MAX_PAGE_SIZE}", field="page_size"
            )
        since = request.args.get("updated_since", "")
        if since and _stamp(since) is None:
            raise TpsFault(
                400,
                "bad_updated_since",
                "updated_since must be an ISO 8601 timestamp, e.g. 2026-11-30T09:00:00Z",
                field="updated_since",
            )
        rows = self.firm.changed(resource, since)
        token = request.args.get("page_token")
        if token:
            key = _after_token(token)
            rows = [r for r in rows if (r["updated_at"], r["id"]) > key]
        page = rows[:size]
        more = len(rows) > size
        return {"data": page, "next_page_token": _page_token(page[-1]) if more else None}

    def on_item(self, request: Request, resource: str, ident: str) -> Response:
        resource = self._resource(resource)
        if request.method == "GET":
            with self.firm.lock:
                return json_response(self.firm.get(resource, ident))
        body = self._body(request, resource)
        if "version" not in body and request.headers.get("If-Match", "").isdigit():
            body["version"] = int(request.headers["If-Match"])
        updated = self.firm.update(resource, ident, body, partial=request.method == "PATCH")
        self._written()
        return json_response(updated)

    @staticmethod
    def _body(request: Request, resource: str) -> dict[str, Any]:
        try:
            body = parse_json(request.get_data() or b"null", parse_float=Decimal)
        except BadBody as bad:
            raise TpsFault(400, "bad_json", bad.message, resource=resource) from None
        if not isinstance(body, dict):
            raise TpsFault(400, "bad_json", "the body must be a JSON object", resource=resource)
        return body

    def _written(self) -> None:
        if self.on_write is not None:
            self.on_write()
