"""Reading QBO: single records, queries paged 1,000 at a time, several entities' first pages
in one batch call, and a record found again by its natural key. Every paging loop ends: an
entity that pages on past `MAX_PAGES` is an error, not a longer wait."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tpsqbo_engine.connectors.qbo import wire
from tpsqbo_engine.connectors.qbo.errors import error_for, fault_from
from tpsqbo_engine.connectors.qbo.transport import (
    BATCH_SIZE,
    QboTransport,
    Record,
    not_understood,
)

PAGE_SIZE = 1000
CLOCK_MARGIN = timedelta(minutes=10)  # how far QBO's clock may be behind ours
BATCH_OBJECTS = 1000  # a batch answer holds at most this many objects in all
MAX_PAGES = 10_000  # ten million records of one entity: past that, paging is going in circles
# QBO leaves some fields out of query answers unless the SELECT names them (Item.Sku).
EXTRA_FIELDS = {"Item": ("Sku",)}
# Entities QBO never deletes, only makes inactive; its queries leave inactive ones out unless
# they filter on Active.
NAME_LISTS = frozenset(
    {"Customer", "Vendor", "Employee", "Item", "Account", "Term", "PaymentMethod", "Class"}
)


@dataclass(frozen=True)
class NaturalKey:
    """How to find a record again: `DocNumber = x`, `DisplayName = x`, or a PrivateNote
    marker; and what the record written carries besides, so that another record with the
    same key is not taken for it: its customer's id, the engine's marker ('' for none)."""

    field: str
    value: str
    customer: str = ""
    marker: str = ""

    def names(self, record: Record) -> bool:
        """Whether `record` can be the one written: the customer and marker sent agree."""
        ref = record.get("CustomerRef")
        customer = str(ref.get("value", "")) if isinstance(ref, dict) else ""
        note = str(record.get("PrivateNote") or "")
        # The marker first, as the engine writes it (a voided record's note starts "Voided"),
        # and as a word of its own: sync:tps:adjustment:adj-10 is not adj-100's.
        marked = re.match(re.escape(self.marker) + r"(?![\w-])", note.lstrip()) is not None
        return (not self.customer or customer == self.customer) and (not self.marker or marked)


class QboQueries(QboTransport):
    def read(self, entity: str, ident: str, *, include: str = "") -> Record:
        params = {"include": include} if include else None
        answer = self.call("GET", f"{entity.lower()}/{ident}", params=params, expect=(entity, dict))
        record: Record = answer[entity]
        return record

    def company_info(self) -> Record:
        answer = self.call("GET", f"companyinfo/{self.realm_id}", expect=("CompanyInfo", dict))
        info: Record = answer["CompanyInfo"]
        return info

    def preferences(self) -> Record:
        prefs: Record = self.call("GET", "preferences", expect=("Preferences", dict))["Preferences"]
        return prefs

    def query(self, statement: str) -> list[Record]:
        """The rows a SELECT finds, once the answer holds rows of the entity it names and
        nothing else: anything else is tried again, then a clear error, never "no rows"."""
        entity = _queried(statement)

        def understood(answer: Record) -> None:
            _query_rows(answer["QueryResponse"], entity, "POST query")

        answer = self.call(
            "POST", "query", text=statement, expect=("QueryResponse", dict), check=understood
        )
        return _query_rows(answer["QueryResponse"], entity, "POST query")

    def count(self, entity: str, where: str = "") -> int:
        statement = f"SELECT COUNT(*) FROM {entity}{' WHERE ' + where if where else ''}"
        answer = self.call("POST", "query", text=statement, expect=("QueryResponse", dict))
        total = answer["QueryResponse"].get("totalCount")
        if isinstance(total, bool) or not isinstance(total, int | Decimal):
            raise not_understood(200, "POST query", "a count that is not a number")
        return int(total)

    def query_all(
        self, entity: str, where: str = "", order_by: str = "Id", start: int = 1
    ) -> Iterator[Record]:
        """Every matching record, a page of 1,000 at a time (STARTPOSITION is 1-based)."""
        clause = f" WHERE {where}" if where else ""
        for _ in range(MAX_PAGES):
            page = self.query(
                f"SELECT {fields(entity)} FROM {entity}{clause} ORDERBY {order_by} "
                f"STARTPOSITION {start} MAXRESULTS {PAGE_SIZE}"
            )
            yield from page
            if len(page) < PAGE_SIZE:
                return
            start += PAGE_SIZE
        raise not_understood(200, "POST query", f"more than {MAX_PAGES:,} pages of {entity}")

    def query_batch(self, wanted: dict[str, str]) -> dict[str, Iterator[Record]]:
        """Every matching record of several entities (entity -> WHERE, or ''): their first
        pages in one batch call of up to 30 `Query` items, the rest read as it is iterated.
        A batch answer holds at most 1,000 objects, so each first page is 1,000 / the
        queries in the call; an entity with more goes on by its own queries. An item QBO
        leaves out is asked again on its own; an item's fault is raised as a plain query's
        would be."""
        found: dict[str, Iterator[Record]] = {}
        names = sorted(wanted)
        for begin in range(0, len(names), BATCH_SIZE):
            chunk = names[begin : begin + BATCH_SIZE]
            if len(chunk) == 1 or (self.limiter is not None and not self.limiter.batch_room()):
                found |= {e: self.query_all(e, wanted[e]) for e in chunk}
            else:
                found |= self._query_chunk(chunk, wanted)
        return found

    def _query_chunk(self, chunk: list[str], wanted: dict[str, str]) -> dict[str, Iterator[Record]]:
        """The first pages of up to 30 entities in one batch call, each followed by the rest."""
        size = BATCH_OBJECTS // len(chunk)
        items = [
            {"bId": f"q{i}", "Query": select(e, wanted[e], 1, size)} for i, e in enumerate(chunk)
        ]
        pages = _query_pages(self.call_batch(items), chunk)
        found: dict[str, Iterator[Record]] = {}
        for index, entity in enumerate(chunk):
            page = pages.get(index)
            if page is None:  # left out of the answer: asked again on its own
                found[entity] = self.query_all(entity, wanted[entity])
            elif len(page) < size:
                found[entity] = iter(page)
            else:
                rest = self.query_all(entity, wanted[entity], start=size + 1)
                found[entity] = itertools.chain(page, rest)
        return found

    def read_many(self, entity: str, ids: list[str]) -> Iterator[Record]:
        """Records by id, a hundred to a query; inactive ones too, as a read by id gives them
        (a linked customer made inactive is still the one the link names)."""
        active = "Active IN (true, false) AND " if entity in NAME_LISTS else ""
        for start in range(0, len(ids), 100):
            chunk = ", ".join(wire.quote(i) for i in ids[start : start + 100])
            yield from self.query(
                f"SELECT {fields(entity)} FROM {entity} WHERE {active}Id IN ({chunk}) "
                "MAXRESULTS 1000"
            )

    def find(self, entity: str, key: NaturalKey, since: datetime | None = None) -> Record | None:
        """The record a write made, found by its natural key: one created since `since`
        (less a margin for the clocks' difference) that carries what was sent (`key.names`).
        PrivateNote cannot be filtered on in QBO, so markers are looked for among the
        records created since."""
        moment = (since or datetime.now().astimezone()) - CLOCK_MARGIN
        created = f"MetaData.CreateTime >= {wire.quote(moment.isoformat(timespec='seconds'))}"
        if key.field != "PrivateNote":
            rows: Iterator[Record] = iter(
                self.query(
                    f"SELECT {fields(entity)} FROM {entity} WHERE {key.field} = "
                    f"{wire.quote(key.value)} AND {created}"
                )
            )
        else:
            rows = self.query_all(entity, created)
        marked = replace(key, marker=key.value) if key.field == "PrivateNote" else key
        return next((r for r in rows if marked.names(r)), None)


def fields(entity: str) -> str:
    return ", ".join(("*", *EXTRA_FIELDS.get(entity, ())))


def select(entity: str, where: str, start: int, size: int) -> str:
    clause = f" WHERE {where}" if where else ""
    return (
        f"SELECT {fields(entity)} FROM {entity}{clause} ORDERBY Id "
        f"STARTPOSITION {start} MAXRESULTS {size}"
    )


def _query_pages(answer: list[Any], asked: list[str]) -> dict[int, list[Record]]:
    """Query item index -> its rows, for the items the answer holds; a fault raised. A
    QueryResponse without rows of the entity asked for has none (QBO leaves the key out);
    rows of another entity are not an answer to the question."""
    pages: dict[int, list[Record]] = {}
    for item in answer:
        ident = str(item.get("bId", "")) if isinstance(item, dict) else ""
        index = int(ident[1:]) if ident[:1] == "q" and ident[1:].isdigit() else -1
        if not 0 <= index < len(asked) or not isinstance(item, dict):
            continue
        if "Fault" in item:
            fault = fault_from(200, item, "", "")
            assert fault is not None
            raise error_for(fault)
        pages[index] = _query_rows(item.get("QueryResponse"), asked[index])
    return pages


def _query_rows(response: Any, entity: str, what: str = "POST batch") -> list[Record]:
    """The rows of a QueryResponse, only if they answer for `entity`: rows of another
    entity are not an answer to the question, and an answer that counts rows it does not
    hold is not "none" (QBO leaves every key out when nothing matched)."""
    lists = (
        {k for k, v in response.items() if isinstance(v, list)}
        if isinstance(response, dict)
        else None
    )
    # QBO names the rows as it spells the entity, whatever the case of the statement's FROM
    key = next((k for k in lists or () if k.casefold() == entity.casefold()), entity)
    rows = response.get(key, []) if isinstance(response, dict) else None
    if (
        lists is None
        or lists - {key}
        or not isinstance(rows, list)
        or not all(isinstance(row, dict) for row in rows)
    ):
        raise not_understood(200, what, f"a query for {entity} that is not its QueryResponse")
    if not rows and any(_counted(response.get(k)) for k in ("maxResults", "totalCount")):
        raise not_understood(200, what, f"a query for {entity} that counts rows it does not hold")
    return rows


def _counted(value: Any) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool) and value > 0


_FROM = re.compile(r"\bFROM\s+([A-Za-z]+)", re.IGNORECASE)


def _queried(statement: str) -> str:
    """The entity a SELECT reads."""
    found = _FROM.search(statement)
    if found is None:
        raise ValueError(f"a query statement without FROM: {statement[:80]!r}")
    return found.group(1)
