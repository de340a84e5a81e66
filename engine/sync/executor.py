"""Applying a plan: each write journaled before the call and concluded after, the link, the
history row and the journal's outcome committed in one transaction.

The state is written per batch, not per record: the intents of a batch are committed together
before its call, and the outcomes, links and history rows of the writes made ride in the
next transaction (the next batch's intents, or the end of the run) — one commit per call.

A crash between a write and its state leaves an intent without an outcome. The next run plans
the same write with the same intent key, so QBO sees the same requestid (and the natural-key
guard looks the record up first) and TPS the same Idempotency-Key: nothing is written twice.
The intents left unfinished by earlier runs are read once, when the run starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tpsqbo_engine import signals
from tpsqbo_engine.connectors.qbo import wire
from tpsqbo_engine.connectors.qbo.batch import BatchOp, BatchResult
from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.qbo.errors import StaleObjectError
from tpsqbo_engine.connectors.qbo.queries import NaturalKey
from tpsqbo_engine.connectors.qbo.transport import BATCH_SIZE
from tpsqbo_engine.connectors.tps.client import TpsConflict, TpsSource
from tpsqbo_engine.errors import ConnectorError, FatalConnectorError, SkippableConnectorError
from tpsqbo_engine.ruleset.model import MappingRule, RuleSet
from tpsqbo_engine.state import StateStore
from tpsqbo_engine.state_rows import Done, Intent, Item, Link, Outcome
from tpsqbo_engine.sync.fingerprint import fingerprint
from tpsqbo_engine.sync.markers import marker_of
from tpsqbo_engine.sync.plan import Operation, Plan
from tpsqbo_engine.sync.runtime import PENDING, content_hash, pair_of, system_of
from tpsqbo_engine.sync.snapshot import TPS_RESOURCES

Record = dict[str, Any]
Progress = Callable[[int, int], None]
FLUSH_ROWS = 1000  # rows of records left alone held at most before a commit


class Unresolved(Exception):
    pass


@dataclass
class Executor:
    plan: Plan
    rules: RuleSet
    state: StateStore
    qbo: QboClient
    tps: TpsSource
    run_id: int
    progress: Progress | None = None
    created: dict[str, str] = field(default_factory=dict)  # source record -> new target id
    # "Invoice:238" -> fingerprint of the QBO record as this run's write left it (for undo)
    left: dict[str, str] = field(default_factory=dict)
    # Sees each QBO record as a write left it, with the action (the session's mirror).
    written: Callable[[str, Record, str], None] | None = None
    pending: Done = field(default_factory=Done)  # what the writes made left, not yet committed
    # Intents earlier runs started and never concluded -> their first attempt
    earlier: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._mappings = {m.id: m for m in self.rules.mappings}

    def mapping(self, mapping_id: str) -> MappingRule:
        return self._mappings[mapping_id]

    def apply(self) -> None:
        self.earlier = self.state.unfinished_intents()
        operations = _writes_last(self.plan.operations)
        done = 0
        try:
            while done < len(operations):
                group = self._batchable(operations, done)
                if len(group) > 1:
                    self._write_batch(group)
                else:
                    self._one(operations[done])
                done += max(len(group), 1)
                if self.progress is not None:
                    self.progress(done, len(operations))
        finally:
            # Whatever stops the run, the writes it made are recorded (a crash that skips
            # this leaves intents the next run looks up).
            self._flush()

    def _begin(self, intents: list[Intent]) -> list[int]:
        """Commits the intents of the writes about to be sent, with what the writes before
        them left."""
        if signals.held():
            self._flush()  # a SIGTERM waits: it is raised once these are committed
        pending, self.pending = self.pending, Done()
        return self.state.write(self.run_id, pending, intents)

    def _flush(self) -> None:
        pending, self.pending = self.pending, Done()
        if pending:
            self.state.write(self.run_id, pending)

    def _one(self, op: Operation) -> None:
        if op.writes:
            self._write(op)
        elif op.action == "refresh":
            self._refresh(op)
        else:
            self.pending.items.append(
                Item(
                    op.record,
                    op.mapping,
                    op.action,
                    op.level or "Excluded",
                    op.message,
                    op.rule,
                    op.target,
                )
            )
        if len(self.pending.items) + len(self.pending.links) >= FLUSH_ROWS:
            self._flush()  # a long stretch of records left alone: memory stays bounded

    @staticmethod
    def _batchable(operations: list[Operation], start: int) -> list[Operation]:
        """Consecutive QBO creates and updates of one mapping, up to a batch of 30."""

        def fits(op: Operation, first: Operation) -> bool:
            sendable = op.action == "create" or (
                op.action in ("update", "link") and bool(op.body) and not op.reverse
            )
            return (
                sendable
                and op.mapping == first.mapping
                and op.target.split(":")[0] == first.target.split(":")[0]
            )

        first = operations[start]
        if not first.target.startswith("qbo.") or not fits(first, first):
            return []
        group = []
        for op in operations[start : start + BATCH_SIZE]:
            if not fits(op, first):
                break
            group.append(op)
        return group

    def _write_batch(self, group: list[Operation]) -> None:
        """Creates sent 30 to a QBO call; each still journaled, linked and reported alone."""
        entity = group[0].target.split(":")[0].split(".", 1)[1]
        ready: list[tuple[Operation, int, Record]] = []
        journals = self._begin([_intent_row(op) for op in group])
        for op, journal in zip(group, journals, strict=True):
            intent = _intent(op)
            try:
                body = _resolve(op.body, self.created)
            except Unresolved as missing:
                self._fail(op, journal, f"depends on {missing}, which was not written")
                continue
            found = self._written_before(entity, body, intent) if intent in self.earlier else None
            if found is not None:
                self._commit(
                    op,
                    self.mapping(op.mapping),
                    journal,
                    found["Id"],
                    str(found.get("SyncToken", "")),
                    _digest(op, body),
                )
                continue
            ready.append((op, journal, body))
        if not ready:
            return
        ops = [_batch_op(entity, op, body) for op, _, body in ready]
        try:
            results = self.qbo.batch(ops)
        except FatalConnectorError as fatal:
            made = {id(r.op): r for r in fatal.partial}
            self._record_batch(
                entity, ready, [made.get(id(o), BatchResult(o, error=fatal)) for o in ops]
            )
            raise
        except ConnectorError as error:
            self._record_batch(entity, ready, [BatchResult(op, error=error) for op in ops])
            return
        self._record_batch(entity, ready, results)

    def _record_batch(
        self, entity: str, ready: list[tuple[Operation, int, Record]], results: list[BatchResult]
    ) -> None:
        for (op, journal, body), result in zip(ready, results, strict=True):
            if isinstance(result.error, StaleObjectError):
                self.pending.outcomes.append(Outcome(journal, "stale"))
                self._write(op)  # changed meanwhile: read it again and re-apply, alone
                continue
            if result.record is None:
                self._give_up(op, journal, result.error)
                continue
            self.left[f"{entity}:{result.record['Id']}"] = fingerprint(result.record)
            if self.written is not None:
                self.written(entity, result.record, op.action)
            self._commit(
                op,
                self.mapping(op.mapping),
                journal,
                result.record["Id"],
                str(result.record.get("SyncToken", "")),
                _digest(op, body),
            )

    def _write(self, op: Operation) -> None:
        mapping = self.mapping(op.mapping)
        intent = _intent(op)
        [journal] = self._begin([_intent_row(op)])
        if intent in self.earlier and op.action == "create" and op.target.startswith("qbo."):
            entity = op.target.split(".", 1)[1]
            try:
                found = self._written_before(entity, _resolve(op.body, self.created), intent)
            except (Unresolved, ConnectorError):
                found = None
            if found is not None:
                self._commit(
                    op,
                    mapping,
                    journal,
                    found["Id"],
                    str(found.get("SyncToken", "")),
                    _digest(op, _resolve(op.body, self.created)),
                )
                return
        try:
            body = _resolve(op.body, self.created)
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
        digest = _digest(op, body)
        self._commit(op, mapping, journal, target_id, target_version, digest)

    def _written_before(self, entity: str, body: Record, intent: str) -> Record | None:
        """An earlier run started this create and never recorded its outcome: look for the
        record by its natural key before creating it again, as far back as that first
        attempt (a run resumed a day later looks back a day)."""
        guard = _guard(entity, body)
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
                record = self.qbo.create(entity, body, key=intent, guard=_guard(entity, body))
            elif op.body:
                record = self.qbo.update(entity, ident, body)
            else:
                record = self.qbo.read(entity, ident)
            self.left[f"{entity}:{record['Id']}"] = fingerprint(record)
            if self.written is not None:
                self.written(entity, record, op.action)
            return record["Id"], str(record.get("SyncToken", ""))
        resource = TPS_RESOURCES[entity]
        if op.action == "create":
            record = self.tps.create(resource, body, key=intent)
        elif op.body:
            record = self.tps.update(resource, ident, body, version=int(op.target_version or 0))
        else:
            record = self.tps.get(resource, ident)
        return str(record["id"]), str(record.get("version", ""))

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

    def _commit(
        self,
        op: Operation,
        mapping: MappingRule,
        journal: int,
        target_id: str,
        version: str,
        digest: str,
    ) -> None:
        if op.reverse:  # a `both` mapping wrote back to its source side
            target_id = op.target.split(":", 1)[1] if ":" in op.target else target_id
        self._link(op, mapping, target_id, version, digest)
        self.pending.items.append(
            Item(
                op.record,
                op.mapping,
                op.action,
                "Successful",
                _describe(op),
                op.rule,
                f"{op.target.split(':')[0]}:{target_id}",
            )
        )
        entity = op.target.split(":", 1)[0].split(".", 1)[-1]
        left = self.left.pop(f"{entity}:{target_id}", "") if not op.reverse else ""
        self.pending.outcomes.append(Outcome(journal, "written", target_id, version, left))
        if op.action == "create":
            self.created[op.record] = target_id

    def _refresh(self, op: Operation) -> None:
        """Remembers the target's new version; nothing is written and nothing to report."""
        self._link(
            op,
            self.mapping(op.mapping),
            op.target.split(":", 1)[1],
            op.target_version,
            op.content_hash,
        )

    def _link(
        self, op: Operation, mapping: MappingRule, target_id: str, version: str, digest: str
    ) -> None:
        """The link between the two records, with the versions both have now, for the
        next run to compare."""
        source_id = op.record.split(":", 1)[1]
        tps_id, qbo_id = (
            (source_id, target_id) if system_of(mapping.source) == "tps" else (target_id, source_id)
        )
        written = mapping.source if op.reverse else mapping.target
        tps_version, qbo_version = (
            (version, op.peer_version)
            if system_of(written) == "tps"
            else (op.peer_version, version)
        )
        self.pending.links.append(
            Link(pair_of(mapping), tps_id, qbo_id, mapping.id, tps_version, qbo_version, digest)
        )

    def _give_up(self, op: Operation, journal: int, error: Exception | None) -> None:
        """A write that did not come back done. A create whose call may have reached QBO
        (it gave up retrying, or lost the answer) is left unconcluded, not failed: the next
        run then looks it up by its natural key before sending it again, which a failed
        one would not, and would create it twice."""
        message = error.message if isinstance(error, ConnectorError) else str(error)
        refused = isinstance(error, (SkippableConnectorError, FatalConnectorError))
        if op.action == "create" and op.target.startswith("qbo.") and not refused:
            message += "; it may have been written: the next run looks for it first"
            self.pending.items.append(
                Item(op.record, op.mapping, op.action, "Failed", message, op.rule, op.target)
            )
            signals.write_left_open(journal)
            return
        self._fail(op, journal, message)

    def _fail(self, op: Operation, journal: int, message: str) -> None:
        self.pending.items.append(
            Item(op.record, op.mapping, op.action, "Failed", message, op.rule, op.target)
        )
        self.pending.outcomes.append(Outcome(journal, "failed"))


