"""Webhook notifications: when an entity changes, POST the event to the configured URL.

Both of Intuit's payload formats are available: the legacy `eventNotifications` shape and
the CloudEvents array that replaces it. The body is signed the way Intuit signs it:
header `intuit-signature` = base64(HMAC-SHA256(verifier token, raw body)). Deliveries go
only to loopback addresses, never follow a redirect (it could lead off loopback), need a
verifier token (an empty key signs nothing), and run on a background thread so writes never
wait for them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlparse

import requests

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_OPERATIONS = {
    "Create": "created",
    "Update": "updated",
    "Delete": "deleted",
    "Merge": "merged",
    "Void": "voided",
    "Emailed": "emailed",
}


def sign(verifier: str, body: bytes) -> str:
    digest = hmac.new(verifier.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def legacy_payload(
    realm_id: str, events: list[tuple[str, str, str, str]]
) -> list[object] | dict[str, object]:
    entities = [
        {"name": entity, "id": ident, "operation": operation, "lastUpdated": when}
        for entity, ident, operation, when in events
    ]
    return {
        "eventNotifications": [{"realmId": realm_id, "dataChangeEvent": {"entities": entities}}]
    }


def cloudevents_payload(realm_id: str, events: list[tuple[str, str, str, str]]) -> list[object]:
    return [
        {
            "specversion": "1.0",
            "id": secrets.token_hex(16),
            "source": f"intuit.{hashlib.sha1(realm_id.encode()).hexdigest()[:12]}",  # noqa: S324
            "type": f"qbo.{entity.lower()}.{_OPERATIONS[operation]}.v1",
            "datacontenttype": "application/json",
            "time": when,
            "intuitentityid": ident,
            "intuitaccountid": realm_id,
        }
        for entity, ident, operation, when in events
    ]


@dataclass
class WebhookSender:
    url: str
    verifier: str
    realm_id: str
    format: str = "legacy"
    delivered: int = 0
    _queue: queue.Queue[tuple[str, str, str, str] | None] = field(default_factory=queue.Queue)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        host = urlparse(self.url).hostname or ""
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"webhooks are sent only to loopback addresses, not {host!r}")
        if self.format not in ("legacy", "cloudevents"):
            raise ValueError("webhook format is legacy or cloudevents")
        if not self.verifier:
            raise ValueError(
                "webhooks need a verifier token to sign with: --webhook-verifier "
                "or TPSQBO_WEBHOOK_VERIFIER"
            )

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="qbo-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __call__(self, entity: str, ident: str, operation: str) -> None:
        when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        self._queue.put((entity, ident, operation, when))

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            events = [first]
            while not self._queue.empty():  # one delivery carries what piled up meanwhile
                nxt = self._queue.get()
                if nxt is None:
                    self._deliver(events)
                    return
                events.append(nxt)
            self._deliver(events)

    def _deliver(self, events: list[tuple[str, str, str, str]]) -> None:
        payload = (
            legacy_payload(self.realm_id, events)
            if self.format == "legacy"
            else cloudevents_payload(self.realm_id, events)
        )
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "intuit-signature": sign(self.verifier, body),
            "intuit-created-time": datetime.now(UTC).isoformat(),
            "intuit-t-id": secrets.token_hex(8),
            "intuit-notification-schema-version": "0.1",
        }
        try:
            answer = requests.post(
                self.url, data=body, headers=headers, timeout=3, allow_redirects=False
            )
            if 200 <= answer.status_code < 300:  # a redirect is not a delivery
                self.delivered += 1
        except requests.RequestException:
            pass  # Intuit retries later; the emulator drops it (CDC remains the source of truth)
