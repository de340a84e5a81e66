"""The in-memory planner against a hand-written Python mapping of the same records, and the
state statements the sync makes per record it writes.

    python bench/plan.py [--firm large:5000] [--rounds 3] [--state-firm large:200] [--state-only]

Both emulators run in this process with no limits; reading them is not timed. The planner
(`Session.plan` on a snapshot already read) decides every TPS client, invoice and payment of
`--firm` for an initial sync; the hand-written mapping makes, in plain Python, the very
payloads the planner makes for the same records (unique display names, linked references,
addresses, invoice lines merged by work code with their item and tax code, the open part of
payments) and leaves out what the planner leaves out; the two are checked equal, record by
record, after the timing. Targets: the planner within 3x of the hand-written mapping; at
most 5 state statements per record written.
The two sides take turns for `--rounds` rounds (3), and each keeps its best time, wall
and CPU apart. Each side is timed after a full garbage collection, so neither pays for the
other's garbage, with Python's cycle collector on and what was alive before set aside from
its passes (`gc.freeze`), as the planner sets the snapshot aside while it plans; the CPU
time of each is printed too, the steadier measure on a shared machine.
"""

from __future__ import annotations

import argparse
import gc
import re
import sqlite3
import tempfile
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from tpsqbo_engine import state_rows
from tpsqbo_engine.state import StateStore
from tpsqbo_engine.state_rows import Done, Intent, Item, Link, Outcome
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.plan import Plan
from tpsqbo_engine.sync.session import Session
from tpsqbo_engine.sync.snapshot import Snapshot

Record = dict[str, Any]
CENT = Decimal("0.01")
PENDING = "@pending:"
_NAME_FORBIDDEN = re.compile(r"[:\t\n\r]")


def amount(value: Any) -> Decimal:
    return value if type(value) is Decimal else Decimal(str(value).strip().replace(",", ""))


def money(value: Any) -> Decimal:
    return amount(value).quantize(CENT, rounding=ROUND_HALF_UP)


def qbo_name(value: Any, limit: int = 100) -> str:
    return " ".join(_NAME_FORBIDDEN.sub(" ", str(value)).split())[:limit].rstrip()


def text(value: Any) -> Any:
    return value.strip() if type(value) is str else value


def put(out: Record, key: str, value: Any) -> None:
    """A field is written only when it has a value; text without stray spaces."""
    if value is not None:
        out[key] = value.strip() if type(value) is str else value


def group(out: Record, key: str, fields: dict[str, Any]) -> None:
    """A nested object, written when one of its fields has a value."""
    inner: Record = {}
    for name, value in fields.items():
        put(inner, name, value)
    if inner:
        out[key] = inner


