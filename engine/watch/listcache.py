"""The QBO lists every run reads whole (customers, items, accounts, terms, payment
methods), kept between the watcher's runs and brought up to date with one CDC call.

An incremental sync reads the lists whole (their queries in one batch call). The watcher
runs many small syncs, so it keeps the lists: a webhook run asks CDC once for what changed
in all of them since the last look (with a margin for clock skew; merging a record twice is
harmless), while the run on start and every sweep read them whole again, so nothing can drift for
longer than `--poll`. Tax codes are not covered by CDC and are always read whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.sync.snapshot import INACTIVE_LISTS

Record = dict[str, Any]
CACHED = ("Customer", "Item", "Account", "Term", "PaymentMethod")
# The read the sync makes of each list: with inactive rows where matching needs them.
WHOLE = {e: "Active IN (true, false)" if e in INACTIVE_LISTS else "" for e in CACHED}
SKEW = timedelta(minutes=1)


class ListCachingClient(QboClient):
    """A QboClient whose whole-list reads of CACHED entities come from the cache."""

    lists: dict[str, dict[str, Record]]
    looked_at: datetime | None
    whole_at: datetime | None
    fresh: bool
    max_age: timedelta

    @classmethod
    def wrapping(cls, client: QboClient, max_age: float = 900.0) -> ListCachingClient:
        made = cls(**{f.name: getattr(client, f.name) for f in fields(client)})
        made.max_age = timedelta(seconds=max_age)
        made.invalidate()
        return made

    def invalidate(self) -> None:
        """The next run reads every list whole."""
        self.lists, self.looked_at, self.whole_at, self.fresh = {}, None, None, False

    def new_run(self) -> None:
        """The next run asks CDC what changed in the lists (one call), or reads them whole
        if that was longer than `max_age` ago (runs back to back never sweep)."""
        if self.whole_at is None or datetime.now(UTC) - self.whole_at > self.max_age:
            self.invalidate()
        self.fresh = False

    def query_all(
        self, entity: str, where: str = "", order_by: str = "Id", start: int = 1
    ) -> Iterator[Record]:
        if entity not in CACHED or where != WHOLE[entity] or order_by != "Id" or start != 1:
            return super().query_all(entity, where, order_by, start)
        if not self.fresh:
            self._refresh()
        return iter([dict(r) for r in self.lists[entity].values()])

    def query_batch(self, wanted: dict[str, str]) -> dict[str, Iterator[Record]]:
        cached = {e: w for e, w in wanted.items() if e in CACHED and w == WHOLE[e]}
        found = super().query_batch({e: w for e, w in wanted.items() if e not in cached})
        return found | {e: self.query_all(e, w) for e, w in cached.items()}

    def _refresh(self) -> None:
        started = datetime.now(UTC)
        if self.looked_at is None or set(self.lists) != set(CACHED):
            whole = QboClient.query_batch(self, WHOLE)  # one batch call for them all
            self.lists = {e: {r["Id"]: r for r in whole[e]} for e in CACHED}
            self.whole_at = started
        else:
            for entity, rows in self.cdc(list(CACHED), self.looked_at - SKEW).items():
                for record in sorted(rows, key=_stamp):
                    inactive = record.get("Active") is False and not WHOLE[entity]
                    if record.get("status") == "Deleted" or inactive:
                        self.lists[entity].pop(record["Id"], None)
                    else:
                        self.lists[entity][record["Id"]] = record
        self.looked_at, self.fresh = started, True


def _stamp(record: Record) -> str:
    return str(record.get("MetaData", {}).get("LastUpdatedTime", ""))
