"""What applying a plan records: each write's intent in the journal before its call, and
after it the outcome, the link between the two records and the history row, held in
`pending` until the next commit (see executor.py for when that is).

A write gets the same intent key on every run; each attempt of it is named by the journal
row it started with, and that name is its requestid and Idempotency-Key. A run resuming an
attempt that has no outcome carries the name on, so QBO and TPS answer it as the request
they may already have run; a write made again once its attempt concluded (failed, or undone)
is a new request, which they run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tpsqbo_engine import signals
from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.tps.client import TpsSource
from tpsqbo_engine.errors import ConnectorError, FatalConnectorError, SkippableConnectorError
from tpsqbo_engine.ruleset.model import MappingRule, RuleSet
from tpsqbo_engine.state import StateStore
from tpsqbo_engine.state_rows import Done, Intent, Item, Link, Outcome, Unfinished
from tpsqbo_engine.sync import before_image, refusals
from tpsqbo_engine.sync.links import pair_of, system_of
from tpsqbo_engine.sync.plan import Operation, Plan
from tpsqbo_engine.sync.runtime import content_hash

Record = dict[str, Any]
Progress = Callable[[int, int], None]


@dataclass
class Bookkeeping:
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
    # Intents earlier runs started and never concluded -> their open attempts
    earlier: dict[str, Unfinished] = field(default_factory=dict)
    # (pair, "tps"|"qbo", id) of a record this run's creates linked -> the record linked to it
    claimed: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._mappings = {m.id: m for m in self.rules.mappings}

    def mapping(self, mapping_id: str) -> MappingRule:
        return self._mappings[mapping_id]

    def attempt(self, op: Operation, journal: int) -> str:
        """The name of this attempt of the write (its requestid / Idempotency-Key): that of
        an earlier attempt left without an outcome, which this one carries on, else its
        own journal row's."""
        intent = intent_key(op)
        open_ = self.earlier.get(intent)
        return f"{intent}@{open_.journals[0] if open_ else journal}"

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

    def _commit_record(self, op: Operation, journal: int, record: Record, body: Record) -> None:
        """The write is done and `record` is the QBO record it left, sent as `body`."""
        self._commit(
            op,
            self.mapping(op.mapping),
            journal,
            record["Id"],
            str(record.get("SyncToken", "")),
            written_digest(op, body),
        )

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
        # A record found by its natural key (or matched) may be another record's already.
        linking = op.action in ("create", "link") and not op.reverse
        other = self._linked_elsewhere(op, mapping, target_id) if linking else ""
        if other:
            self._fail(
                op,
                journal,
                f"{_written_side(op)}:{target_id}, the record found for this {op.action}, is "
                f"already linked to {other}: not linked to a second record",
            )
            return
        self._link(op, mapping, target_id, version, digest)
        described = _describe(op)
        # A write the planner warns about (a payment part left unapplied) says so in its row.
        status = "Warning" if op.level == "Warning" else "Successful"
        if status == "Warning" and op.message not in described:
            described = f"{described}; {op.message}"
        self._report(op, status, described, f"{op.target.split(':')[0]}:{target_id}")
        entity = op.target.split(":", 1)[0].split(".", 1)[-1]
        left = self.left.pop(f"{entity}:{target_id}", "") if not op.reverse else ""
        self._conclude(op, Outcome(journal, "written", target_id, version, left))
        if op.action == "create":
            self.created[op.record] = target_id

    def _linked_elsewhere(self, op: Operation, mapping: MappingRule, target_id: str) -> str:
        """The other record the created one is linked to already (by this run or an earlier
        one), or '': a record found again by its natural key may be another write's."""
        pair, source_id = pair_of(mapping), op.record.split(":", 1)[1]
        side = system_of(mapping.target)
        other_side = "qbo" if side == "tps" else "tps"
        claim = self.claimed.get((pair, side, target_id))
        if claim is None:
            rows = self.state.links_of(pair, [target_id])
            mine = [str(r[f"{other_side}_id"]) for r in rows if r[f"{side}_id"] == target_id]
            claim = mine[0] if mine else None
        if claim is not None and claim != source_id:
            return f"{mapping.source}:{claim}"
        self.claimed[(pair, side, target_id)] = source_id
        return ""

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
        """A write that did not come back done. A create whose call may have reached QBO or
        TPS (it gave up retrying, or lost the answer) is left unconcluded, not failed: the
        next run carries the attempt on, looking a QBO record up by its natural key before
        sending the same request again, where a failed one would be a new request, and
        would create the record twice."""
        error = refusals.explained(self.qbo, op, error)  # QBO keeps a record others depend on
        message = error.message if isinstance(error, ConnectorError) else str(error)
        fatal = isinstance(error, FatalConnectorError)  # no answer about this write
        if op.action == "create" and not fatal and not isinstance(error, SkippableConnectorError):
            message += "; it may have been written: the next run " + (
                "looks for it first" if op.target.startswith("qbo.") else "sends the same request"
            )
            self._report(op, "Failed", message)
            signals.write_left_open(journal)
            return
        self._fail(op, journal, message, settles=not fatal)

    def _fail(self, op: Operation, journal: int, message: str, *, settles: bool = True) -> None:
        """The write failed. `settles` False when the service said nothing about it (it was
        not sent, or the connection is gone): an earlier attempt left open stays open, as it
        may still have been written."""
        self._report(op, "Failed", message)
        if settles:
            self._conclude(op, Outcome(journal, "failed"))
        else:
            self.pending.outcomes.append(Outcome(journal, "failed"))

    def _conclude(self, op: Operation, outcome: Outcome) -> None:
        """The outcome of this run's attempt, which also settles the earlier attempts it
        carried on: the next write of the record is a new request."""
        self.pending.outcomes.append(outcome)
        for intent in _settled_by(op):
            open_ = self.earlier.pop(intent, None)
            for journal in open_.journals if open_ else ():
                self.pending.outcomes.append(Outcome(journal, "resumed", outcome.result_id))

    def _report(self, op: Operation, status: str, message: str, target: str = "") -> None:
        """The history row of the operation's record (its target unless another is named)."""
        row = Item(op.record, op.mapping, op.action, status, message, op.rule, target or op.target)
        self.pending.items.append(row)


