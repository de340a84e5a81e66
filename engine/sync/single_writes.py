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
from tpsqbo_engine.sync.markers import marker_of
from tpsqbo_engine.sync.plan import Operation
from tpsqbo_engine.sync.runtime import PENDING
from tpsqbo_engine.sync.snapshot import TPS_RESOURCES


class Unresolved(Exception):
    pass


class SingleWrites(Bookkeeping):
    def _write(self, op: Operation) -> None:
        mapping = self.mapping(op.mapping)
        intent = intent_key(op)
        [journal] = self._begin([intent_row(op)])
        found = self._found_earlier(op, intent)
        if found is not None:
            self._commit_record(op, journal, found, resolved(op.body, self.created))
            return
        try:
            body = resolved(op.body, self.created)
            target_id, target_version = self._send(op, mapping, body, intent)
        except Unresolved as missing:
            self._fail(op, journal, f"depends on {missing}, which was not written")
            return
        except FatalConnectorError as fatal:
            self._fail(op, journal, fatal.message)
            raise
        except ConnectorError as error:
            self._give_up(op, journal, error)
            return
        # The hash of what was written, placeholders resolved: the next run compares to it.
        digest = written_digest(op, body)
        self._commit(op, mapping, journal, target_id, target_version, digest)

    def _found_earlier(self, op: Operation, intent: str) -> Record | None:
        """The record of a QBO create an earlier run started, if it is in QBO."""
        if intent not in self.earlier or op.action != "create" or not op.target.startswith("qbo."):
            return None
        entity = op.target.split(".", 1)[1]
        try:
            return self._written_before(entity, resolved(op.body, self.created), intent)
        except (Unresolved, ConnectorError):
            return None

    def _written_before(self, entity: str, body: Record, intent: str) -> Record | None:
        """An earlier run started this create and never recorded its outcome: look for the
        record by its natural key before creating it again, as far back as that first
        attempt (a run resumed a day later looks back a day)."""
        guard = natural_key(entity, body)
        if guard is None:
            return None
        return self.qbo.find(entity, guard, since=self._first_attempt(intent))

    def _first_attempt(self, intent: str) -> datetime | None:
        started = self.earlier.get(intent)
        return datetime.fromisoformat(started) if started else None

    def _send(
        self, op: Operation, mapping: MappingRule, body: Record, intent: str
    ) -> tuple[str, str]:
        system, _, ident = (op.target if not op.reverse else op.record).partition(":")
        qualified_system, entity = system.split(".", 1)
        if op.action == "void":
            return self._void(qualified_system, entity, ident, op)
        if qualified_system == "qbo":
            if op.action == "create":
                guard = natural_key(entity, body)
                record = self.qbo.create(entity, body, key=intent, guard=guard)
            elif op.body:
                record = self.qbo.update(entity, ident, body)
            else:
                record = self.qbo.read(entity, ident)
            self._seen(entity, record, op.action)
            return record["Id"], str(record.get("SyncToken", ""))
        resource = TPS_RESOURCES[entity]
        if op.action == "create":
            record = self.tps.create(resource, body, key=intent)
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

    def _void(self, system: str, entity: str, ident: str, op: Operation) -> tuple[str, str]:
        if system == "qbo":
            record = self.qbo.void(entity, ident)
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


def natural_key(entity: str, body: Record) -> NaturalKey | None:
    """How to find this record again after a lost answer, before writing it twice."""
    if body.get("DocNumber"):
        return NaturalKey("DocNumber", str(body["DocNumber"]))
    if entity in ("Customer", "Vendor", "Employee") and body.get("DisplayName"):
        return NaturalKey("DisplayName", str(body["DisplayName"]))
    if entity == "Item" and body.get("Name"):
        return NaturalKey("Name", str(body["Name"]))
    if marker_of(body.get("PrivateNote")):  # the engine's marker, before any note of the rules
        return NaturalKey("PrivateNote", marker_of(body["PrivateNote"]))
    return None


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
