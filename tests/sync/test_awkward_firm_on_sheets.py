"""The awkward firm through TPS sheets reaches the same books, in QBO and in TPS, as
through the TPS API: its initial sync and its two weeks of changes on both sides, the
QBO-side ones coming back to TPS through the outbox (entered by `enter_outbox`, as a
bookkeeper enters them, then exported again), and a third week in TPS."""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.tps.client import TpsSource
from tpsqbo_engine.connectors.tps.filebooks import FileBooks
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer
from tpsqbo_engine.emulators.tps.export import export_sheets
from tpsqbo_engine.emulators.tps.firm import Firm
from tpsqbo_engine.emulators.tps.outbox import enter_outbox
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer
from tpsqbo_engine.sync.awkward import Books, build_books, sale_line
from tpsqbo_engine.sync.awkward_weeks import round_one, round_two
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.session import Session

Week = Callable[[TpsSource, QboClient, Books], Any]


def _qbo_books(qbo: QboEmulatorServer) -> dict[str, Any]:
    """What the firm's accountant sees in QBO, by names and numbers, not by ids."""
    company = qbo.company
    names = {c["Id"]: c["DisplayName"] for c in company.table("Customer").values()}
    items = {i["Id"]: i["Name"] for i in company.table("Item").values()}
    accounts = {a["Id"]: a["Name"] for a in company.table("Account").values()}
    invoices = {i["Id"]: i.get("DocNumber") or i["Id"] for i in company.table("Invoice").values()}

    def lines(txn: dict[str, Any]) -> list[tuple[str, Decimal]]:
        return sorted(
            (items[line["SalesItemLineDetail"]["ItemRef"]["value"]], Decimal(line["Amount"]))
            for line in txn["Line"]
            if line.get("DetailType") == "SalesItemLineDetail"
        )

    def described(txn: dict[str, Any]) -> tuple[Any, ...]:
        return (
            names[txn["CustomerRef"]["value"]],
            str(txn.get("TxnDate")),
            str(txn.get("DueDate")),
            Decimal(txn["TotalAmt"]),
            Decimal(txn.get("Balance") or 0),
            tuple(lines(txn)),
            txn.get("TxnStatus", ""),
        )

    return {
        "customers": sorted(
            (
                c["DisplayName"],
                c.get("CompanyName"),
                (c.get("PrimaryEmailAddr") or {}).get("Address"),
                (c.get("PrimaryPhone") or {}).get("FreeFormNumber"),
                c.get("Active"),
                Decimal(c.get("Balance") or 0),
            )
            for c in company.table("Customer").values()
        ),
        "invoices": sorted(
            (str(i.get("DocNumber") or "(none)"), described(i))
            for i in company.table("Invoice").values()
        ),
        "credit memos": sorted(described(m) for m in company.table("CreditMemo").values()),
        "payments": sorted(
            (
                names[p["CustomerRef"]["value"]],
                str(p.get("TxnDate")),
                Decimal(p["TotalAmt"]),
                Decimal(p.get("UnappliedAmt") or 0),
                accounts.get((p.get("DepositToAccountRef") or {}).get("value", ""), ""),
                str(p.get("PaymentRefNum") or ""),
                tuple(
                    sorted(
                        (invoices.get(t["TxnId"], t["TxnType"]), Decimal(line["Amount"]))
                        for line in p.get("Line") or []
                        for t in line.get("LinkedTxn") or []
                    )
                ),
            )
            for p in company.table("Payment").values()
        ),
    }


