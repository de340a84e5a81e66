"""`tpsqbo-engine demo`: the whole job on a laptop, against both emulators, no credentials.

It starts the TPS emulator (the demo firm) and the QBO emulator (a new company set up for
TPS), connects through the real OAuth flow, writes a firm config, runs checklist → backup →
plan → sync, then changes both sides the way a firm's week does (an invoice raised in QBO, a
client paying online through the invoice link, a phone number edited in QBO, a new TPS
invoice, an email edited in TPS), syncs again, and shows the history and the
reconciliation, which must come out at zero. Everything it made stays in the work folder.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from tpsqbo_engine.connectors.qbo.connect import ConnectSettings, connect
from tpsqbo_engine.connectors.qbo.queries import NaturalKey
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer, QboOptions
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer, TpsOptions
from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.sync import render
from tpsqbo_engine.sync.config import load_config
from tpsqbo_engine.sync.report import write_report
from tpsqbo_engine.sync.session import Session

Echo = Callable[[str], None]


def _visit(url: str) -> None:
    """Stands in for the user's browser: the emulator consents and redirects at once."""
    requests.get(url, timeout=10)


def _config(
    workdir: Path,
    tps: TpsEmulatorServer,
    qbo: QboEmulatorServer,
    limits: str = "off",
    rules: str = "tps-qbo-standard",
) -> Path:
    path = workdir / "tpsqbo.yaml"
    path.write_text(
        "# The demo firm, written by `tpsqbo-engine demo`.\n"
        "kind: firm\n"
        f"firm: {json.dumps(tps.firm.firm['name'])}\n"
        f"rules: [{json.dumps(rules)}]\n"
        f"tps: {{connection: http, base_url: '{tps.base_url}'}}\n"
        f"qbo: {{environment: '{qbo.discovery_url}', limits: '{limits}'}}\n",
        encoding="utf-8",
    )
    return path


def _payable_document(session: Session, workdir: Path) -> tuple[Path, str]:
    """A rendered invoice with a "Pay online" link and a balance still to pay."""
    invoices = {i["id"]: i for i in session.tps.records("invoices")}
    for document in sorted((workdir / "invoices").glob("*.html")):
        found = re.search(r'<a href="([^"]+)">Pay online</a>', document.read_text())
        invoice = invoices.get(document.stem)
        if not found or invoice is None:
            continue
        pushed = session.qbo.find("Invoice", NaturalKey("DocNumber", invoice["doc_number"]))
        if pushed and pushed["Balance"] == invoice["balance"] > 0:
            return document, html.unescape(found.group(1))
    raise AssertionError("no rendered invoice carries a payment link")


def _week_in_qbo(session: Session, echo: Echo, workdir: Path) -> None:
    qbo = session.qbo
    customer = qbo.query("SELECT * FROM Customer WHERE DisplayName = 'Red Rock Diner'")[0]
    item = qbo.query("SELECT * FROM Item WHERE Name = 'Business advisory'")[0]
    invoice = qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "DocNumber": "Q-5001",
            "BillEmail": {"Address": customer["PrimaryEmailAddr"]["Address"]},
            "Line": [
                {
                    "Amount": Decimal("450.00"),
                    "DetailType": "SalesItemLineDetail",
                    "Description": "Advisory call raised in QBO",
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": item["Id"]},
                        "Qty": 1,
                        "UnitPrice": Decimal("450.00"),
                        "TaxCodeRef": {"value": "NON"},
                    },
                }
            ],
        },
        key="demo-q5001",
    )
    echo(
        f"  QBO: invoice {invoice['DocNumber']} raised for {customer['DisplayName']} "
        f"({Decimal(str(invoice['TotalAmt'])):.2f})"
    )
    document, link = _payable_document(session, workdir)
    (workdir / "paid-invoice.txt").write_text(document.stem, encoding="utf-8")
    answer = requests.post(link, params={"format": "json"}, timeout=10)
    paid = answer.json(parse_float=Decimal)["Payment"]
    echo(
        f"  QBO: the client opened {document.name} and paid online through its link "
        f"({paid['TotalAmt']:.2f})"
    )
    edited = qbo.query("SELECT * FROM Customer WHERE DisplayName = 'Blue Heron Yoga'")[0]
    qbo.update("Customer", edited["Id"], {"PrimaryPhone": {"FreeFormNumber": "(503) 555-7777"}})
    echo("  QBO: Blue Heron Yoga's phone number changed to (503) 555-7777")


