"""Webhook payloads, both of Intuit's formats, read into one shape.

Legacy: `{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities": [{"name", "id",
"operation", "lastUpdated"}]}}]}`. CloudEvents: a JSON array of events with `type`
`qbo.<entity>.<operation>.v1`, `intuitentityid`, `intuitaccountid`, `time` and a unique `id`.
A notification only says "something changed": the run that follows reads CDC, so a payload
that names nothing useful is refused rather than guessed at.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_EVENTS = 10_000  # one delivery; Intuit batches far fewer


class BadPayload(ValueError):
    pass


@dataclass(frozen=True)
class Notification:
    realm_id: str
    entity: str
    ident: str
    operation: str
    when: str
    event_id: str = ""

    @property
    def key(self) -> str:
        """The same change announced twice (a retry, a replay) has the same key."""
        return self.event_id or f"{self.realm_id}|{self.entity}|{self.ident}|{self.operation}|" + (
            self.when
        )


def parse(body: bytes) -> list[Notification]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadPayload(f"the body is not JSON: {exc}") from None
    if isinstance(data, dict) and "eventNotifications" in data:
        found = _legacy(data["eventNotifications"])
    elif isinstance(data, list):
        found = [_cloudevent(event, n) for n, event in enumerate(data)]
    else:
        raise BadPayload("neither the legacy eventNotifications shape nor a CloudEvents array")
    if len(found) > MAX_EVENTS:
        raise BadPayload(f"{len(found)} events in one delivery (at most {MAX_EVENTS})")
    return found


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool) or str(value) == "":
        raise BadPayload(f"{where} is missing or not text")
    return str(value)


def _legacy(notifications: Any) -> list[Notification]:
    if not isinstance(notifications, list):
        raise BadPayload("eventNotifications is not a list")
    found = []
    for n, notification in enumerate(notifications):
        where = f"eventNotifications[{n}]"
        if not isinstance(notification, dict):
            raise BadPayload(f"{where} is not an object")
        realm = _text(notification.get("realmId"), f"{where}.realmId")
        entities = (notification.get("dataChangeEvent") or {}).get("entities")
        if not isinstance(entities, list):
            raise BadPayload(f"{where}.dataChangeEvent.entities is not a list")
        for m, entity in enumerate(entities):
            at = f"{where}.dataChangeEvent.entities[{m}]"
            if not isinstance(entity, dict):
                raise BadPayload(f"{at} is not an object")
            found.append(
                Notification(
                    realm,
                    _text(entity.get("name"), f"{at}.name"),
                    _text(entity.get("id"), f"{at}.id"),
                    _text(entity.get("operation"), f"{at}.operation"),
                    str(entity.get("lastUpdated", "")),
                )
            )
    return found


def _cloudevent(event: Any, n: int) -> Notification:
    where = f"event [{n}]"
    if not isinstance(event, dict):
        raise BadPayload(f"{where} is not an object")
    kind = _text(event.get("type"), f"{where}.type").split(".")
    if len(kind) < 3 or kind[0] != "qbo":
        raise BadPayload(f"{where}.type is not qbo.<entity>.<operation>.v1")
    return Notification(
        _text(event.get("intuitaccountid"), f"{where}.intuitaccountid"),
        kind[1],
        _text(event.get("intuitentityid"), f"{where}.intuitentityid"),
        kind[2],
        str(event.get("time", "")),
        _text(event.get("id"), f"{where}.id"),
    )