class HandWritten:
    """The standard pack's TPS-to-QBO mappings for an initial sync, written out in Python:
    the same payloads the planner makes, for the same records, and nothing for the records
    it leaves out (void, paid, payments of paid invoices, work-code headings)."""

    def __init__(self, snapshot: Snapshot, lookups: dict[str, Any]) -> None:
        self.snapshot = snapshot
        self.lookups = lookups
        accounts = snapshot.records("qbo.Account").values()
        self.accounts: dict[str, Record] = {}
        for account in accounts:
            self.accounts.setdefault(str(account.get("Name") or "").casefold(), account)
        # QBO display names are unique (case-insensitive); those already there count.
        self.names = {
            str(c.get("DisplayName") or "").casefold(): str(c["Id"])
            for c in snapshot.records("qbo.Customer").values()
        }
        self.codes = {w["code"]: w for w in snapshot.records("tps.WorkCode").values()}
        self.clients = snapshot.records("tps.Client")
        self.left_out: set[str] = set()

    def lookup(self, table: str, key: str) -> Any:
        found = self.lookups[table]
        return found.entries.get(key, found.default if found.has_default else None)

    def account(self, name: str) -> Record:
        found = self.accounts[name.casefold()]
        return {"value": found["Id"], "name": found.get("Name")}

    def tax_code(self, name: str) -> Record:
        return {"value": name}  # QBO US: TAX and NON stand for themselves

    def all(self) -> dict[str, Record]:
        made: dict[str, Record] = {}
        for code in self.codes.values():
            if code.get("node_type") == "work_code" and code.get("active"):
                made[f"tps.WorkCode:{code['id']}"] = self.item(code)
        for client in self.clients.values():
            made[f"tps.Client:{client['id']}"] = self.customer(client)
        for record in self.snapshot.records("tps.Invoice").values():
            if record["status"] == "void":
                continue
            if money(record.get("balance")) == 0:  # paid history stays out
                self.left_out.add(record["id"])
                continue
            made[f"tps.Invoice:{record['id']}"] = self.invoice(record)
        for record in self.snapshot.records("tps.Payment").values():
            paid = self.payment(record)
            if paid is not None:
                made[f"tps.Payment:{record['id']}"] = paid
        return made

    def item(self, code: Record) -> Record:
        out: Record = {"Type": "Service"}
        put(out, "Name", qbo_name(code["name"]))
        put(out, "Sku", code["code"])
        put(out, "Description", code["name"])
        out["UnitPrice"] = money(code.get("default_rate") or 0)
        income = self.lookup("income-accounts", code.get("work_type"))
        out["IncomeAccountRef"] = self.account(income)
        put(out, "Taxable", code.get("tax1") or code.get("tax2") or code.get("tax3"))
        return out

    def unique(self, name: str, suffix: str, ident: str) -> str:
        holder = self.names.get(name.casefold())
        if holder is not None and holder != ident:
            name = name[: 500 - len(suffix)].rstrip() + suffix
        self.names[name.casefold()] = ident
        return name

    def customer(self, client: Record) -> Record:
        out: Record = {}
        ident = f"new:{len(self.names)}"
        name = self.unique(qbo_name(client["name"], 500), f" ({client['code']})", ident)
        put(out, "DisplayName", name)
        put(out, "CompanyName", client["name"][:100])
        group(out, "PrimaryEmailAddr", {"Address": client.get("email")})
        group(out, "PrimaryPhone", {"FreeFormNumber": client.get("phone")})
        address = client.get("address") or {}
        group(
            out,
            "BillAddr",
            {
                "Line1": address.get("line1"),
                "Line2": address.get("line2"),
                "City": address.get("city"),
                "CountrySubDivisionCode": address.get("region"),
                "PostalCode": address.get("postal_code"),
                "Country": address.get("country"),
            },
        )
        out["Notes"] = f"TPS client {client['code']}".strip()
        return out

    def invoice(self, record: Record) -> Record:
        out: Record = {}
        put(out, "DocNumber", record.get("doc_number"))
        put(out, "TxnDate", record.get("date"))
        put(out, "DueDate", record.get("due_date"))
        out["CustomerRef"] = {"value": f"{PENDING}tps.Client:{record['client_id']}"}
        group(out, "BillEmail", {"Address": self.clients[record["client_id"]].get("email")})
        out["AllowOnlineCreditCardPayment"] = True
        out["AllowOnlineACHPayment"] = True
        put(out, "GlobalTaxCalculation", self.lookup("tax-settings", "global_tax_calculation"))
        out["TxnTaxDetail"] = {"TotalTax": money(record.get("tax_total"))}
        out["Line"] = [self.line(line) for line in merged(record["lines"])]
        out["PrivateNote"] = f"sync:tps:invoice:{record['id']}"
        return out

    def line(self, line: Record) -> Record:
        code = self.codes[line["work_code"]]
        amount = money(line["amount"])
        out: Record = {"DetailType": "SalesItemLineDetail", "Amount": amount}
        put(out, "Description", line.get("description"))
        tax = self.lookup("tax-codes", "taxable" if code.get("tax1") else "exempt")
        out["SalesItemLineDetail"] = {
            "ItemRef": {"value": f"{PENDING}tps.WorkCode:{code['id']}"},
            "Qty": 1,
            "UnitPrice": amount,
            "TaxCodeRef": self.tax_code(tax),
        }
        return out

    def payment(self, record: Record) -> Record | None:
        if record.get("source") != "tps" or record.get("status") != "active":
            return None
        applications = record.get("applications") or []
        amount = record["amount"]
        if any(a["invoice_id"] in self.left_out for a in applications):
            # what paid left-out invoices stays out with them; the open rest goes across
            paid_out = sum(
                (money(a["amount"]) for a in applications if a["invoice_id"] in self.left_out),
                Decimal(0),
            )
            amount = money(amount) - paid_out
            if amount <= 0:
                return None
            applications = [a for a in applications if a["invoice_id"] not in self.left_out]
        out: Record = {"CustomerRef": {"value": f"{PENDING}tps.Client:{record['client_id']}"}}
        put(out, "TxnDate", record.get("date"))
        out["TotalAmt"] = money(amount)
        put(out, "PaymentRefNum", record.get("reference"))
        bank = self.lookup("bank-accounts", record.get("bank_account"))
        out["DepositToAccountRef"] = self.account(bank)
        out["Line"] = [
            {
                "Amount": money(a["amount"]),
                "LinkedTxn": [
                    {"TxnId": f"{PENDING}tps.Invoice:{a['invoice_id']}", "TxnType": "Invoice"}
                ],
            }
            for a in applications
        ]
        out["PrivateNote"] = f"sync:tps:payment:{record['id']}"
        return out