def november_invoice(client_id: str) -> dict[str, Any]:
    """The week's new TPS invoice: a month of bookkeeping for `client_id`."""
    return {
        "client_id": client_id,
        "date": "2026-11-21",
        "due_date": "2026-12-21",
        "type": "detail",
        "description": "November bookkeeping",
        "lines": [
            {
                "line_no": 1,
                "work_code": "BK-MONTH",
                "description": "Monthly bookkeeping",
                "amount": Decimal("380.00"),
                "markup": Decimal("0.00"),
            }
        ],
    }


def _week_in_tps(session: Session, echo: Echo) -> None:
    tps = session.tps
    client = next(c for c in tps.records("clients") if c["name"] == "Garcia Landscaping")
    invoice = tps.create("invoices", november_invoice(client["id"]), key="demo-tps-inv")
    echo(f"  TPS: invoice {invoice['doc_number']} billed to {client['name']} ({invoice['total']})")
    other = next(c for c in tps.records("clients") if c["name"] == "Juniper Hill Farm")
    tps.update(
        "clients", other["id"], {"email": "accounts@juniperhill.example"}, version=other["version"]
    )
    echo("  TPS: Juniper Hill Farm's billing email changed")


def _history_json(session: Session, path: Path) -> None:
    runs = session.state.runs()
    data: dict[str, Any] = {
        "runs": runs,
        "items": {r["id"]: session.state.items(r["id"]) for r in runs},
    }
    path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")


@contextmanager
def demo_firm(
    workdir: Path,
    *,
    qbo_seed: str = "starter",
    faults: str = "",
    tps_seed: str = "demo",
    limits: str = "off",
    rules: str = "tps-qbo-standard",
) -> Iterator[tuple[Session, QboEmulatorServer, TpsEmulatorServer]]:
    """Both emulators, connected through OAuth, with a firm config in `workdir`. `limits`
    throttles the QBO emulator and paces the client alike (`scale=N` for benchmarks)."""
    workdir.mkdir(parents=True, exist_ok=True)
    qbo_options = QboOptions(
        seed=qbo_seed, state=workdir / "qbo-emulator.json", faults=faults, limits=limits
    )
    tps_options = TpsOptions(seed=tps_seed, state=workdir / "tps-emulator.json")
    with QboEmulatorServer(qbo_options) as qbo, TpsEmulatorServer(tps_options) as tps:
        os.environ["TPSQBO_TPS_TOKEN"] = tps.app.token
        os.environ["TPSQBO_QBO_CLIENT_SECRET"] = qbo.oauth.client_secret
        config = load_config(_config(workdir, tps, qbo, limits, rules))
        connect(
            ConnectSettings(
                qbo.oauth.client_id,
                qbo.oauth.client_secret,
                qbo.discovery_url,
                "http://127.0.0.1:0/callback",  # the listener binds a free port itself
                config.qbo.token_file,
            ),
            announce=_visit,
            timeout=30,
        )
        yield Session(config), qbo, tps


DEMO_FILES = (
    "qbo-emulator.json",
    "tps-emulator.json",
    "tpsqbo.yaml",
    "plan.json",
    "history.json",
    "reconciliation.json",
    "report.html",
    "invoices",
    "paid-invoice.txt",
    ".tpsqbo",
)


def _start_afresh(workdir: Path) -> None:
    """A second demo starts over: only what an earlier demo made is removed."""
    for name in DEMO_FILES:
        path = workdir / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


FIRMS = ("demo", "awkward")


