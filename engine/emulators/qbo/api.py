"""The v3 Accounting API's operations over one company: read, write, query, CDC, batch.

Transport-free: each function takes parsed input and returns the JSON-ready body, or raises
a `Fault`. app.py puts HTTP, OAuth, throttling and fault injection around it.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from tpsqbo_engine.emulators.qbo import catalog, faults, paylinks, properties, query, select
from tpsqbo_engine.emulators.qbo.company import (
    Company,
    entity_for_path,
)
from tpsqbo_engine.emulators.qbo.faults import Fault, now_text

MAX_BATCH_ITEMS = 30
MAX_BATCH_OBJECTS = 1000
CDC_MAX_OBJECTS = 1000
CDC_LOOKBACK = timedelta(days=30)

Record = dict[str, Any]


def entity_name(segment: str) -> str:
    entity = entity_for_path(segment)
    if entity is None:
        raise faults.system_fault(f"Unsupported entity or resource path: {segment}")
    return entity


def envelope(key: str, value: Any) -> Record:
    return {key: value, "time": now_text()}


def read(company: Company, entity: str, ident: str, *, invoice_link: bool) -> Record:
    with company.lock:
        record = copy.deepcopy(company.get(entity, ident))
        if entity == "Invoice" and invoice_link:
            link = paylinks.invoice_link(company, record)
            if link:
                record["InvoiceLink"] = link
    return envelope(entity, record)


def write(
    company: Company, entity: str, body: Record, operation: str, include: frozenset[str]
) -> Record:
    """Create, full or sparse update, delete or void, as QBO picks them from the request."""
    if not isinstance(body, dict):
        raise Fault(
            "2010",
            "Request has invalid or unsupported property",
            "The request body must be a JSON object",
        )
    allow_dup = "allowduplicatedocnum" in include
    if operation == "delete":
        return envelope(entity, company.delete(entity, body))
    if operation == "void" or "void" in include:
        return envelope(entity, copy.deepcopy(company.void(entity, body)))
    if operation not in ("", "create", "update"):
        raise faults.unsupported(f"Operation {operation} is not supported")
    body = properties.check_write(entity, body, create="Id" not in body)
    if "Id" in body:
        sparse = body.get("sparse") in (True, "true")
        record = company.update(entity, body, sparse=sparse, allow_duplicate_docnumber=allow_dup)
    else:
        record = company.create(entity, body, allow_duplicate_docnumber=allow_dup)
    return envelope(entity, copy.deepcopy(record))


def run_query(company: Company, text: str) -> Record:
    return select.answer(company, text)


def query_fault(error: query.QueryError) -> Fault:
    message = "Error parsing query" if error.code == "4000" else "Error processing query"
    return Fault(error.code, message, error.detail)


def _parse_time(text: str, element: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Fault(
            "2010",
            "Request has invalid or unsupported property",
            f"{element} must be an ISO 8601 date or date-time",
            element=element,
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def cdc(company: Company, entities: str, changed_since: str) -> Record:
    if not entities or not changed_since:
        raise faults.required("entities" if not entities else "changedSince")
    since = _parse_time(changed_since, "changedSince")
    if since < datetime.now(UTC) - CDC_LOOKBACK:
        raise Fault(
            "2010",
            "Request has invalid or unsupported property",
            # QBO's own words (reported by QuickBooksSharp users, issue 19)
            f"Operation cdc with changedSince date {changed_since} which is older than fixed "
            "days is not supported.",
            element="changedSince",
        )
    asked = [part.strip() for part in entities.split(",") if part.strip()]
    names = [n for n in (_cdc_entity(part) for part in asked) if n is not None]
    refused = [_cdc_refusal(part) for part in asked if _cdc_entity(part) is None]
    # Stamps are written in the company's one offset, so as text they sort as times do.
    threshold = since.astimezone(company.offset).isoformat(timespec="seconds")
    changed: list[tuple[str, bool, str, Record]] = []
    grouped: dict[str, list[Record]] = {}
    with company.lock:
        for name in names:
            for record in [*company.table(name).values(), *company.deleted.get(name, {}).values()]:
                stamp = record["MetaData"]["LastUpdatedTime"]
                if stamp >= threshold:
                    changed.append((stamp, record.get("status") == "Deleted", name, record))
        changed.sort(key=lambda c: (c[0], c[1]))
        for _, _, name, record in changed[:CDC_MAX_OBJECTS]:  # one cap shared by all entities
            grouped.setdefault(name, []).append(copy.deepcopy(record))
    responses = [
        {name: rows, "startPosition": 1, "maxResults": len(rows)} for name, rows in grouped.items()
    ] + refused or [{}]
    return envelope("CDCResponse", [{"QueryResponse": responses}])


def _cdc_entity(segment: str) -> str | None:
    """The entity a CDC list names, when QBO tracks its changes."""
    entity = entity_for_path(segment.lower())
    return entity if entity is not None and catalog.info(entity).cdc else None


def _cdc_refusal(segment: str) -> Record:
    # One entity QBO does not track answers a fault in its place; the others still answer.
    known = entity_for_path(segment.lower()) is not None or segment == "JournalCode"
    detail = (
        f"Change data capture is not supported for {segment}"
        if known
        else f"Unsupported entity for change data capture: {segment}"
    )
    fault = Fault("4000" if not known else "500", "Unsupported Operation", detail, element=segment)
    return {"Fault": {"Error": [fault.error()], "type": "ValidationFault"}}


def batch(company: Company, body: Record) -> Record:
    items = body.get("BatchItemRequest") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise faults.required("BatchItemRequest")
    if len(items) > MAX_BATCH_ITEMS:
        raise Fault(
            "2010",
            "Request has invalid or unsupported property",
            f"Batch size limit exceeded: at most {MAX_BATCH_ITEMS} items per batch",
        )
    responses = []
    objects = 0
    with company.independent_items():
        for item in items:
            ident = item.get("bId") if isinstance(item, dict) else None
            answer = _batch_item(company, item)
            count = _objects(answer)
            if "QueryResponse" in answer and objects + count > MAX_BATCH_OBJECTS:
                # BATCH: "at most 1000 objects in a response". How QBO answers past that is
                # not documented: the item is refused, never cut short in silence.
                fault = Fault(
                    "2010",
                    "Request has invalid or unsupported property",
                    f"Batch response limit exceeded: at most {MAX_BATCH_OBJECTS} objects "
                    "in a batch response; ask for fewer rows (MAXRESULTS)",
                )
                answer, count = {"Fault": {"Error": [fault.error()], "type": fault.type}}, 0
            objects += count
            responses.append({"bId": ident, **answer})
    return envelope("BatchItemResponse", responses)


def _objects(answer: Record) -> int:
    """How many objects an item's answer holds: a query's rows, or the one record."""
    if "Fault" in answer:
        return 0
    found = answer.get("QueryResponse")
    if isinstance(found, dict):
        return sum(len(v) for v in found.values() if isinstance(v, list))
    return 1


def _batch_item(company: Company, item: Record) -> Record:
    try:
        if not isinstance(item, dict):  # junk in the list: a fault for that item alone
            raise Fault("2010", "Request has invalid or unsupported property", "a batch item")
        if "Query" in item:
            return {"QueryResponse": run_query(company, item["Query"])["QueryResponse"]}
        entity = next((k for k in item if k not in ("bId", "operation", "optionsData")), None)
        if entity is None:
            raise faults.required("entity")
        name = entity_name(entity.lower())
        if not isinstance(item[entity], dict):
            raise Fault("2010", "Request has invalid or unsupported property", entity)
        result = write(
            company,
            name,
            item[entity],
            str(item.get("operation", "")),
            frozenset(str(item.get("optionsData", "")).lower().split(",")),
        )
        return {name: result[name]}
    except query.QueryError as error:
        return {"Fault": {"Error": [query_fault(error).error()], "type": "ValidationFault"}}
    except Fault as fault:
        return {"Fault": {"Error": [fault.error()], "type": fault.type}}