def _tps_books(firm: Firm) -> dict[str, Any]:
    """What the firm sees in TPS, by client code and invoice number. Where a record came
    from (`source`) and TPS's own numbering are left out: a sheet cannot carry them."""
    codes = {c["id"]: c["code"] for c in firm.table("clients").values()}
    numbers = {i["id"]: i["doc_number"] for i in firm.table("invoices").values()}
    return {
        "clients": sorted(
            (c["code"], c["name"], c.get("email"), c.get("phone"), c.get("active"))
            for c in firm.table("clients").values()
        ),
        "invoices": sorted(
            (
                i["doc_number"],
                codes[i["client_id"]],
                i["date"],
                Decimal(i["total"]),
                Decimal(i["balance"]),
                i["status"],
            )
            for i in firm.table("invoices").values()
        ),
        "payments": sorted(
            (
                codes[p["client_id"]],
                p["date"],
                Decimal(p["amount"]),
                Decimal(p["unapplied_amount"]),
                p.get("status"),
                tuple(
                    sorted(
                        (numbers[a["invoice_id"]], Decimal(a["amount"]))
                        for a in p.get("applications") or []
                    )
                ),
            )
            for p in firm.table("payments").values()
        ),
        "adjustments": sorted(
            (
                codes[a["client_id"]],
                a["direction"],
                a["date"],
                Decimal(a["amount"]),
                numbers.get(a.get("invoice_id") or "", ""),
                a.get("status", ""),
            )
            for a in firm.table("adjustments").values()
        ),
    }


@dataclass
class Side:
    """One way of running the firm: the session that syncs, and the TPS API and QBO
    clients the firm's own changes go through."""

    session: Session
    http: Session
    qbo: QboEmulatorServer
    tps: TpsEmulatorServer
    books: Books
    folder: Path | None = None
    seen: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)

    def night(self, week: Week | None = None) -> None:
        """The firm's week (in TPS and QBO), then the nightly run; on sheets, the export
        before it and the bookkeeper entering the outbox after it."""
        if week is not None:
            week(self.http.tps, self.http.qbo, self.books)
        if self.folder is not None:
            export_sheets(self.tps.firm, self.folder)
            self.session = Session(self.session.config)  # the night's run reads the export
        if self.session.state.latest_backup() is None:
            self.session.backup()
        run = self.session.sync()
        failed = [i for i in self.session.state.items(run.run_id) if i["status"] == "Failed"]
        assert not failed, [(i["record"], i["target"], i["message"]) for i in failed]
        if self.folder is not None:
            enter_outbox(self.tps.firm, self.folder / "outbox")
        self.seen.append((_qbo_books(self.qbo), _tps_books(self.tps.firm)))


def _week_three(tps: TpsSource, qbo: QboClient, books: Books) -> None:
    """In QBO: Q-3001, made in QBO and already in TPS, raised to 350.00. In TPS: a
    payment voided."""
    (made,) = qbo.query("SELECT * FROM Invoice WHERE DocNumber = 'Q-3001'")
    item = made["Line"][0]["SalesItemLineDetail"]["ItemRef"]
    qbo.update("Invoice", made["Id"], {"Line": [sale_line(item, "350.00", "Bookkeeping")]})
    paid = next(
        p
        for p in tps.records("payments")
        if p["client_id"] == books.clients["VIN01"]["id"] and p["status"] == "active"
    )
    tps.update("payments", paid["id"], {"status": "void"}, version=paid["version"])


@dataclass
class Both:
    api: Side
    sheets: Side
    # the outbox rows entered in TPS after each run on sheets
    entered: list[list[str]] = field(default_factory=list)


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Both]:
    tmp_path = tmp_path_factory.mktemp("awkward-sheets")
    with ExitStack() as stack:
        sides = []
        for name in ("api", "sheets"):
            session, qbo, tps = stack.enter_context(
                demo_firm(tmp_path / name, qbo_seed="starter", tps_seed="empty")
            )
            books = build_books(session.tps, session.qbo)
            for record, reason in books.ignored.items():
                session.state.ignore(record, reason)
            sides.append(Side(session, session, qbo, tps, books))
        api, sheets = sides
        sheets.folder = tmp_path / "sheets" / "tps-export"
        files = dataclasses.replace(
            sheets.http.config,
            tps=dataclasses.replace(
                sheets.http.config.tps, connection="files", folder=sheets.folder
            ),
        )
        sheets.folder.mkdir(parents=True)
        sheets.session = Session(files)
        assert isinstance(sheets.session.tps, FileBooks)
        outcome = Both(api, sheets)
        for week in (None, round_one, round_two, _week_three, None):
            for side in (api, sheets):
                side.night(week)
            entered = sheets.folder / "outbox" / "entered"
            outcome.entered.append(
                sorted(p.name for p in entered.iterdir()) if entered.exists() else []
            )
        yield outcome


