"""The in-memory planner against a hand-written Python mapping of the same records, and the
state statements the sync makes per record it writes.

    python bench/plan.py [--firm large:5000] [--state-firm large:200]

Both emulators run in this process with no limits; reading them is not timed. The planner
(`Session.plan` on a snapshot already read) decides every TPS client, invoice and payment of
`--firm` for an initial sync; the hand-written mapping does the field work of the standard
pack for the same records (display names, addresses, invoice lines merged by work code with
their item and tax code, payments applied to invoices) in plain Python. Targets: the planner
within 3x of the hand-written mapping; at most 5 state statements per record written.
Each side is timed after a full garbage collection, so neither pays for the other's garbage.
"""

from __future__ import annotations

import argparse
import gc
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
        gc.collect()
        started = time.perf_counter()
        plan, _ = session.plan(snapshot)
        planner = time.perf_counter() - started
        gc.collect()
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
        counts = {"all": 0, "writes": 0}

        def count(statement: str) -> None:
            counts["all"] += 1
            verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
            counts["writes"] += verb in ("INSERT", "UPDATE", "DELETE", "REPLACE")

        session.state.db.conn.set_trace_callback(count)
        summary = _sync(session)
        session.state.db.conn.set_trace_callback(None)
    written = max(summary, 1)
    print(
        f"{seed}, initial sync: {summary:,} records written; state statements per record "
        f"written: {counts['all'] / written:.1f} in all, {counts['writes'] / written:.1f} "
        "writes (target <= 5)"
    )


def _sync(session: Session) -> int:
    return session.sync().counts["Successful"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firm", default="large:5000")
    parser.add_argument("--state-firm", default="large:200")
    args = parser.parse_args()
    planner_speed(args.firm)
    state_statements(args.state_firm)


if __name__ == "__main__":
    main()
