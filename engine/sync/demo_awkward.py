"""`tpsqbo-engine demo --firm awkward`: the awkward firm's books (see `awkward`), synced,
changed twice on both sides, and reconciled to exactly the differences the README
documents."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tpsqbo_engine.sync import render
from tpsqbo_engine.sync.awkward import (
    DOCUMENTED_DIFFERENCES,
    WALK_INS,
    Books,
    build_books,
)
from tpsqbo_engine.sync.awkward_weeks import round_one, round_two
from tpsqbo_engine.sync.report import write_report
from tpsqbo_engine.sync.session import Session

Echo = Callable[[str], None]


def _show_run(session: Session, run_id: int, echo: Echo, *, all_items: bool) -> None:
    for item in session.state.items(run_id):
        if all_items or item["status"] != "Successful":
            echo(f"    {item['status']:10} {item['record']}: {item['message']}")


def _week(session: Session, books: Books, echo: Echo, number: int) -> None:
    changes = (round_one if number == 1 else round_two)(session.tps, session.qbo, books)
    for line in changes:
        echo(f"  {line}")
    summary = session.sync()
    echo(
        f"  run {summary.run_id}: {render.counts_text(summary.counts)} "
        f"({summary.new_failures} new failures)"
    )
    _show_run(session, summary.run_id, echo, all_items=True)


def walk_through_awkward(session: Session, workdir: Path, echo: Echo) -> int:
    echo("\n1. The firm's books, built through both APIs")
    books = build_books(session.tps, session.qbo)
    echo(f"  TPS: {len(books.clients)} clients, {sum(map(len, books.invoices.values()))} invoices")
    echo(f"  QBO: {len(books.customers)} customers with history since 2023")
    echo("\n2. Backup, and the checklist once the firm has ignored what it looked at")
    echo(f"  {session.backup()}")
    for record, reason in books.ignored.items():
        session.state.ignore(record, reason)
        echo(f"  ignore {record} --reason '{reason}'")
    for line in render.checklist_text(session.checklist()):
        echo(f"  {line}")
    echo("\n3. Initial sync")
    first = session.sync()
    echo(f"  run {first.run_id}: {render.counts_text(first.counts)}")
    _show_run(session, first.run_id, echo, all_items=False)
    echo("\n4. A week passes")
    _week(session, books, echo, 1)
    echo("\n5. Another week")
    _week(session, books, echo, 2)
    echo("\n6. Sync again: nothing left to do")
    writes = session.plan()[0].writes()
    echo(f"  {len(writes)} write(s) planned")
    echo("\n7. Reconciliation: open A/R net of unapplied credits")
    rows = session.reconcile()
    for line in render.reconcile_text(rows):
        echo(f"  {line}")
    (workdir / "reconciliation.json").write_text(render.as_json(rows), encoding="utf-8")
    documented = {**DOCUMENTED_DIFFERENCES, **WALK_INS}
    differing = {r.client if r.client != "(not in TPS)" else r.name for r in rows if r.difference}
    for who in sorted(differing):
        echo(f"  {who}: {documented.get(who, 'NOT DOCUMENTED')}")
    page = write_report(session, None, workdir / "report.html")
    echo(f"  the last run as a page for the bookkeeper: {page}")
    return 0 if differing == set(documented) and not writes else 1