def test_every_night_the_same_qbo_books_through_sheets_as_through_the_api(both: Both) -> None:
    assert len(both.api.seen) == len(both.sheets.seen) == 5
    first = both.api.seen[0][0]
    assert len(first["invoices"]) > 60 and len(first["payments"]) > 15
    for night, (api, sheets) in enumerate(zip(both.api.seen, both.sheets.seen, strict=True)):
        assert sheets[0] == api[0], f"QBO after night {night}"
    assert len({repr(seen[0]) for seen in both.api.seen}) == 4  # each week changed QBO
    assert both.api.seen[-1][0] == both.api.seen[-2][0]  # the quiet night changed nothing


def test_every_night_the_same_tps_books_once_the_outbox_is_entered(both: Both) -> None:
    for night, (api, sheets) in enumerate(zip(both.api.seen, both.sheets.seen, strict=True)):
        assert sheets[1] == api[1], f"TPS after night {night}"
    final = both.sheets.seen[-1][1]
    assert any(i[0] == "Q-7001" and i[5] == "void" for i in final["invoices"])
    (q3001,) = [i for i in final["invoices"] if i[0] == "Q-3001"]
    assert q3001[3] == Decimal("350.00")  # changed in QBO, then by hand in TPS
    assert any(a[3] == Decimal("80.00") and a[4] == "" for a in final["adjustments"])


def test_what_qbo_changed_came_back_through_each_outbox_sheet(both: Both) -> None:
    entered = [name.split("-", 1)[1] for name in both.entered[-1]]  # all, by the last night
    assert entered.count("import-invoices.csv") == 2  # Q-3001, then Q-7001: once each
    assert set(entered) == {
        "import-invoices.csv",  # Q-3001 on the first night, Q-7001 in week one
        "invoice-changes.csv",  # Q-3001 changed in QBO in week three
        "payments-to-enter.csv",
        "client-changes.csv",
        "adjustments-to-enter.csv",  # Kauri's credit memo
        "voids-to-enter.csv",  # QBO deletions in week two
    }


def test_entered_records_come_back_as_themselves_and_nothing_is_sent_twice(
    both: Both,
) -> None:
    sheets = both.sheets
    export_sheets(sheets.tps.firm, sheets.folder)  # type: ignore[arg-type]
    assert Session(sheets.session.config).plan()[0].writes() == []


def test_reordered_payment_rows_keep_their_identity(both: Both) -> None:
    folder = both.sheets.folder
    assert folder is not None
    export_sheets(both.sheets.tps.firm, folder)
    path = folder / "payments.csv"
    header, *rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    assert len(rows) > 15
    before = {p["id"]: p for p in FileBooks(folder, "x").records("payments")}
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *reversed(rows)])
    session = Session(both.sheets.session.config)
    after = {p["id"]: p for p in session.tps.records("payments")}
    strip = ("version", "updated_at")
    assert {i: {k: v for k, v in p.items() if k not in strip} for i, p in after.items()} == {
        i: {k: v for k, v in p.items() if k not in strip} for i, p in before.items()
    }
    count = len(both.sheets.qbo.company.table("Payment"))
    assert session.plan()[0].writes() == []
    assert session.sync().counts["Successful"] == 0
    assert len(both.sheets.qbo.company.table("Payment")) == count
