"""A firm's working session: its rules, its state, and clients for both systems. Each CLI
command is one method here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from tpsqbo_engine.connectors.qbo.auth import QboAuth
from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.qbo.limits import Limiter, Limits
from tpsqbo_engine.connectors.qbo.tokens import TokenStore
from tpsqbo_engine.connectors.tps.client import TpsClient, TpsSource
from tpsqbo_engine.connectors.tps.contract import API_PREFIX, RESOURCES, TpsContract
from tpsqbo_engine.connectors.tps.filebooks import FileBooks
from tpsqbo_engine.errors import ConnectorError, EngineError, UsageError
from tpsqbo_engine.ruleset.model import RuleSet, load_ruleset
from tpsqbo_engine.sync.checks import CheckResult, qbo_entities, run_checklist, take_backup
from tpsqbo_engine.sync.config import FirmConfig
from tpsqbo_engine.sync.executor import Executor, Progress
from tpsqbo_engine.sync.firmfiles import open_state, read_pins, same_environment
from tpsqbo_engine.sync.incremental import read_for_run
from tpsqbo_engine.sync.keyed import add_keyed
from tpsqbo_engine.sync.links import pair_of
from tpsqbo_engine.sync.lock import locked
from tpsqbo_engine.sync.mirror import Mirror, Written
from tpsqbo_engine.sync.plan import Plan
from tpsqbo_engine.sync.plan_input import PlanInput
from tpsqbo_engine.sync.planner import OUT_OF_SCOPE, Planner, version_of
from tpsqbo_engine.sync.reconcile import Balance, reconcile
from tpsqbo_engine.sync.referenced import links_of, named
from tpsqbo_engine.sync.snapshot import (
    ALWAYS_WHOLE,
    Snapshot,
    entities_used,
)


class ChecklistFailed(EngineError):
    def __init__(self, failed: list[CheckResult]) -> None:
        super().__init__(
            f"the initial sync is refused: {len(failed)} check(s) failed "
            f"({', '.join(c.id for c in failed)})",
            hint="run `tpsqbo-engine checklist` and fix them, or pass "
            "--force --reason '...' (recorded in the history)",
        )
        self.failed = failed


class StalePlan(EngineError):
    def __init__(self, records: list[str]) -> None:
        super().__init__(
            f"{len(records)} target record(s) changed since the plan was made "
            f"(first: {records[0]})",
            hint="make a new plan and review it",
        )


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    phase: str
    counts: dict[str, int]
    forced_reason: str = ""
    new_failures: int = 0  # Failed records not already failing, the same way, before
    notes: tuple[str, ...] = ()  # how the run read and where the next one starts


class Session:
    def __init__(self, config: FirmConfig) -> None:
        if len(config.rules) != 1:
            raise UsageError("give one rule pack in `rules:`; combine packs with `extends`")
        self.config = config
        self.rules: RuleSet = load_ruleset(config.rules[0])
        self.state = open_state(config.state)
        self.reconciled_from = ""  # where the last reconcile took QBO's side from

    # Connections are made when first used: commands that read only the state (history,
    # explain's past, ignore, unignore, report) need no credentials.
    @cached_property
    def tps(self) -> TpsSource:
        return self._tps_client()

    @cached_property
    def qbo(self) -> QboClient:
        return self._qbo_client()

    def unconnected(self) -> str:
        """Why the connections cannot be made (a missing credential), or ''."""
        try:
            self._tps_client()
            self._qbo_client()
        except (UsageError, ConnectorError) as missing:  # no token, or never connected
            return missing.message
        return ""

    def _linked_payments(self) -> set[str]:
        """The TPS payments the sync has linked: on sheets, one edited in TPS keeps its id."""
        pairs = {pair_of(m) for m in self.rules.mappings if "tps.Payment" in (m.source, m.target)}
        return {row["tps_id"] for pair in pairs for row in self.state.links(pair)}

    def _tps_client(self) -> TpsSource:
        settings = self.config.tps
        if settings.connection == "files":
            if settings.folder is None or not settings.folder.is_dir():
                raise UsageError(
                    "tps.connection is files, but tps.folder is not a folder",
                    hint="set tps.folder to the folder of TPS export sheets",
                )
            return FileBooks(
                settings.folder, self.config.firm, settings.encoding, self._linked_payments
            )
        token = os.environ.get(settings.token_env, "")
        if not token:
            raise UsageError(
                f"no TPS token in {settings.token_env}", hint=f"export {settings.token_env}"
            )
        paths = {r: settings.paths.get(r, f"{API_PREFIX}/{r}") for r in RESOURCES}
        return TpsClient(settings.base_url, token, TpsContract(paths, settings.fields))

    def _qbo_client(self) -> QboClient:
        settings = self.config.qbo
        secret = os.environ.get(settings.client_secret_env, "")
        if not secret:
            raise UsageError(
                f"no QBO client secret in {settings.client_secret_env}",
                hint=f"export {settings.client_secret_env}",
            )
        limits = Limits.parse(settings.limits)
        store = TokenStore(settings.token_file)
        same_environment(store, settings.environment, self.config.path)
        return QboClient(
            QboAuth(store, secret),
            limiter=Limiter(limits) if limits else None,
        )

    # Reading and planning -------------------------------------------------------------------
    @property
    def phase(self) -> str:
        done = [
            r
            for r in self.state.runs(100)
            if r["status"] in ("completed", "partial") and r["phase"] not in ("undo", "reconcile")
        ]
        return "ongoing" if done else "initial"

    def snapshot(self, *, whole: bool = False) -> Snapshot:
        """What to plan from: everything on the initial run (or when asked), else the
        lists plus what changed since the cursors, with the partners of those changes
        (engine/sync/incremental.py)."""
        return read_for_run(self, whole=whole)

    def pins(self) -> dict[tuple[str, str], str]:
        """(mapping, source id) -> target id or "new", from the pins file, which is checked
        against schemas/pins.schema.json and the rules' mappings first."""
        return read_pins(self.config.pins, {m.id for m in self.rules.mappings})

    def plan(
        self, snapshot: Snapshot | None = None, elsewhere: Snapshot | None = None
    ) -> tuple[Plan, Snapshot]:
        """`elsewhere`: what a chunk's plan does not decide, for match keys to find and name
        (engine/sync/planner.py, PlanInput)."""
        pins = self.pins()  # a broken pins file is found before both systems are read
        snapshot = snapshot or self.snapshot()
        planner = self._planner(snapshot, pins, elsewhere)
        plan = planner.plan()
        # A record a rule reached by a key it computes, unread by this run: read and plan
        # again, once (engine/sync/keyed.py). The initial sync holds every record, and
        # its chunks each other's (`elsewhere`): one reads none of another's.
        missed = planner.resolver.missed
        ongoing = bool(missed) and elsewhere is None and self.phase == "ongoing"
        if ongoing and add_keyed(self, snapshot, missed):
            plan = self._planner(snapshot, pins, elsewhere).plan()
        return plan, snapshot

    def _planner(
        self, snapshot: Snapshot, pins: dict[tuple[str, str], str], elsewhere: Snapshot | None
    ) -> Planner:
        # The links and history rows of what the records hold and name, not of every record
        # the firm has (engine/sync/referenced.py); a firm's first plan has none to look up.
        ids = named(snapshot) if self.state.holds_history() else set()
        phase = self.phase
        given = PlanInput(
            self.rules,
            snapshot,
            links_of(self.rules, self.state, ids),
            phase,
            self.state.ignored(),
            pins,
            {
                record: why
                for record, why in self.state.left_out_initially(ids).items()
                if not why.startswith(OUT_OF_SCOPE)
            },
            self.state.reported_exclusions(ids) if phase == "ongoing" else frozenset(),
            failed=self.state.failing() if phase == "ongoing" else frozenset(),
            elsewhere=elsewhere,
        )
        return Planner(given)

    # Commands -------------------------------------------------------------------------------
    def checklist(self, plan: Plan | None = None) -> list[CheckResult]:
        plan = plan or self.plan()[0]
        return run_checklist(self.rules, plan, self.state, self.qbo)

    def backup(self) -> Path:
        return take_backup(
            self.qbo,
            qbo_entities(entities_used(self.rules)),
            self.config.workdir / "backups",
            self.state,
        )

    @locked
    def sync(
        self,
        *,
        given: Plan | None = None,
        force_reason: str = "",
        progress: Progress | None = None,
        only: frozenset[str] | None = None,
        render_to: Path | None = None,
        whole: bool = False,
    ) -> RunSummary:
        """Plans (or takes a reviewed plan) and applies it; `only` limits it to some records
        (`retry`); `whole` reads both systems whole instead of what changed."""
        read: Snapshot | None = self.snapshot(whole=True) if whole else None
        if given is None and only is None and not whole and self.phase == "initial":
            from tpsqbo_engine.sync.initial import initial_sync

            outcome = initial_sync(self, force_reason, progress)
            if not isinstance(outcome, Snapshot):  # a big firm, done a chunk at a time
                with self.stopping(outcome.run_id):
                    if render_to is not None:
                        self.render_run(outcome.run_id, render_to)
                    return self._finish(outcome.run_id, "initial", outcome.read, force_reason)
            read = outcome
        plan, snapshot = self.plan(read)
        if given is not None:
            self._check_still_current(given, snapshot)
            plan = given
        if only is not None:
            plan = Plan(
                plan.phase, [op for op in plan.operations if op.record in only], plan.created_at
            )
        if plan.phase == "initial":
            failed = [c for c in self.checklist(plan) if c.blocks]
            if failed and not force_reason:
                raise ChecklistFailed(failed)
            if self.state.latest_backup() is None:
                self.backup()  # never write to the books without a restore point
        # Planned: the records read are no longer needed, only where the reads reached.
        snapshot.tps.clear()
        snapshot.qbo.clear()
        run_id = self.state.start_run(plan.phase, force_reason)
        with self.stopping(run_id):
            executor = Executor(plan, self.rules, self.state, self.qbo, self.tps, run_id, progress)
            executor.written = written = self.seeing_writes()
            self.apply(executor)
            written.flush()
            if render_to is not None:
                self.render_run(run_id, render_to)
            return self._finish(run_id, plan.phase, snapshot, force_reason)

    def apply(self, executor: Executor) -> None:
        """Applies a plan (a chunk's, in a big firm's initial run), inside the run's
        `stopping`."""
        executor.apply()

    @contextmanager
    def stopping(self, run_id: int) -> Iterator[None]:
        """Whatever stops the run inside (an error, a bug, Ctrl-C, SIGTERM) marks it stopped
        before going on up: a run left `running` would read as still in progress forever."""
        try:
            yield
        except BaseException as stopped:
            try:
                self.state.finish_run(run_id, "stopped")
            except Exception as unrecorded:  # the state itself failing: keep the first error
                stopped.add_note(f"run {run_id} could not be marked stopped: {unrecorded}")
            raise

    def _finish(self, run_id: int, phase: str, read: Snapshot, force_reason: str) -> RunSummary:
        """Moves the cursors to where the run's reads reached, with its outcome."""
        with self.state.transaction():
            for entity, mark in read.tps_marks.items():
                self.state.move_cursor(f"tps.{entity}", mark, run_id)
            self.state.move_cursor("qbo", read.qbo_mark, run_id)
            if read.notes:
                self.state.db.table("runs").update(run_id, {"notes": "; ".join(read.notes)})
            self.state.reconsidered(self.state.to_reconsider())
            counts = self.state.finish_run(
                run_id,
                "completed" if not self.state.items(run_id, "Failed") else "partial",
            )
        return RunSummary(
            run_id, phase, counts, force_reason, self.new_failures(run_id), tuple(read.notes)
        )

    def customers_linked(self) -> set[str]:
        """QBO customers linked to a TPS client."""
        pairs = {pair_of(m) for m in self.rules.mappings if pair_of(m) == "Client|Customer"}
        return {row["qbo_id"] for pair in pairs for row in self.state.links(pair)}

    def watched(self) -> list[str]:
        """The QBO entities incremental runs read through CDC."""
        return sorted(
            name.split(".", 1)[1]
            for name in entities_used(self.rules)
            if name.startswith("qbo.") and name not in ALWAYS_WHOLE
        )

    def seeing_writes(self) -> Written:
        """Each QBO record a write left, for the mirror: a mirrored one as written, and the
        customers whose balances the written transactions moved, read again at the end."""
        return Written(Mirror(self.state), lambda ids: self.qbo.read_many("Customer", ids))

    def new_failures(self, run_id: int) -> int:
        """Failures of this run that are not the record's previous outcome repeated: a
        nightly run that meets only known, unchanged failures has nothing new to say."""
        from tpsqbo_engine.sync.failures import is_new

        new = 0
        for item in self.state.items(run_id, "Failed"):
            earlier = [i for i in self.state.items(record=item["record"]) if i["run_id"] < run_id]
            new += is_new(item, earlier)
        return new

    @staticmethod
    def _check_still_current(given: Plan, snapshot: Snapshot) -> None:
        """A reviewed plan applies only to the records as they were when it was made."""
        stale = []
        for op in given.writes():
            written = op.record if op.reverse else op.target
            if ":" not in written or not op.target_version:
                continue
            qualified, ident = written.split(":", 1)
            now = version_of(qualified, snapshot.find(qualified, ident))
            if now != op.target_version:
                stale.append(written)
        if stale:
            raise StalePlan(stale)

    def reconcile(self, snapshot: Snapshot | None = None) -> list[Balance]:
        snapshot = snapshot or self.snapshot(whole=True)
        clients = next((m for m in self.rules.mappings if m.source == "tps.Client"), None)
        links = (
            {r["tps_id"]: r["qbo_id"] for r in self.state.links(pair_of(clients))}
            if clients
            else {}
        )
        from datetime import date

        from tpsqbo_engine.sync.ar_report import REPORT, customer_balances
        from tpsqbo_engine.sync.reconcile import as_of
        from tpsqbo_engine.sync.scope import out_of_scope

        day = as_of(snapshot, date.today())
        report = customer_balances(self.qbo, day)
        self.reconciled_from = (
            f"QBO's {REPORT} report as of {day.isoformat()} (the latest transaction date "
            "either side holds, today at the earliest)"
            if report is not None
            else f"QBO's transactions of every date (the company does not answer the {REPORT} "
            "report)"
        )
        return reconcile(snapshot, links, report, out_of_scope(self.rules, snapshot, self.phase))

    def render_run(self, run_id: int, folder: Path) -> list[Path]:
        """Documents for every invoice the run wrote; a missing payment link is a Warning."""
        from tpsqbo_engine.expr import ExpressionError
        from tpsqbo_engine.sync.bindings import render_record, templates_for
        from tpsqbo_engine.sync.documents import Document, render_invoice, write_document

        written = []
        prefs = self.qbo.preferences().get("SalesFormsPrefs", {})
        for item in self.state.items(run_id, "Successful"):
            # Documents are bound by their template's `for:`, not by a mapping's name.
            qualified, _, ident = item["record"].partition(":")
            html = [t for t in templates_for(self, qualified) if t.format == "html"]
            if not html or item["mapping"] in ("render", "exclusions"):
                continue
            try:
                document = (
                    render_invoice(
                        self,
                        ident,
                        html[0].id,
                        payments_on=bool(prefs.get("ETransactionPaymentEnabled")),
                    )
                    if qualified == "tps.Invoice"
                    else Document(ident, render_record(self, html[0], ident), None, ())
                )
            except ExpressionError as failed:  # the pack's template: this document fails
                self.state.record_item(
                    run_id, item["record"], html[0].id, "render", "Failed", failed.message
                )
                continue
            written.append(write_document(document, folder))
            if document.warnings:
                self.state.record_item(
                    run_id,
                    item["record"],
                    "invoice-html",
                    "render",
                    "Warning",
                    "; ".join(document.warnings),
                )
        return written

    def failed_records(self) -> frozenset[str]:
        """Records whose latest outcome is Failed."""
        return self.state.latest_failed()

    def explain(self, record: str) -> list[dict[str, Any]]:
        return self.state.items(record=record)
