"""The watcher's HTTP face, a WSGI app served by waitress: `POST /webhooks` takes QBO's
notifications, `/healthz` and `/metrics` tell how it is doing.

A delivery is checked and queued, nothing more, so the answer goes back within Intuit's
time limit; the run it triggers happens on the run loop after the debounce window. A body
that is unsigned or wrongly signed gets 401 and queues nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from tpsqbo_engine.watch.debounce import Debouncer
from tpsqbo_engine.watch.events import BadPayload, parse
from tpsqbo_engine.watch.metrics import CONTENT_TYPE, Metrics
from tpsqbo_engine.watch.signature import SIGNATURE_HEADER, verify

MAX_BODY = 1_000_000  # bytes; Intuit's deliveries are a few kilobytes
log = logging.getLogger("tpsqbo_engine.watch")


@dataclass
class WatchApp:
    verifier: str
    debouncer: Debouncer
    metrics: Metrics
    realm_id: str  # the firm's company: notifications for others are not ours to run
    health: Callable[[], dict[str, Any]]

    def __post_init__(self) -> None:
        self.routes = Map(
            [
                Rule("/webhooks", endpoint="webhooks", methods=["POST"]),
                Rule("/healthz", endpoint="healthz", methods=["GET"]),
                Rule("/metrics", endpoint="metrics", methods=["GET"]),
            ]
        )

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, _ = self.routes.bind_to_environ(environ).match()
            response = getattr(self, f"on_{endpoint}")(request)
        except NotFound:
            response = Response("not found\n", status=404)
        except HTTPException as error:
            response = Response(f"{error.name}\n", status=error.code or 400)
        result: Iterable[bytes] = response(environ, start_response)
        return result

    def on_webhooks(self, request: Request) -> Response:
        if (request.content_length or 0) > MAX_BODY:
            return self._reject(413, "body too large")
        body = request.get_data(cache=False)  # the raw bytes, exactly as signed
        if len(body) > MAX_BODY:
            return self._reject(413, "body too large")
        if not verify(self.verifier, body, request.headers.get(SIGNATURE_HEADER)):
            reason = "unsigned" if not request.headers.get(SIGNATURE_HEADER) else "bad signature"
            return self._reject(401, reason)
        try:
            notifications = parse(body)
        except BadPayload as error:
            return self._reject(400, str(error))
        ours = [n for n in notifications if n.realm_id == self.realm_id]
        if len(ours) < len(notifications):
            log.warning(
                "notifications for another company ignored",
                extra={"event": "webhook.other-realm", "count": len(notifications) - len(ours)},
            )
        new = self.debouncer.add(self.realm_id, [n.key for n in ours]) if ours else 0
        result = "accepted" if new else "duplicate"
        self.metrics.delivery(result, new)
        log.info(
            "webhook %s",
            result,
            extra={"event": f"webhook.{result}", "changes": new, "of": len(ours)},
        )
        return Response(status=200)

    def _reject(self, status: int, reason: str) -> Response:
        self.metrics.delivery("rejected")
        log.warning(
            "webhook refused: %s", reason, extra={"event": "webhook.rejected", "status": status}
        )
        return Response(f"{reason}\n", status=status)

    def on_healthz(self, request: Request) -> Response:
        state = self.health()
        status = 200 if state.get("ok") else 503
        return Response(
            json.dumps({**state, "time": time.time()}), status=status, mimetype="application/json"
        )

    def on_metrics(self, request: Request) -> Response:
        return Response(self.metrics.text(), content_type=CONTENT_TYPE)
