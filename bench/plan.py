"""The in-memory planner against a hand-written Python mapping of the same records, and the
state statements the sync makes per record it writes.

    python bench/plan.py [--firm large:5000] [--state-firm large:200] [--state-only]

Both emulators run in this process with no limits; reading them is not timed. The planner
(`Session.plan` on a snapshot already read) decides every TPS client, invoice and payment of
`--firm` for an initial sync; the hand-written mapping does the field work of the standard
pack for the same records (display names, addresses, invoice lines merged by work code with
their item and tax code, payments applied to invoices) in plain Python. Targets: the planner
within 3x of the hand-written mapping; at most 5 state statements per record written.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.session import Session
from tpsqbo_engine.sync.snapshot import Snapshot

Record = dict[str, Any]
CENT = Decimal("0.01")


def money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def customer(client: Record) -> Record:
    address = client.get("address") or {}
    return {
        "DisplayName": f"{client['name'].replace(':', '-')[:500]} ({client['code']})",
        "CompanyName": client["name"],
        "PrimaryEmailAddr": {"Address": client.get("email")},
        "PrimaryPhone": {"FreeFormNumber": client.get("phone")},
        "BillAddr": {
            "Line1": address.get("line1"),
            "Line2": address.get("line2"),
            "City": address.get("city"),
            "CountrySubDivisionCode": address.get("region"),
            "PostalCode": address.get("postal_code"),
            "Country": address.get("country"),
        },
        "Notes": f"TPS client {client['code']}",
    }


def invoice(record: Record, clients: dict[str, Record], items: dict[str, str]) -> Record:
    merged: dict[str, Decimal] = defaultdict(Decimal)
    descriptions: dict[str, str] = {}
    for line in record["lines"]:
        merged[line["work_code"]] += money(line["amount"])
        descriptions.setdefault(line["work_code"], line.get("description") or "")
    return {
        "DocNumber": record["doc_number"],
        "TxnDate": record["date"],
        "DueDate": record["due_date"],
        "CustomerRef": {"value": record["client_id"]},
        "BillEmail": {"Address": clients[record["client_id"]].get("email")},
        "AllowOnlineCreditCardPayment": True,
        "AllowOnlineACHPayment": True,
        "TxnTaxDetail": {"TotalTax": money(record.get("tax_total"))},
        "PrivateNote": f"sync:tps:invoice:{record['id']}",
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": amount,
                "Description": descriptions[code],
                "SalesItemLineDetail": {
                    "ItemRef": {"value": items.get(code, code)},
                    "Qty": 1,
                    "UnitPrice": amount,
                    "TaxCodeRef": {"value": "TAX"},
                },
            }
            for code, amount in merged.items()
        ],
    }


def payment(record: Record) -> Record:
    return {
        "CustomerRef": {"value": record["client_id"]},
        "TxnDate": record["date"],
        "TotalAmt": money(record["amount"]),
        "PaymentRefNum": record.get("reference"),
        "DepositToAccountRef": {"value": record.get("bank_account")},
        "PrivateNote": f"sync:tps:payment:{record['id']}",
        "Line": [
            {
                "Amount": money(a["amount"]),
                "LinkedTxn": [{"TxnId": a["invoice_id"], "TxnType": "Invoice"}],
            }
            for a in record.get("applications", [])
        ],
    }


def hand_written(snapshot: Snapshot) -> int:
    clients = snapshot.records("tps.Client")
    items = {code: code for code in snapshot.records("tps.WorkCode")}
    made = [customer(c) for c in clients.values()]
    made += [
        invoice(i, clients, items)
        for i in snapshot.records("tps.Invoice").values()
        if i["status"] != "void"
    ]
    made += [payment(p) for p in snapshot.records("tps.Payment").values()]
    return len(made)


def source_records(snapshot: Snapshot) -> int:
    return sum(len(snapshot.records(f"tps.{e}")) for e in ("Client", "Invoice", "Payment"))


def planner_speed(seed: str) -> None:
    with (
        tempfile.TemporaryDirectory() as folder,
        demo_firm(Path(folder), tps_seed=seed) as (
            session,
            _,
            _,
        ),
    ):
        snapshot = session.snapshot()
        count = source_records(snapshot)
        started = time.perf_counter()
        plan, _ = session.plan(snapshot)
        planner = time.perf_counter() - started
        started = time.perf_counter()
        mapped = hand_written(snapshot)
        by_hand = time.perf_counter() - started
    print(f"{seed}: {count:,} TPS clients, invoices and payments; {len(plan.writes()):,} writes")
    print(
        f"  planner: {planner:.2f} s, {count / planner:,.0f} records/s "
        f"({planner / count * 1000:.3f} ms a record)"
    )
    print(
        f"  hand-written mapping ({mapped:,} records mapped): {by_hand:.2f} s, "
        f"{count / by_hand:,.0f} records/s"
    )
    print(f"  planner / hand-written: {planner / by_hand:.1f}x (target <= 3x)")


class StatementCount:
    """Every SQL statement the state's connection runs, as SQLite's trace reports them: a
    statement run many times (`executemany`) counts once per run, BEGIN and COMMIT count."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.all = 0
        self.writes = 0

    def __call__(self, statement: str) -> None:
        self.all += 1
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        self.writes += verb in ("INSERT", "UPDATE", "DELETE", "REPLACE")

    def sync(self) -> tuple[int, int]:
        """Syncs; answers the records written and the bytes the run wrote to the WAL (no
        checkpoint runs meanwhile, so the WAL holds every frame the run wrote)."""
        db = self.session.state.db
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA wal_autocheckpoint=0")
        wal = self.session.state.path.with_name(self.session.state.path.name + "-wal")
        db.conn.set_trace_callback(self)
        try:
            written = self.session.sync().counts["Successful"]
        finally:
            db.conn.set_trace_callback(None)
            db.execute("PRAGMA wal_autocheckpoint=1000")
        return written, wal.stat().st_size if wal.exists() else 0


