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

from collections.abc import Callable
from datetime import datetime
from typing import Any

from tpsqbo_engine.connectors.qbo import wire
from tpsqbo_engine.connectors.qbo.errors import (
    QboError,
    QboFatalError,
    QboFault,
    QboRetriableError,
    error_for,
    fault_from,
)
from tpsqbo_engine.connectors.qbo.queries import MAX_PAGES, NAME_LISTS
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
        self._cdc_into(entities, since, changes, keep)
        return {entity: list(rows.values()) for entity, rows in changes.items()}

    def _cdc_into(
        self, entities: list[str], cursor: datetime, changes: Changes, keep: Keep | None
    ) -> None:
        for _ in range(MAX_PAGES):
            returned = self._cdc_answer(entities, cursor)
            for entity, record in _held(returned, keep):
                _note(changes, entity, record)
            if len(returned) < CDC_CAP:
                return
            newest = max(datetime.fromisoformat(_stamp(r)) for _, r in returned)
            if newest > cursor:
                cursor = newest
                continue
            # One second holds 1,000 changes of these entities together. Each entity alone
            # may hold fewer: CDC then gives all of them, deletions included.
            if len(entities) > 1:
                for entity in entities:
                    self._cdc_into([entity], cursor, changes, keep)
                return
            self._changed_since(entities[0], cursor, changes, keep)
            return
        raise not_understood(200, "GET cdc", f"more than {MAX_PAGES:,} saturated answers")

    def _cdc_answer(self, entities: list[str], cursor: datetime) -> list[tuple[str, Record]]:
        """One CDC answer's changes; an answer that is not one is asked again."""

        def understood(answer: Record) -> None:
            _cdc_objects(answer, entities)

        body = self.call(
            "GET",
            "cdc",
            params={"entities": ",".join(entities), "changedSince": cursor.isoformat()},
            expect=("CDCResponse", list),
            check=understood,
        )
        return _cdc_objects(body, entities)

    def _changed_since(
        self, entity: str, cursor: datetime, changes: Changes, keep: Keep | None
    ) -> None:
        """One entity's changes from a second CDC cannot page past, read by a query. It sees
        a name list's whole story (QBO only makes those inactive, and the query asks for
        inactive ones too). A transaction deleted in that second exists only in CDC: QBO's
        limits keep a realm far below 1,000 writes a second, so this takes a burst no app
        makes through the API (an emulator without limits does), and the run says what it
        may have missed rather than stopping every run of the firm."""
        stamp = wire.quote(cursor.isoformat())
        where = f"MetaData.LastUpdatedTime >= {stamp}"
        if entity in NAME_LISTS:
            where = f"Active IN (true, false) AND {where}"
        else:
            self.stats.notes.append(
                f"QBO changed more than {CDC_CAP:,} {entity} records in the one second "
                f"{cursor.isoformat()}, more than CDC answers: they were read by a query, which "
                f"does not show deletions; a {entity} deleted in QBO in that second is not seen "
                "(QBO's audit log lists deletions)"
            )
        found = [(entity, record) for record in self.query_all(entity, where)]
        for _, record in _held(found, keep):
            _note(changes, entity, record)


def _note(changes: Changes, entity: str, record: Record) -> None:
    changes.setdefault(entity, {})[(record["Id"], _stamp(record))] = record


def _stamp(record: Record) -> str:
    return str((record.get("MetaData") or {}).get("LastUpdatedTime", ""))


def _held(answer: list[tuple[str, Record]], keep: Keep | None) -> list[tuple[str, Record]]:
    if keep is None:
        return answer
    return [row for row, held in zip(answer, keep(answer), strict=True) if held]


def _cdc_objects(body: Record, asked: list[str]) -> list[tuple[str, Record]]:
    """Every changed record of a CDC answer, each an object with an Id and a readable stamp.
    A `Fault` in place of an entity's changes is an error (QBO does not track that entity:
    reading on would take "no changes" for an answer); an answer without its blocks, or
    with rows of an entity not asked for, is not understood rather than skipped."""
    blocks = body["CDCResponse"]
    if not blocks:  # QBO's "nothing changed" is [{"QueryResponse": [{}]}]
        raise not_understood(200, "GET cdc", "an empty CDCResponse")
    found: list[tuple[str, Record]] = []
    for block in blocks:
        responses = block.get("QueryResponse") if isinstance(block, dict) else None
        if not isinstance(responses, list) or not responses:
            raise not_understood(200, "GET cdc", "a block without its QueryResponse list")
        for response in responses:
            found.extend(_cdc_rows(response, asked))
    return found


def _cdc_rows(response: Any, asked: list[str]) -> list[tuple[str, Record]]:
    if not isinstance(response, dict):
        raise not_understood(200, "GET cdc", "a QueryResponse that is no object")
    if "Fault" in response or "fault" in response:
        raise _refused(response, asked)
    lists = {k: v for k, v in response.items() if isinstance(v, list)}
    strange = sorted(k for k in lists if k.casefold() not in {a.casefold() for a in asked})
    if strange:
        raise not_understood(200, "GET cdc", f"changes of {', '.join(strange)}, not asked for")
    return [(entity, _changed(record)) for entity, rows in lists.items() for record in rows]


def _refused(response: Record, asked: list[str]) -> QboError:
    fault = fault_from(200, response, "", "")
    assert fault is not None  # the response holds a Fault
    error = error_for(fault)
    if isinstance(error, QboRetriableError):
        return error  # QBO busy or failing for now: asked again
    named = fault.element or " or ".join(asked)
    return QboFatalError(
        QboFault(
            fault.status,
            fault.code,
            fault.message,
            f"change data capture of {named} refused: {fault.detail}",
            fault.element,
        ),
        hint="an entity QBO's CDC does not track must be read whole: the engine reads so the "
        "entities its schemas/qbo mark `cdc: false`; check the entity the rules name",
    )


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