def run_demo(workdir: Path, echo: Echo, firm: str = "demo", rules: Path | None = None) -> int:
    """The demo firm, or the awkward firm (`awkward`): books as a real practice has them;
    with the standard pack, or with `rules` (a pack folder) to watch its effect."""
    if firm not in FIRMS:
        raise UsageError(f"--firm is demo or awkward, not {firm!r}")
    _start_afresh(workdir)
    seeds = {"tps_seed": "empty"} if firm == "awkward" else {}
    pack = str(rules.resolve()) if rules is not None else "tps-qbo-standard"
    with demo_firm(workdir, rules=pack, **seeds) as (session, qbo, tps):
        echo(f"TPS emulator at {tps.base_url}, QBO emulator at {qbo.base_url}")
        echo(
            f"Connected to QBO company {qbo.company.realm_id} through OAuth (tokens in "
            f"{session.config.qbo.token_file}, 0600)"
        )
        if firm == "awkward":
            from tpsqbo_engine.sync.demo_awkward import walk_through_awkward

            return walk_through_awkward(session, workdir, echo)
        return _walk_through(session, workdir, echo)


def _walk_through(session: Session, workdir: Path, echo: Echo) -> int:
    echo("\n1. Checklist")
    plan, _ = session.plan()
    for line in render.checklist_text(session.checklist(plan)):
        echo(f"  {line}")
    echo("\n2. Backup")
    echo(f"  {session.backup()}")
    echo("\n3. Plan")
    plan, _ = session.plan()
    (workdir / "plan.json").write_text(plan.to_json(), encoding="utf-8")
    for line in render.plan_text(plan, detail=False)[:14]:
        echo(f"  {line}")
    echo(f"  (every write and diff: {workdir / 'plan.json'})")
    echo("\n4. Initial sync")
    first = session.sync(given=plan, render_to=workdir / "invoices")
    echo(f"  run {first.run_id}: {render.counts_text(first.counts)}")
    documents = sorted((workdir / "invoices").glob("*.html"))
    without = session.state.items(first.run_id, "Warning")
    echo(
        f"  {len(documents)} invoice documents in {workdir / 'invoices'}, "
        f"{len(documents) - len(without)} with a 'Pay online' link; "
        f"{len(without)} without, each with the reason in the history"
    )
    echo("\n5. A week passes")
    _week_in_qbo(session, echo, workdir)
    _week_in_tps(session, echo)
    echo("\n6. Sync")
    second = session.sync()
    echo(f"  run {second.run_id}: {render.counts_text(second.counts)}")
    for item in session.state.items(second.run_id):
        echo(f"    {item['status']:10} {item['record']}: {item['message']}")
    paid_id = (workdir / "paid-invoice.txt").read_text(encoding="utf-8")
    paid = session.tps.get("invoices", paid_id)
    in_qbo = session.qbo.find("Invoice", NaturalKey("DocNumber", paid["doc_number"])) or {}
    payments = [p for p in session.tps.records("payments") if p["source"] == "qbo_online"]
    echo(
        f"  {paid['doc_number']} paid online: TPS balance {paid['balance']} ({paid['status']}, "
        f"payment {payments[-1]['id']} from QuickBooks Payments), QBO balance "
        f"{Decimal(str(in_qbo['Balance'])):.2f}"
    )
    echo("\n7. Sync again: nothing left to do")
    third_plan, _ = session.plan()
    echo(f"  {len(third_plan.writes())} write(s) planned")
    _history_json(session, workdir / "history.json")
    echo("\n8. Reconciliation: open A/R per client")
    rows = session.reconcile()
    lines = render.reconcile_text(rows)
    for line in [*lines[:1], *lines[-2:]]:
        echo(f"  {line}")
    (workdir / "reconciliation.json").write_text(render.as_json(rows), encoding="utf-8")
    differences = [r for r in rows if r.difference]
    page = write_report(session, None, workdir / "report.html")
    echo(f"  the run as a page for the bookkeeper: {page}")
    echo(
        f"\nEverything is in {workdir}: tpsqbo.yaml, .tpsqbo/state.db, backups, plan.json, "
        "history.json, reconciliation.json, report.html"
    )
    return 0 if not differences and not third_plan.writes() else 1
