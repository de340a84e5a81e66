"""The in-memory planner against a hand-written Python mapping of the same records, and the
state statements the sync makes per record it writes.

    python bench/plan.py [--firm large:5000] [--state-firm large:200] [--state-only]

Both emulators run in this process with no limits; reading them is not timed. The planner
(`Session.plan` on a snapshot already read) decides every TPS client, invoice and payment of
`--firm` for an initial sync; the hand-written mapping does the field work of the standard
pack for the same records (display names, addresses, invoice lines merged by work code with
their item and tax code, payments applied to invoices) in plain Python. Targets: the planner
within 3x of the hand-written mapping; at most 5 state statements per record written.
Each side is timed after a full garbage collection, so neither pays for the other's garbage;
the CPU time of each is printed too, the steadier measure on a shared machine.
"""

from __future__ import annotations

import argparse
import gc
import sqlite3
import tempfile
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from tpsqbo_engine import state_rows
from tpsqbo_engine.state import StateStore
from tpsqbo_engine.state_rows import Done, Intent, Item, Link, Outcome
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
        if i["status"] != "void" and money(i.get("balance")) != 0  # paid history stays out
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
        started, cpu = time.perf_counter(), time.process_time()
        plan, _ = session.plan(snapshot)
        planner, planner_cpu = time.perf_counter() - started, time.process_time() - cpu
        gc.collect()
        started, cpu = time.perf_counter(), time.process_time()
        mapped = hand_written(snapshot)
        by_hand, by_hand_cpu = time.perf_counter() - started, time.process_time() - cpu
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
    # On a shared machine the CPU time each side spent is the steadier measure.
    print(
        f"  CPU time: planner {planner_cpu:.2f} s, hand-written {by_hand_cpu:.2f} s: "
        f"{planner_cpu / by_hand_cpu:.1f}x"
    )


class StatementCount:
    """Every SQL statement the state's connection runs, as SQLite's trace reports them (a
    prepared statement run for many rows with `executemany` counts once per row, one with
    many rows in its VALUES once; BEGIN and COMMIT count), and the rows those statements
    inserted, updated or deleted (SQLite's `total_changes`)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.all = 0
        self.rows = 0

    def __call__(self, statement: str) -> None:
        self.all += 1

    def sync(self) -> tuple[int, int]:
        """Syncs; answers the records written and the bytes the run wrote to the WAL (no
        checkpoint runs meanwhile, so the WAL holds every frame the run wrote)."""
        db = self.session.state.db
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA wal_autocheckpoint=0")
        wal = self.session.state.path.with_name(self.session.state.path.name + "-wal")
        db.conn.set_trace_callback(self)
        changes = db.conn.total_changes
        try:
            written = self.session.sync().counts["Successful"]
        finally:
            db.conn.set_trace_callback(None)
            self.rows = db.conn.total_changes - changes
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


def _run_rows(state: StateStore) -> tuple[list[Record], list[Record], list[Record]]:
    """The journal rows, history rows and links the first run (the initial sync) wrote."""
    run_id = int(state.runs(1000)[-1]["id"])
    links = [dict(row) for row in state.db.query("select * from links")]
    return state.journal(run_id), state.items(run_id), links


def _per_record(state: StateStore, run_id: int, rows: tuple[list[Record], ...]) -> None:
    """The state writes as the engine made them before: sqlite-utils' table helpers, the
    unfinished-intent read and the intent on their own, then a transaction per record."""
    journal, items, links = rows
    table = state.db.table
    written, alone = _split(items)
    for item in alone:
        table("run_items").insert({k: v for k, v in item.items() if k != "id"} | {"run_id": run_id})
    for entry, item, link in zip(journal, written, links, strict=False):
        any(
            True
            for _ in table("journal").rows_where(
                "intent = ? and outcome = ''", [entry["intent"]], limit=1
            )
        )
        fields = ("intent", "operation", "target", "started_at", "before")
        intents = table("journal")
        intents.insert({k: entry[k] for k in fields} | {"run_id": run_id, "outcome": ""})
        journal_id = int(intents.last_pk or 0)
        with state.transaction():
            table("links").upsert(link, pk=("pair", "tps_id"))
            table("run_items").insert(
                {k: v for k, v in item.items() if k != "id"} | {"run_id": run_id}
            )
            outcome = (
                "outcome",
                "result_id",
                "result_version",
                "result_fingerprint",
                "finished_at",
            )
            table("journal").update(journal_id, {k: entry[k] for k in outcome})


def _per_batch(state: StateStore, run_id: int, rows: tuple[list[Record], ...]) -> None:
    """The same rows as the engine writes them now: per batch of 30, the batch's intents with
    the outcomes, links and history rows of the batch before."""
    journal, items, links = rows
    written, alone = _split(items)
    done = Done(items=[_item(i) for i in alone])
    for start in range(0, len(journal), 30):
        batch = journal[start : start + 30]
        intents = [Intent(e["intent"], e["operation"], e["target"], e["before"]) for e in batch]
        ids = state.write(run_id, done, intents)
        done = Done(
            [
                Outcome(
                    j, e["outcome"], e["result_id"], e["result_version"], e["result_fingerprint"]
                )
                for j, e in zip(ids, batch, strict=True)
            ],
            [
                Link(
                    k["pair"],
                    k["tps_id"],
                    k["qbo_id"],
                    k["mapping"],
                    k["tps_version"],
                    k["qbo_version"],
                    k["content_hash"],
                )
                for k in links[start : start + 30]
            ],
            [_item(i) for i in written[start : start + 30]],
        )
    state.write(run_id, done)


def _split(items: list[Record]) -> tuple[list[Record], list[Record]]:
    """The history rows of writes, and those of records left alone."""
    written = [i for i in items if i["status"] in ("Successful", "Failed")]
    return written, [i for i in items if i["status"] not in ("Successful", "Failed")]


def _row_by_row(conn: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> list[int]:
    """`state_rows._many` as a statement per row: executemany, or an execute per row where
    the rows' ids are wanted (the intents)."""
    if not rows:
        return []
    one = sql.format(values="(" + ", ".join("?" * len(rows[0])) + ")")
    if one.startswith("insert into journal"):
        return [int(conn.execute(one, row).lastrowid or 0) for row in rows]
    conn.executemany(one, rows)
    return []


