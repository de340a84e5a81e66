"""`tpsqbo-engine demo --watch`: the demo firm with the watcher running, and one client
paying online through the link in a rendered invoice. It prints the moment the payment
lands in TPS and how long after the payment that was."""

from __future__ import annotations

import html
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import requests

from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer
from tpsqbo_engine.emulators.qbo.webhooks import WebhookSender
from tpsqbo_engine.sync.config import load_config
from tpsqbo_engine.sync.demo import DEMO_FILES, demo_firm
from tpsqbo_engine.sync.session import Session
from tpsqbo_engine.watch.watcher import VERIFIER_ENV, Watcher, WatchOptions

Echo = Callable[[str], None]


def open_session(config: Path) -> Session:
    return Session(load_config(config))


@contextmanager
def watching(
    session: Session, qbo: QboEmulatorServer, options: WatchOptions, webhook_format: str = "legacy"
) -> Iterator[Watcher]:
    """A watcher for the firm on its own thread, the emulator's webhooks pointed at it."""
    verifier = os.environ.setdefault(VERIFIER_ENV, secrets.token_urlsafe(24))
    watcher = Watcher(options, open_session)
    failed: list[BaseException] = []

    def serve() -> None:
        try:
            watcher.serve()
        except BaseException as error:  # handed to the caller's thread below
            failed.append(error)
            watcher.stopping.set()  # it died: whoever waits on it stops waiting
            watcher.ready.set()

    thread = threading.Thread(target=serve, name="watcher", daemon=True)
    thread.start()
    watcher.ready.wait(30)
    if failed:
        raise failed[0]
    url = f"http://127.0.0.1:{watcher.port}/webhooks"
    sender = WebhookSender(url, verifier, session.qbo.realm_id, webhook_format)
    sender.start()
    qbo.company.listeners.append(sender)
    try:
        yield watcher
    finally:
        if sender in qbo.company.listeners:
            qbo.company.listeners.remove(sender)
        sender.stop()
        watcher.stop()
        thread.join(timeout=120)
    if failed:
        raise failed[0]


def payable_invoices(session: Session, folder: Path) -> Iterator[tuple[str, str]]:
    """Rendered TPS invoices with a "Pay online" link and a balance: (id, link)."""
    invoices = {i["id"]: i for i in session.tps.records("invoices")}
    for document in sorted(folder.glob("*.html")):
        found = re.search(r'<a href="([^"]+)">Pay online</a>', document.read_text())
        invoice = invoices.get(document.stem)
        if found and invoice and Decimal(str(invoice["balance"])) > 0:
            yield document.stem, html.unescape(found.group(1))


def payable_invoice(session: Session, folder: Path, skip: int = 0) -> tuple[str, str]:
    for n, found in enumerate(payable_invoices(session, folder)):
        if n == skip:
            return found
    raise LookupError(f"no rendered invoice with a payment link and a balance in {folder}")


def wait_until_paid(session: Session, invoice_id: str, timeout: float = 60.0) -> float | None:
    """Polls TPS until the invoice shows paid; answers the monotonic moment, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Decimal(str(session.tps.get("invoices", invoice_id)["balance"])) == 0:
            return time.monotonic()
        time.sleep(0.1)
    return None


def wait_idle(watcher: Watcher, runs: int, timeout: float = 60.0) -> None:
    """Until the watcher has finished `runs` runs and has none in flight."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(watcher.metrics.runs.values()) >= runs and not watcher.metrics.running:
            return
        time.sleep(0.05)
    raise TimeoutError(f"the watcher did not finish {runs} run(s) in {timeout} s")


def run_watch_demo(
    workdir: Path, echo: Echo, debounce: float = 3.0, rules: Path | None = None
) -> int:
    """The demo firm with the standard pack, or with `rules` (a pack folder)."""
    for name in (*DEMO_FILES, "reports"):
        path = workdir / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    pack = str(rules.resolve()) if rules is not None else "tps-qbo-standard"
    with demo_firm(workdir, rules=pack) as (session, qbo, tps):
        echo(f"TPS emulator at {tps.base_url}, QBO emulator at {qbo.base_url}")
        session.backup()
        first = session.sync(render_to=workdir / "invoices")
        echo(f"Initial sync: run {first.run_id}, invoice documents in {workdir / 'invoices'}")
        options = WatchOptions(session.config.path, port=0, debounce=debounce)
        with watching(session, qbo, options) as watcher:
            echo(f"Watcher at http://127.0.0.1:{watcher.port} (webhooks, /healthz, /metrics)")
            wait_idle(watcher, 1)
            invoice, link = payable_invoice(session, workdir / "invoices")
            paid_at = time.monotonic()
            answer = requests.post(link, params={"format": "json"}, timeout=10)
            amount = Decimal(str(answer.json(parse_float=Decimal)["Payment"]["TotalAmt"]))
            echo(
                f"{_clock()} the client paid {amount:.2f} online through the link in {invoice}.html"
            )
            landed = wait_until_paid(session, invoice)
            if landed is None:
                echo("the payment did not reach TPS within 60 s")
                return 1
            echo(
                f"{_clock()} TPS shows {invoice} paid: {landed - paid_at:.1f} s after the "
                f"payment (debounce {debounce:g} s)"
            )
            wait_idle(watcher, 2)
            metrics = requests.get(f"http://127.0.0.1:{watcher.port}/metrics", timeout=5).text
            echo("from /metrics:")
            for line in metrics.splitlines():
                if line.startswith(
                    ("tpsqbo_runs_total", "tpsqbo_qbo_api_calls", "tpsqbo_webhook_n")
                ):
                    echo(f"  {line}")
    return 0


def _clock() -> str:
    return datetime.now().astimezone().strftime("%H:%M:%S.%f")[:-3]
