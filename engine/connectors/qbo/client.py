"""The QuickBooks Online API client, built up by concern:

- transport.py: one request (limiter, token, retries, answers checked against what was asked);
- queries.py: reads, paging, several entities' first pages in one batch call, natural keys;
- writes.py: single creates, updates, deletes, voids;
- batch.py: one batch call of up to 30 writes, items left out looked up or sent again;
- spread.py: many writes spread over batch calls and single requests within the budget;
- here: reading what changed (CDC), the one read across entities.

Every loop ends: retries, paging, CDC's cursor, a batch answer that leaves items out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from tpsqbo_engine.connectors.qbo import wire
from tpsqbo_engine.connectors.qbo.queries import MAX_PAGES
from tpsqbo_engine.connectors.qbo.spread import QboSpreadWrites
from tpsqbo_engine.connectors.qbo.transport import Record, not_understood

CDC_CAP = 1000
Changes = dict[str, dict[tuple[str, str], Record]]
Keep = Callable[[list[tuple[str, Record]]], list[bool]]  # an answer's (entity, record)s -> held


class QboClient(QboSpreadWrites):
    def cdc(
        self, entities: list[str], since: datetime, keep: Keep | None = None
    ) -> dict[str, list[Record]]:
        """Everything changed since `since` that `keep` keeps, as each answer arrives. A
        saturated answer (1,000 objects, shared by all entities) is followed by another from
        the newest change returned, until one is not."""
        changes: Changes = {}
        cursor = since
        for _ in range(MAX_PAGES):
            body = self.call(
                "GET",
                "cdc",
                params={"entities": ",".join(entities), "changedSince": cursor.isoformat()},
                expect=("CDCResponse", list),
            )
            returned = list(_cdc_objects(body))
            for entity, record in _held(returned, keep):
                stamp = record.get("MetaData", {}).get("LastUpdatedTime", "")
                changes.setdefault(entity, {})[(record["Id"], stamp)] = record
            if len(returned) < CDC_CAP:
                break
            newest = max(
                datetime.fromisoformat(r.get("MetaData", {}).get("LastUpdatedTime"))
                for _, r in returned
            )
            if newest <= cursor:  # a single instant holds over 1,000 changes: read them whole
                self._changed_since(entities, cursor, changes, keep)
                break
            cursor = newest
        else:
            raise not_understood(200, "GET cdc", f"more than {MAX_PAGES:,} saturated answers")
        return {entity: list(rows.values()) for entity, rows in changes.items()}

    def _changed_since(
        self, entities: list[str], cursor: datetime, changes: Changes, keep: Keep | None
    ) -> None:
        for entity in entities:
            where = f"MetaData.LastUpdatedTime >= {wire.quote(cursor.isoformat())}"
            found = [(entity, record) for record in self.query_all(entity, where)]
            for _, record in _held(found, keep):
                changes.setdefault(entity, {})[(record["Id"], "")] = record


def _held(answer: list[tuple[str, Record]], keep: Keep | None) -> list[tuple[str, Record]]:
    if keep is None:
        return answer
    return [row for row, held in zip(answer, keep(answer), strict=True) if held]


def _cdc_objects(body: Record) -> Iterator[tuple[str, Record]]:
    """Every changed record of a CDC answer, each an object with an Id and a readable stamp;
    anything else in the answer is not understood rather than skipped."""
    for block in body["CDCResponse"]:
        responses = block.get("QueryResponse", []) if isinstance(block, dict) else None
        if not isinstance(responses, list):
            raise not_understood(200, "GET cdc", "a block without its QueryResponse list")
        for response in responses:
            rows_by_entity = response.items() if isinstance(response, dict) else [("", None)]
            for entity, rows in rows_by_entity:
                if isinstance(rows, list):
                    for record in rows:
                        yield entity, _changed(record)
                elif not entity:
                    raise not_understood(200, "GET cdc", "a QueryResponse that is no object")


def _changed(record: Any) -> Record:
    stamp = (
        (record.get("MetaData") or {}).get("LastUpdatedTime") if isinstance(record, dict) else None
    )
    try:
        datetime.fromisoformat(str(stamp))
    except ValueError:
        raise not_understood(200, "GET cdc", "a change without an Id and a time") from None
    if not isinstance(record, dict) or not record.get("Id"):
        raise not_understood(200, "GET cdc", "a change without an Id and a time")
    return record


__all__ = ["QboClient"]