def _batch_op(entity: str, op: Operation, body: Record) -> BatchOp:
    if op.action == "create":
        return BatchOp(entity, body, key=_intent(op), guard=_guard(entity, body))
    # An update names the version it was planned against; a stale one comes back as 5010.
    ident = op.target.split(":", 1)[1]
    return BatchOp(
        entity,
        {**body, "Id": ident, "SyncToken": op.target_version, "sparse": True},
        key=_intent(op),
        operation="update",
    )


def _digest(op: Operation, body: Record) -> str:
    """The hash the next run compares with. A create sends the whole record, so the hash of
    what was sent (placeholders resolved) is it; an update sends only the changed fields,
    so the planner's hash of the whole record stands."""
    if op.action == "create" and not op.reverse:
        return content_hash(body)
    return op.content_hash


def _writes_last(operations: list[Operation]) -> list[Operation]:
    """Within each mapping's stretch of the plan, the records left alone go first, so that
    the writes stand together and fill whole batches; the order between mappings (their
    dependencies) is kept."""
    ordered: list[Operation] = []
    stretch: list[Operation] = []
    for op in operations:
        if stretch and op.mapping != stretch[0].mapping:
            ordered.extend(sorted(stretch, key=lambda o: o.writes))
            stretch = []
        stretch.append(op)
    ordered.extend(sorted(stretch, key=lambda o: o.writes))
    return ordered