def _item(row: Record) -> Item:
    fields = ("record", "mapping", "action", "status", "message", "rule", "target")
    return Item(*(str(row[f] or "") for f in fields))


class _Tally:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, _statement: str) -> None:
        self.n += 1


def replay(rows: tuple[list[Record], ...], folder: Path) -> None:
    """The state part alone: the rows an initial sync wrote, written again to a fresh state
    the way the engine wrote them before (per record) and the way it writes them now (per
    batch), in the same run."""
    before = 0.0
    for n, (name, write, synchronous) in enumerate(
        (
            ("per record, synchronous=NORMAL (before)", _per_record, "NORMAL"),
            ("per batch, a statement per row (executemany), synchronous=FULL", _per_batch, "FULL"),
            ("per batch, synchronous=NORMAL", _per_batch, "NORMAL"),
            ("per batch, synchronous=FULL (now)", _per_batch, "FULL"),
        )
    ):
        many = state_rows._many
        if "executemany" in name:
            state_rows._many = _row_by_row
        state = StateStore(folder / f"replay-{n}" / "state.db")
        state.db.execute(f"PRAGMA synchronous={synchronous}")
        state.db.execute("PRAGMA wal_autocheckpoint=0")
        run_id = state.start_run("initial")
        count = _Tally()
        state.db.conn.set_trace_callback(count)
        changes = state.db.conn.total_changes
        started = time.perf_counter()
        try:
            write(state, run_id, rows)
        finally:
            state_rows._many = many
        took = time.perf_counter() - started
        changes = state.db.conn.total_changes - changes
        state.db.conn.set_trace_callback(None)
        wal = state.path.with_name(state.path.name + "-wal").stat().st_size
        before = before or took
        per = max(len(rows[0]), 1)
        print(
            f"  state part replayed {name}: {took:.2f} s; per record written "
            f"{count.n / per:.2f} statements, {changes / per:.2f} rows written, "
            f"{wal / per / 1024:.1f} KB of WAL "
            f"({took / before:.3f}x the time of the per-record writes)"
        )


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
                f"statements per record written: {count.all / per:.2f} (target <= 5), "
                f"rows written {count.rows / per:.2f}; WAL written "
                f"{wal / 2**20:.1f} MB ({wal / per / 1024:.1f} KB a record)"
            )
            if run == "initial sync":
                replay(_run_rows(session.state), Path(folder))


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