def written_digest(op: Operation, body: Record) -> str:
    """The hash the next run compares with. A create sends the whole record, so the hash of
    what was sent (placeholders resolved) is it; an update sends only the changed fields,
    so the planner's hash of the whole record stands."""
    if op.action == "create" and not op.reverse:
        return content_hash(body)
    return op.content_hash


def intent_key(op: Operation) -> str:
    """The same write gets the same intent on every run, so a run finds the attempts earlier
    runs left open: a record is created once; an update is keyed by the version it
    changes."""
    if op.action == "create":
        return f"{op.mapping}:{op.record}:create"
    return f"{op.mapping}:{op.record}:{op.action}:{op.target}:{op.target_version}"


def _settled_by(op: Operation) -> tuple[str, ...]:
    """The intents an outcome settles: its own; a link settles the record's create too (a
    create whose answer was lost, which a later run found in QBO and linked)."""
    if op.action == "link":
        return intent_key(op), f"{op.mapping}:{op.record}:create"
    return (intent_key(op),)


def intent_row(op: Operation) -> Intent:
    return Intent(intent_key(op), op.action, op.target, _before(op))


def _before(op: Operation) -> str:
    """What `undo` needs: the record written (the source side when writing back) and the
    values its changed fields had before."""
    written = op.record if op.reverse else op.target
    fields = {path: change[0] for path, change in op.diff.items()} if op.action != "create" else {}
    return before_image.dumps(written, fields)  # amounts as exact text, never floats


def _written_side(op: Operation) -> str:
    return (op.record if op.reverse else op.target).split(":", 1)[0]


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
