"""One write at a time, to QBO or TPS: create, update, read back (a link without changes)
or void. A create an earlier run started and never concluded is looked up by its natural
key before it is sent again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tpsqbo_engine.connectors.qbo.queries import NaturalKey
from tpsqbo_engine.connectors.tps.client import TpsConflict
from tpsqbo_engine.errors import ConnectorError, FatalConnectorError
from tpsqbo_engine.ruleset.model import MappingRule
from tpsqbo_engine.sync.bookkeeping import (
    Bookkeeping,
    Record,
    intent_key,
    intent_row,
    written_digest,
)
from tpsqbo_engine.sync.fingerprint import fingerprint
from tpsqbo_engine.sync.links import PENDING
from tpsqbo_engine.sync.markers import marker_of
from tpsqbo_engine.sync.plan import Operation
from tpsqbo_engine.sync.snapshot import TPS_RESOURCES


class Unresolved(Exception):
    pass


class SingleWrites(Bookkeeping):
    def _write(self, op: Operation) -> None:
        mapping = self.mapping(op.mapping)
        [journal] = self._begin([intent_row(op)])
        found = self._found_earlier(op, mapping)
        if found is not None:
            self._commit_record(op, journal, found, resolved(op.body, self.created))
            return
        try:
            body = resolved(op.body, self.created)
            target_id, target_version = self._send(op, mapping, body, self.attempt(op, journal))
        except Unresolved as missing:
            self._fail(op, journal, f"depends on {missing}, which was not written", settles=False)
            return
        except FatalConnectorError as fatal:
            self._fail(op, journal, fatal.message, settles=False)
            raise
        except ConnectorError as error:
            self._give_up(op, journal, error)
            return
        # The hash of what was written, placeholders resolved: the next run compares to it.
        digest = written_digest(op, body)
        self._commit(op, mapping, journal, target_id, target_version, digest)

    def _found_earlier(self, op: Operation, mapping: MappingRule) -> Record | None:
        """The record of a QBO create an earlier run started, if it is in QBO."""
        if intent_key(op) not in self.earlier or op.action != "create":
            return None
        if not op.target.startswith("qbo."):
            return None  # TPS: the attempt's Idempotency-Key makes the create answer it
        entity = op.target.split(".", 1)[1]
        try:
            return self._written_before(mapping, entity, resolved(op.body, self.created), op)
        except (Unresolved, ConnectorError):
            return None

    def _written_before(
        self, mapping: MappingRule, entity: str, body: Record, op: Operation
    ) -> Record | None:
        """An earlier run started this create and never recorded its outcome: look for the
        record by its natural key before creating it again, as far back as that first
        attempt (a run resumed a day later looks back a day)."""
        guard = natural_key(mapping, entity, body)
        open_ = self.earlier.get(intent_key(op))
        if guard is None or open_ is None:
            return None
        return self.qbo.find(entity, guard, since=datetime.fromisoformat(open_.started))

    def _send(
        self, op: Operation, mapping: MappingRule, body: Record, attempt: str
    ) -> tuple[str, str]:
        system, _, ident = (op.target if not op.reverse else op.record).partition(":")
        qualified_system, entity = system.split(".", 1)
        if op.action == "void":
            return self._void(qualified_system, entity, ident, op, attempt)
        if qualified_system == "qbo":
            if op.action == "create":
                guard = natural_key(mapping, entity, body)
                record = self.qbo.create(entity, body, key=attempt, guard=guard)
            elif op.body:
                record = self.qbo.update(entity, ident, body, key=attempt)
            else:
                record = self.qbo.read(entity, ident)
            self._seen(entity, record, op.action)
            return record["Id"], str(record.get("SyncToken", ""))
        resource = TPS_RESOURCES[entity]
        if op.action == "create":
            record = self.tps.create(resource, body, key=attempt)
        elif op.body:
            record = self.tps.update(resource, ident, body, version=int(op.target_version or 0))
        else:
            record = self.tps.get(resource, ident)
        return str(record["id"]), str(record.get("version", ""))

    def _seen(self, entity: str, record: Record, action: str) -> None:
        """A QBO record as a write of this run left it: for undo, and for the mirror."""
        self.left[f"{entity}:{record['Id']}"] = fingerprint(record)
        if self.written is not None:
            self.written(entity, record, action)

    def _void(
        self, system: str, entity: str, ident: str, op: Operation, attempt: str
    ) -> tuple[str, str]:
        if system == "qbo":
            record = self.qbo.void(entity, ident, key=attempt)
            if self.written is not None:
                self.written(entity, record, op.action)
            return record["Id"], str(record.get("SyncToken", ""))
        resource = TPS_RESOURCES[entity]
        try:
            record = self.tps.update(
                resource, ident, {"status": "void"}, version=int(op.target_version or 0)
            )
        except TpsConflict as stale:
            # Voiding a payment earlier in this run moved its invoice's version on; a void
            # overwrites nothing else, so it is applied to the version there is now.
            if stale.current_version is None:
                raise
            record = self.tps.update(
                resource, ident, {"status": "void"}, version=stale.current_version
            )
        return str(record["id"]), str(record.get("version", ""))


def natural_key(mapping: MappingRule, entity: str, body: Record) -> NaturalKey | None:
    """How to find this record again after a lost answer, before writing it twice: the
    mapping's declared natural key (the engine's marker, or a field it sets), else a field
    that names records of the entity. The record found must also carry the customer and
    the marker sent."""
    mark = marker_of(body.get("PrivateNote"))
    customer = body.get("CustomerRef")
    check = {
        "customer": str(customer.get("value", "")) if isinstance(customer, dict) else "",
        "marker": mark,
    }
    if mapping.marker and mark:
        return NaturalKey("PrivateNote", mark, **check)
    field = mapping.natural_key_field or next(
        (f for f in _NAMING.get(entity, ("DocNumber",)) if body.get(f)), ""
    )
    if field and body.get(field):
        return NaturalKey(field, str(body[field]), **check)
    return NaturalKey("PrivateNote", mark, **check) if mark else None


# Fields that name a record of the entity, for a mapping that declares no natural key.
_NAMING = {
    "Customer": ("DisplayName",),
    "Vendor": ("DisplayName",),
    "Employee": ("DisplayName",),
    "Item": ("Name",),
}


def resolved(value: Any, created: dict[str, str]) -> Any:
    """`value` with the placeholders of records created earlier in the run filled in."""
    if isinstance(value, str) and value.startswith(PENDING):
        record = value.removeprefix(PENDING)
        if record not in created:
            raise Unresolved(record)
        return created[record]
    if isinstance(value, dict):
        return {k: resolved(v, created) for k, v in value.items()}
    if isinstance(value, list):
        return [resolved(v, created) for v in value]
    return value