def change_some(session: Session, share: float) -> int:
    """Edits `share` of the outstanding invoices' first line and of the clients' phones."""
    invoices = [i for i in session.tps.records("invoices") if i["status"] == "outstanding"]
    for invoice in invoices[:: max(int(1 / share), 1)]:
        lines = [dict(line) for line in invoice["lines"]]
        lines[0]["description"] = f"{lines[0].get('description') or ''} (revised)"
        session.tps.update("invoices", invoice["id"], {"lines": lines}, version=invoice["version"])
    clients = list(session.tps.records("clients"))
    for client in clients[:: max(int(1 / share), 1)]:
        session.tps.update(
            "clients", client["id"], {"phone": "(503) 555-0199"}, version=client["version"]
        )
    return len(invoices[:: max(int(1 / share), 1)]) + len(clients[:: max(int(1 / share), 1)])


def state_statements(seed: str) -> None:
    with (
        tempfile.TemporaryDirectory() as folder,
        demo_firm(Path(folder), tps_seed=seed) as (
            session,
            _,
            _,
        ),
    ):
        session.backup()
        for run in ("initial sync", "re-sync, 10% changed"):
            if run != "initial sync":
                change_some(session, 0.1)
            count = StatementCount(session)
            started = time.perf_counter()
            written, wal = count.sync()
            took = time.perf_counter() - started
            per = max(written, 1)
            print(
                f"{seed}, {run}: {written:,} records written in {took:.1f} s; state "
                f"statements per record written: {count.all / per:.2f} in all, "
                f"{count.writes / per:.2f} writes (target <= 5); WAL written "
                f"{wal / 2**20:.1f} MB ({wal / per / 1024:.1f} KB a record)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firm", default="large:5000")
    parser.add_argument("--state-firm", default="large:200")
    parser.add_argument("--state-only", action="store_true", help="only the state statements")
    args = parser.parse_args()
    if not args.state_only:
        planner_speed(args.firm)
    state_statements(args.state_firm)


if __name__ == "__main__":
    main()
