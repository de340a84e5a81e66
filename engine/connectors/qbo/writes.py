"""Writing one record to QBO: create, update (re-applied on a stale SyncToken), delete, void
and deactivate. Each write carries a `requestid` made from what it does and the attempt
(`key`) the caller names, so a retry is replayed by QBO rather than run twice, while the
same write made again as a new attempt is run; a create also carries a natural-key guard, because
requestid is not always honoured: after a lost response the record is looked up before
anything is sent again."""

from __future__ import annotations

from datetime import datetime

from tpsqbo_engine.connectors.qbo import wire
from tpsqbo_engine.connectors.qbo.errors import StaleObjectError
from tpsqbo_engine.connectors.qbo.queries import NaturalKey, QboQueries
from tpsqbo_engine.connectors.qbo.transport import Record


class QboWrites(QboQueries):
    def create(
        self, entity: str, body: Record, *, key: str, guard: NaturalKey | None = None
    ) -> Record:
        started = datetime.now().astimezone()

        def look_again() -> Record | None:
            found = self.find(entity, guard, started) if guard else None
            with self._lock:
                self.stats.guard_hits += int(found is not None)
            return {entity: found} if found else None

        result = self.call(
            "POST",
            entity.lower(),
            body=body,
            requestid=self.requestid(f"create:{entity}:{key}"),
            on_lost=look_again,
            expect=(entity, dict),
        )
        record: Record = result[entity]
        return record

    def update(
        self,
        entity: str,
        ident: str,
        changes: Record,
        *,
        sparse: bool = True,
        attempts: int = 3,
        key: str = "",
    ) -> Record:
        """Applies `changes` to the current version; on 5010 re-reads and applies them again.
        `key` names the attempt: the same changes to the same version in a new attempt are
        a new request."""
        current = self.read(entity, ident)
        for attempt in range(attempts):
            body = {**changes, "Id": ident, "SyncToken": current["SyncToken"], "sparse": sparse}
            try:
                result = self.call(
                    "POST",
                    entity.lower(),
                    body=body,
                    requestid=self.requestid(
                        f"update:{entity}:{ident}:{current['SyncToken']}:{key}:"
                        + wire.dumps(changes)
                    ),
                    expect=(entity, dict),
                )
                record: Record = result[entity]
                return record
            except StaleObjectError:
                if attempt == attempts - 1:
                    raise
                current = self.read(entity, ident)
        raise AssertionError("unreachable")  # pragma: no cover

    def _lifecycle(
        self, entity: str, ident: str, params: dict[str, str], kind: str, key: str = ""
    ) -> Record:
        current = self.read(entity, ident)
        body: Record = {"Id": ident, "SyncToken": current["SyncToken"]}
        if kind == "void" and entity != "Invoice":
            body["sparse"] = True
        result: Record = self.call(
            "POST",
            entity.lower(),
            params=params,
            body=body,
            requestid=self.requestid(f"{kind}:{entity}:{ident}:{current['SyncToken']}:{key}"),
            expect=(entity, dict),
        )
        return result

    def delete(self, entity: str, ident: str, *, key: str = "") -> Record:
        return self._lifecycle(entity, ident, {"operation": "delete"}, "delete", key)

    def void(self, entity: str, ident: str, *, key: str = "") -> Record:
        params = (
            {"operation": "void"}
            if entity == "Invoice"
            else {"operation": "update", "include": "void"}
        )
        record: Record = self._lifecycle(entity, ident, params, "void", key)[entity]
        return record

    def deactivate(self, entity: str, ident: str, *, key: str = "") -> Record:
        """Name-list entities are never deleted in QBO, only made inactive."""
        return self.update(entity, ident, {"Active": False}, key=key)
