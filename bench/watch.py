"""Online payments reaching TPS through the watcher: latency and QBO calls per notification.

The TPS emulator (`large:N`), the QBO emulator (with Intuit's real limits, webhooks pointed
at the watcher) and `tpsqbo-engine watch` (default debounce) each run in their own process.
After the initial sync, clients pay --payments open invoices through their payment links,
spread evenly over --seconds. Prints:

- webhook-to-TPS latency (payment made -> TPS shows the invoice paid): median and p95,
  against a single payment's latency measured first, with the watcher idle (the baseline);
- the watcher's QBO API calls per payment (QBO announces the payment and the invoice it
  pays, two changes), against the calls one incremental sync takes (what a run per
  payment would cost), measured in the same run, and against the target of fewer than
  one call (one CDC call) per payment.

    python bench/watch.py [--payments 100] [--seconds 60] [--clients 30]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from tpsqbo_engine.connectors.qbo.connect import ConnectSettings, connect
from tpsqbo_engine.sync.config import load_config
from tpsqbo_engine.sync.session import Session

ENGINE = [sys.executable, "-m", "tpsqbo_engine"]


def reserved_port() -> socket.socket:
    """A loopback port held for the watcher, which cannot bind port 0 here: the QBO
    emulator is told its webhook URL when it starts, before the watcher can. The socket is
    bound with SO_REUSEADDR and never listens, so on Linux the watcher (waitress sets
    SO_REUSEADDR too) can bind the port while it is held, and nothing else can take it in
    between, as it could a port found free and closed."""
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", 0))
    return holder


def emulator(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    process = subprocess.Popen(
        [*ENGINE, "emulate", *args, "--port", "0", "--print-json"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())


def firm(folder: Path, tps: dict[str, Any], qbo: dict[str, Any]) -> Session:
    os.environ["TPSQBO_TPS_TOKEN"] = tps["token"]
    os.environ["TPSQBO_QBO_CLIENT_SECRET"] = qbo["client_secret"]
    config = folder / "tpsqbo.yaml"
    config.write_text(
        "kind: firm\nfirm: Bench CPAs\nrules: [tps-qbo-standard]\n"
        f"tps: {{connection: http, base_url: '{tps['base_url']}'}}\n"
        f"qbo: {{environment: '{qbo['discovery_url']}', limits: real}}\n",
        encoding="utf-8",
    )
    settings = load_config(config)
    connect(
        ConnectSettings(
            qbo["client_id"],
            qbo["client_secret"],
            qbo["discovery_url"],
            "http://127.0.0.1:0/callback",  # the listener binds a free port itself
            settings.qbo.token_file,
        ),
        announce=lambda url: requests.get(url, timeout=10),
        timeout=30,
    )
    return Session(settings)


def payment_links(session: Session, wanted: int) -> list[tuple[str, str]]:
    """(TPS invoice id, payment link) for open invoices QBO gives a link for."""
    links = {r["tps_id"]: r["qbo_id"] for r in session.state.links("Invoice|Invoice")}
    found = []
    for invoice in session.tps.records("invoices"):
        if Decimal(str(invoice["balance"])) <= 0 or invoice["id"] not in links:
            continue
        record = session.qbo.read("Invoice", links[invoice["id"]], include="invoiceLink")
        if record.get("InvoiceLink"):
            found.append((invoice["id"], record["InvoiceLink"]))
        if len(found) == wanted:
            break
    if len(found) < wanted:
        raise SystemExit(f"only {len(found)} payable invoices; pass more --clients")
    return found


class Landing:
    """Watches TPS (its `updated_since`, four times a second) for invoices turning paid."""

    def __init__(self, session: Session) -> None:
        self.session, self.landed, self.stop = session, {}, threading.Event()
        self.since = max(i["updated_at"] for i in session.tps.records("invoices"))
        self.landed: dict[str, float] = {}
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.25):
            for invoice in self.session.tps.records("invoices", self.since):
                if Decimal(str(invoice["balance"])) == 0:
                    self.landed.setdefault(invoice["id"], time.monotonic())

    def wait_for(self, ids: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(i in self.landed for i in ids):
            time.sleep(0.1)


def metric(port: int, name: str) -> float:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def pay(links: list[tuple[str, str]], seconds: float) -> dict[str, float]:
    paid = {}
    gap = seconds / max(len(links), 1)
    start = time.monotonic()
    for n, (invoice, link) in enumerate(links):
        time.sleep(max(0.0, start + n * gap - time.monotonic()))
        paid[invoice] = time.monotonic()
        requests.post(link, params={"format": "json"}, timeout=10).raise_for_status()
    return paid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=30)
    args = parser.parse_args()
    verifier = secrets.token_urlsafe(24)
    env = {**os.environ, "TPSQBO_WEBHOOK_VERIFIER": verifier}
    processes: list[subprocess.Popen[str]] = []
    with tempfile.TemporaryDirectory() as name, reserved_port() as held:
        port = int(held.getsockname()[1])
        folder = Path(name)
        try:
            tps_process, tps = emulator(["tps", "--seed", f"large:{args.clients}"], env)
            processes.append(tps_process)
            qbo_process, qbo = emulator(
                ["qbo", "--seed", "starter", "--limits", "real",
                 "--webhook-url", f"http://127.0.0.1:{port}/webhooks",
                 "--webhook-verifier", verifier],
                env,
            )  # fmt: skip
            processes.append(qbo_process)
            session = firm(folder, tps, qbo)
            session.backup()
            session.sync()
            links = payment_links(session, args.payments + 1)
            env.update(TPSQBO_TPS_TOKEN=tps["token"], TPSQBO_QBO_CLIENT_SECRET=qbo["client_secret"])
            log = (folder / "watch.log").open("w")
            processes.append(
                subprocess.Popen(
                    [
                        *ENGINE,
                        "watch",
                        "-c",
                        str(folder / "tpsqbo.yaml"),
                        "--port",
                        str(port),
                        "--log-format",
                        "json",
                    ],
                    env=env,
                    stderr=log,
                )
            )
            measure(session, port, links, args)
        finally:
            for process in reversed(processes):
                process.terminate()
                process.wait(timeout=60)
            for process in processes:
                if process.stdout is not None:
                    process.stdout.close()


def measure(session: Session, port: int, links: list[tuple[str, str]], args: Any) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the watcher's run on start is over
        try:
            if metric(port, "tpsqbo_last_success_timestamp_seconds") > 0:
                break
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    landing = Landing(session)
    single = pay(links[:1], 0)
    landing.wait_for(list(single), 60)
    baseline = landing.landed[links[0][0]] - single[links[0][0]]
    time.sleep(1)
    calls, notes = (
        metric(port, "tpsqbo_qbo_api_calls_total"),
        metric(port, "tpsqbo_webhook_notifications_total"),
    )
    paid = pay(links[1:], args.seconds)
    landing.wait_for(list(paid), 120)
    time.sleep(1)
    calls = metric(port, "tpsqbo_qbo_api_calls_total") - calls
    notes = metric(port, "tpsqbo_webhook_notifications_total") - notes
    runs = metric_runs(port)
    landing.stop.set()
    latencies = sorted(landing.landed[i] - t for i, t in paid.items() if i in landing.landed)
    missing = len(paid) - len(latencies)
    report(args, baseline, latencies, missing, calls, notes, runs, one_sync_calls(session))


def metric_runs(port: int) -> int:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith('tpsqbo_runs_total{trigger="webhook"')
    )


def one_sync_calls(session: Session) -> int:
    """The baseline for calls: what one incremental sync costs, i.e. a run per notification."""
    before = session.qbo.stats.calls
    session.sync()
    return session.qbo.stats.calls - before


def report(
    args: Any,
    baseline: float,
    latencies: list[float],
    missing: int,
    calls: float,
    notes: float,
    runs: int,
    per_sync: int,
) -> None:
    median = statistics.median(latencies)
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    # QBO announces a payment and the invoice it pays as two changes, so the measure is per
    # payment: at most one call (one CDC call) for each payment made.
    per_payment = calls / max(len(latencies) + missing, 1)
    print(
        f"{args.payments} online payments over {args.seconds:g} s, large:{args.clients}, "
        "QBO limits real, default debounce; emulators and watcher in their own processes"
    )
    print(
        f"latency payment -> TPS: median {median:.1f} s, p95 {p95:.1f} s "
        f"(target p95 < 10 s; {missing} never landed); one payment alone: {baseline:.1f} s "
        f"(p95 = {p95 / baseline:.2f}x that)"
    )
    print(
        f"webhook notifications of {notes:.0f} changes -> {runs} webhook run(s); QBO calls "
        f"{calls:.0f}: {per_payment:.2f} per payment (target < 1, one CDC call each); one "
        f"incremental sync takes {per_sync} calls, so a run per payment would take "
        f"{per_sync:.0f} per payment ({per_payment / max(per_sync, 1):.3f}x)"
    )


if __name__ == "__main__":
    main()