def merged(lines: list[Record]) -> list[Record]:
    """Lines merged by work code, first-seen order: amounts summed, descriptions joined."""
    by_code: dict[Any, Record] = {}
    for line in lines:
        known = by_code.get(line.get("work_code"))
        if known is None:
            by_code[line.get("work_code")] = dict(line)
            continue
        if line.get("amount") is not None:  # summed exactly, rounded once
            known["amount"] = amount(known.get("amount") or 0) + amount(line["amount"])
        parts = [known.get("description"), line.get("description")]
        known["description"] = "; ".join(dict.fromkeys(d for d in parts if d)) or None
    return list(by_code.values())


SOURCES = ("WorkCode", "Client", "Invoice", "Payment")


def source_records(snapshot: Snapshot) -> int:
    return sum(len(snapshot.records(f"tps.{e}")) for e in SOURCES)


def same_payloads(plan: Plan, made: dict[str, Record]) -> None:
    """Record by record, the planner's writes of TPS records and the hand-written payloads
    are equal: neither side leaves out a record, or a part of one, that the other makes."""
    planned = {op.record: op.body for op in plan.writes() if op.record.startswith("tps.")}
    if any(op.action != "create" for op in plan.writes()):
        raise SystemExit("an initial sync into an empty QBO should only create")
    only = sorted(planned.keys() ^ made.keys())
    if only:
        raise SystemExit(f"{len(only)} records written by one side only, e.g. {only[:3]}")
    for key, body in planned.items():
        if body != made[key]:
            raise SystemExit(f"{key}: the planner writes {body!r}, by hand {made[key]!r}")


def planner_speed(seed: str, rounds: int) -> None:
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
        planner = planner_cpu = by_hand = by_hand_cpu = float("inf")
        # The sides take turns, and each keeps its best round: what other work on the
        # machine added to a round is left out of both.
        for _round in range(rounds):
            gc.collect()
            started, cpu = time.perf_counter(), time.process_time()
            plan, _ = session.plan(snapshot)
            planner = min(planner, time.perf_counter() - started)
            planner_cpu = min(planner_cpu, time.process_time() - cpu)
            gc.collect()
            gc.freeze()
            try:
                started, cpu = time.perf_counter(), time.process_time()
                made = HandWritten(snapshot, dict(session.rules.lookups)).all()
                by_hand = min(by_hand, time.perf_counter() - started)
                by_hand_cpu = min(by_hand_cpu, time.process_time() - cpu)
            finally:
                gc.unfreeze()
            same_payloads(plan, made)  # not timed
            writes = len(plan.writes())
            del plan
    mapped = len(made)
    print(
        f"{seed}: {count:,} TPS work codes, clients, invoices and payments; "
        f"{writes:,} writes, each equal to the hand-written one"
    )
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
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of each side; the best of each is kept"
    )
    args = parser.parse_args()
    if not args.state_only:
        planner_speed(args.firm, max(args.rounds, 1))
    state_statements(args.state_firm)


if __name__ == "__main__":
    main()