def _intent(op: Operation) -> str:
    """The same write gets the same intent on every run (and so the same requestid and
    Idempotency-Key): a record is created once; an update is keyed by the version it
    changes."""
    if op.action == "create":
        return f"{op.mapping}:{op.record}:create"
    return f"{op.mapping}:{op.record}:{op.action}:{op.target}:{op.target_version}"


def _intent_row(op: Operation) -> Intent:
    return Intent(_intent(op), op.action, op.target, _before(op))


def _before(op: Operation) -> str:
    """What `undo` needs: the record written (the source side when writing back) and the
    values its changed fields had before."""
    written = op.record if op.reverse else op.target
    fields = {path: change[0] for path, change in op.diff.items()} if op.action != "create" else {}
    return wire.dumps({"written": written, "fields": fields})


def _describe(op: Operation) -> str:
    if op.action == "void":
        return f"voided {op.record if op.reverse else op.target} ({op.message})"
    if op.action == "create":
        return f"created {op.target}" + (f"; {op.message}" if op.message else "")
    reactivated = (
        ", reactivated (it was inactive in QBO)"
        if op.diff.get("Active", [None, None])[1] is True
        else ""
    )
    if op.action == "link":
        return (
            f"linked to the existing {op.target}"
            + (f", {len(op.diff)} field(s) updated" if op.diff else "")
            + reactivated
        )
    side = "TPS" if op.reverse else "the target"
    return f"updated {side}: {', '.join(op.diff) or 'no field changes'}{reactivated}"


def _guard(entity: str, body: Record) -> NaturalKey | None:
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


def _resolve(value: Any, created: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith(PENDING):
        record = value.removeprefix(PENDING)
        if record not in created:
            raise Unresolved(record)
        return created[record]
    if isinstance(value, dict):
        return {k: _resolve(v, created) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, created) for v in value]
    return value
