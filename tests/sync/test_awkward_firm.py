"""The awkward firm end to end: its books built through both APIs, the initial sync, two
rounds of changes on both sides, then everything the issue asks to be true of real books."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer
from tpsqbo_engine.sync.awkward import (
    DOCUMENTED_DIFFERENCES,
    WALK_INS,
    Books,
    build_books,
)
from tpsqbo_engine.sync.awkward_weeks import round_one, round_two
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.session import RunSummary, Session


@dataclass
class Synced:
    session: Session
    qbo: QboEmulatorServer
    tps: TpsEmulatorServer
    books: Books
    runs: list[RunSummary]
    checklist: list[Any]
    blocked: dict[str, str]  # what blocked the initial sync before the firm ignored it
    checklist_calls: tuple[int, int]  # QBO calls, of them batch calls
    backup_calls: tuple[int, int]

    def items(self, run: int | None = None) -> list[dict[str, Any]]:
        runs = [run] if run is not None else [r.run_id for r in self.runs]
        return [i for r in runs for i in self.session.state.items(r)]

    def customers(self) -> list[dict[str, Any]]:
        return list(self.qbo.company.table("Customer").values())

    def tps_rows(self, resource: str) -> list[dict[str, Any]]:
        return list(self.tps.firm.table(resource).values())


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    workdir: Path = tmp_path_factory.mktemp("awkward")
    with demo_firm(workdir, qbo_seed="starter", tps_seed="empty") as (session, qbo, tps):
        books = build_books(session.tps, session.qbo)
        blocked = {o.record: o.message for o in session.plan()[0].operations if o.action == "block"}
        for record, reason in books.ignored.items():
            session.state.ignore(record, reason)
        stats = session.qbo.stats
        calls, batches = stats.calls, stats.batch_calls
        session.backup()
        backup_calls = (stats.calls - calls, stats.batch_calls - batches)
        calls, batches = stats.calls, stats.batch_calls
        checklist = session.checklist()
        checklist_calls = (stats.calls - calls, stats.batch_calls - batches)
        runs = [session.sync()]
        round_one(session.tps, session.qbo, books)
        runs.append(session.sync())
        round_two(session.tps, session.qbo, books)
        runs.append(session.sync())
        yield Synced(
            session, qbo, tps, books, runs, checklist, blocked, checklist_calls, backup_calls
        )


def test_every_run_finishes_without_a_failure(synced: Synced) -> None:
    assert [r.counts["Failed"] for r in synced.runs] == [0, 0, 0]
    assert synced.runs[0].counts["Successful"] > 100


def test_the_checklist_passes_naming_every_ignored_transaction(synced: Synced) -> None:
    check = next(c for c in synced.checklist if c.id == "no-blocking-transactions")
    assert check.passed
    kinds = {record.split(":")[0] for record in synced.books.ignored}
    assert kinds == {
        "qbo.JournalEntry",
        "qbo.SalesReceipt",
        "qbo.RefundReceipt",
        "qbo.Bill",
        "qbo.BillPayment",
        "qbo.VendorCredit",
        "qbo.Transfer",
    }
    for record, reason in synced.books.ignored.items():
        assert any(record in detail and reason in detail for detail in check.details), record
    assert len(check.details) == len(synced.books.ignored)  # the bank transfer blocks nothing


def test_the_checklist_reads_every_qbo_type_it_judges_in_one_batch_call(synced: Synced) -> None:
    kinds = {record.split(":")[0] for record in synced.blocked}
    assert len(kinds) == 7  # and customers, invoices, payments, credit memos, the lists...
    # one batch call of query items for all of them, and the preferences it checks
    assert synced.checklist_calls == (2, 1)
    assert synced.backup_calls == (1, 1)  # the backup reads them the same way


def test_each_unrecognised_transaction_blocks_until_it_is_ignored(synced: Synced) -> None:
    assert set(synced.blocked) == set(synced.books.ignored)
    bill = next(message for record, message in synced.blocked.items() if ".Bill:" in record)
    assert "Accounts Receivable" in bill


def test_no_duplicate_qbo_customers(synced: Synced) -> None:
    names = Counter(" ".join(c["DisplayName"].split()).casefold() for c in synced.customers())
    assert max(names.values()) == 1
    # 30 TPS clients (four matched existing customers) and three customers only QBO knows
    assert len(synced.customers()) == 30 + 3


def test_every_open_tps_invoice_is_in_qbo_once_with_its_total_and_lines(synced: Synced) -> None:
    in_qbo = Counter(str(i.get("DocNumber")) for i in synced.qbo.company.table("Invoice").values())
    by_doc = {str(i.get("DocNumber")): i for i in synced.qbo.company.table("Invoice").values()}
    deleted = {i["doc_number"] for i in synced.books.invoices["LAR01"][:1]}
    open_invoices = [
        i
        for i in synced.tps_rows("invoices")
        if i["status"] == "outstanding" and i["doc_number"] not in deleted
    ]
    assert len(open_invoices) > 40
    for invoice in open_invoices:
        assert in_qbo[invoice["doc_number"]] == 1, invoice["doc_number"]
        pushed = by_doc[invoice["doc_number"]]
        assert Decimal(pushed["TotalAmt"]) == Decimal(invoice["total"])
        assert Decimal(pushed["Balance"]) == Decimal(invoice["balance"])
        lines = sorted(
            Decimal(line["Amount"])
            for line in pushed["Line"]
            if line["DetailType"] == "SalesItemLineDetail"
        )
        by_code: dict[str, Decimal] = {}
        for line in invoice["lines"]:
            by_code[line["work_code"]] = by_code.get(line["work_code"], Decimal(0)) + Decimal(
                line["amount"]
            )
        assert lines == sorted(by_code.values())


def test_reconcile_shows_exactly_the_documented_differences(synced: Synced) -> None:
    rows = synced.session.reconcile()
    differing = {r.client if r.client != "(not in TPS)" else r.name for r in rows if r.difference}
    assert differing == set(DOCUMENTED_DIFFERENCES) | set(WALK_INS)
    credits = {r.client: (r.tps_credits, r.qbo_credits) for r in rows}
    assert credits["HAW01"] == (Decimal("60.00"), Decimal("60.00"))  # overpayment
    assert credits["IRO01"] == (Decimal("1000.00"), Decimal("1000.00"))  # retainer
    assert credits["JUN01"] == (Decimal("150.00"), Decimal("150.00"))  # QBO unapplied payment
    assert credits["KAU01"] == (Decimal("80.00"), Decimal("80.00"))  # QBO credit memo


def test_every_history_row_has_a_status_and_a_message(synced: Synced) -> None:
    rows = synced.items()
    statuses = {"Successful", "Warning", "Failed", "Ignored", "Excluded"}
    assert rows and all(r["status"] in statuses and r["message"].strip() for r in rows)


def test_a_further_plan_writes_nothing_and_two_more_syncs_create_nothing(synced: Synced) -> None:
    session = synced.session
    assert session.plan()[0].writes() == []
    before = (
        {e: len(synced.qbo.company.table(e)) for e in ("Customer", "Invoice", "Payment")},
        {r: len(synced.tps_rows(r)) for r in ("clients", "invoices", "payments", "adjustments")},
    )
    for _ in range(2):
        again = session.sync()
        assert again.counts["Successful"] == 0 and again.counts["Failed"] == 0
        assert session.state.items(again.run_id) == []  # a quiet night: nothing to say
    after = (
        {e: len(synced.qbo.company.table(e)) for e in ("Customer", "Invoice", "Payment")},
        {r: len(synced.tps_rows(r)) for r in ("clients", "invoices", "payments", "adjustments")},
    )
    assert after == before


def test_the_inactive_customer_is_matched_and_reactivated(synced: Synced) -> None:
    cedar = [c for c in synced.customers() if c["DisplayName"] == "Cedar Point Marina"]
    assert len(cedar) == 1 and cedar[0]["Active"] is True
    assert cedar[0]["Id"] == synced.books.customers["Cedar Point Marina"]["Id"]
    first = synced.items(synced.runs[0].run_id)
    client = synced.books.clients["CED01"]["id"]
    (linked,) = [i for i in first if i["record"] == f"tps.Client:{client}"]
    assert "reactivated" in linked["message"]


def test_people_s_typing_never_reaches_qbo_nor_overwrites_a_tidy_customer(synced: Synced) -> None:
    for customer in synced.customers():
        for value in (customer["DisplayName"], customer.get("CompanyName") or ""):
            assert value == value.strip()
        email = (customer.get("PrimaryEmailAddr") or {}).get("Address", "")
        assert email == email.strip()
    alder = synced.books.customers["Alder Creek Dental"]["Id"]
    tidy = synced.qbo.company.table("Customer")[alder]
    assert tidy["DisplayName"] == "Alder Creek Dental"
    assert tidy["PrimaryEmailAddr"]["Address"] == "billing@aldercreek.example"
    birch = synced.qbo.company.table("Customer")[synced.books.customers["Birch Lane LLC"]["Id"]]
    assert birch["DisplayName"] == "Birch Lane LLC" and birch["CompanyName"] == "Birch Lane LLC"
    elm = next(c for c in synced.customers() if c["DisplayName"] == "Elm Street Bakery")
    assert elm["PrimaryEmailAddr"]["Address"].casefold() == "orders@elmstreet.example"


def test_one_qbo_payment_pays_a_tps_invoice_and_a_qbo_made_one_in_the_same_run(
    synced: Synced,
) -> None:
    fir = synced.books.clients["FIR01"]["id"]
    made = next(i for i in synced.tps_rows("invoices") if i["doc_number"] == "Q-7001")
    assert made["client_id"] == fir  # paid in week one, deleted in QBO in week two
    created = next(
        i for i in synced.items(synced.runs[1].run_id) if i["target"].endswith(made["id"])
    )
    assert created["status"] == "Successful" and created["record"].startswith("qbo.Invoice:")
    paid = next(
        p for p in synced.tps_rows("payments") if p["client_id"] == fir and p.get("source") == "qbo"
    )
    assert {a["invoice_id"] for a in paid["applications"]} == {
        made["id"],
        synced.books.invoices["FIR01"][0]["id"],
    }
    # Both paid in week one; the payment was deleted in QBO in week two, so it is void now.
    assert paid["status"] == "void"


def test_a_payment_of_a_paid_and_an_open_invoice_goes_across_with_its_open_part(
    synced: Synced,
) -> None:
    garnet = synced.books.customers.get("Garnet Hill Studio") or next(
        c for c in synced.customers() if c["DisplayName"] == "Garnet Hill Studio"
    )
    payments = [
        p
        for p in synced.qbo.company.table("Payment").values()
        if p["CustomerRef"]["value"] == garnet["Id"]
    ]
    assert [Decimal(p["TotalAmt"]) for p in payments] == [Decimal("100.00")]
    first = synced.items(synced.runs[0].run_id)
    assert any("carried with its open part" in i["message"] for i in first)


def test_walk_in_and_deleted_records_appear_once_with_their_outcome(synced: Synced) -> None:
    rows = synced.items()
    walk_in = [r for r in rows if "Jane Doe (walk-in)" in r["message"] and "Invoice" in r["record"]]
    assert [r["status"] for r in walk_in] == ["Excluded"]
    deleted = [r for r in rows if r["message"].startswith("deleted in QBO")]
    assert [r["status"] for r in deleted] == ["Warning"]
    voided = [r for r in rows if "(deleted in QBO)" in r["message"]]
    assert [r["status"] for r in voided] == ["Successful"] * 3  # two payments, Q-7001
    assert not [r for r in synced.items(synced.runs[2].run_id) if r["status"] == "Failed"]
    q7001 = next(i for i in synced.tps_rows("invoices") if i["doc_number"] == "Q-7001")
    assert q7001["status"] == "void"
    maple = synced.books.clients["MAP01"]["id"]
    from_qbo = [
        p for p in synced.tps_rows("payments") if p["client_id"] == maple and p["source"] == "qbo"
    ]
    assert [p["status"] for p in from_qbo] == ["void"]


def test_demo_firm_awkward_shows_the_documented_differences_only(tmp_path: Path) -> None:
    from tpsqbo_engine import cli
    from tpsqbo_engine.sync.demo import run_demo

    lines: list[str] = []
    assert run_demo(tmp_path, lines.append, "awkward") == 0
    text = "\n".join(lines)
    assert "0 write(s) planned" in text and "2 client(s) with a difference" in text
    assert "NOT DOCUMENTED" not in text and "FAIL" not in text
    assert cli.main(["demo", "--workdir", str(tmp_path), "--firm", "tidy"]) == 2


def test_reconcile_takes_qbo_s_side_from_its_own_report_when_it_answers(
    synced: Synced, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tpsqbo_engine.errors import RetriableConnectorError
    from tpsqbo_engine.sync import ar_report
    from tpsqbo_engine.sync.reconcile import reconcile

    session = synced.session
    from_report = session.reconcile()
    assert session.reconciled_from.startswith("QBO's CustomerBalance report as of ")
    # QBO's own report and the engine's arithmetic over QBO's transactions agree here.
    links = {r["tps_id"]: r["qbo_id"] for r in session.state.links("Client|Customer")}
    assert from_report == reconcile(session.snapshot(whole=True), links)
    real = session.qbo.call

    def no_reports(method: str, path: str, **kwargs: Any) -> Any:
        if path.startswith("reports/"):
            raise RetriableConnectorError("QBO 10000 Unsupported entity or resource path")
        return real(method, path, **kwargs)

    monkeypatch.setattr(session.qbo, "call", no_reports)
    rows = {r.client: r for r in session.reconcile()}
    assert "transactions" in session.reconciled_from
    assert list(rows.values()) == from_report
    customer = next(c["Id"] for c in synced.customers() if c["DisplayName"] == "Hawthorn Legal")
    answer = {
        "Header": {"ReportName": "CustomerBalance"},
        "Columns": {"Column": [{"ColTitle": ""}, {"ColTitle": "Total"}]},
        "Rows": {
            "Row": [
                {"ColData": [{"value": "Hawthorn Legal", "id": customer}, {"value": "999.00"}]},
                {"type": "Section", "Rows": {"Row": []}},
                {"Summary": {}, "ColData": [{"value": "TOTAL"}, {"value": "999.00"}]},
            ]
        },
    }

    def reports(method: str, path: str, **kwargs: Any) -> Any:
        return answer if path.startswith("reports/") else real(method, path, **kwargs)

    monkeypatch.setattr(session.qbo, "call", reports)
    reported = {r.client: r for r in session.reconcile()}
    assert session.reconciled_from.startswith("QBO's CustomerBalance report as of ")
    assert reported["HAW01"].qbo == Decimal("999.00")  # QBO's word, not our arithmetic
    assert reported["HAW01"].qbo_credits == rows["HAW01"].qbo_credits
    assert reported["HAW01"].difference == rows["HAW01"].tps - Decimal("999.00")
    answer = {"Header": {}}
    with pytest.raises(ar_report.UnreadableReport):
        session.reconcile()


def test_a_pack_can_bring_walk_in_customers_into_tps_instead(tmp_path: Path) -> None:
    # The examples live in the checkout, not in the installed wheel.
    pack = Path(__file__).parents[2] / "examples" / "awkward-firm" / "rules"
    with demo_firm(tmp_path, qbo_seed="starter", tps_seed="empty", rules=str(pack)) as (
        session,
        qbo,
        tps,
    ):
        books = build_books(session.tps, session.qbo)
        for record, reason in books.ignored.items():
            session.state.ignore(record, reason)
        session.backup()
        session.sync()
        # The walk-in's invoice moves its Balance, and nothing says QBO's change feed then
        # lists the customer: its record is left as it was, long before the last sync.
        long_ago = (datetime.now(UTC) - timedelta(days=2)).astimezone(qbo.company.offset)
        stamp = long_ago.isoformat(timespec="seconds")
        for customer in qbo.company.table("Customer").values():
            if "walk-in" in customer["DisplayName"]:
                customer["MetaData"] = {"CreateTime": stamp, "LastUpdatedTime": stamp}
        round_one(session.tps, session.qbo, books)
        second = session.sync()
        assert second.counts["Failed"] == 0 and second.counts["Excluded"] == 0
        (walk_in,) = [c for c in tps.firm.table("clients").values() if "walk-in" in c["name"]]
        (invoice,) = [i for i in tps.firm.table("invoices").values() if i["doc_number"] == "W-0001"]
        assert invoice["client_id"] == walk_in["id"] and invoice["balance"] == "75.00"
        assert not [r for r in session.reconcile() if r.difference]
        assert session.plan()[0].writes() == []


def test_a_bill_paid_from_a_renamed_a_r_account_blocks_and_once_ignored_is_named(
    synced: Synced,
) -> None:
    accounts = synced.qbo.company.table("Account").values()
    (receivable,) = [a for a in accounts if a["AccountType"] == "Accounts Receivable"]
    assert receivable["Name"] == "Trade Receivables"  # judged by its type, not its name
    (record,) = [r for r in synced.books.ignored if r.startswith("qbo.BillPayment:")]
    assert "paid from Accounts Receivable" in synced.blocked[record]
    (row,) = [r for r in synced.items(synced.runs[0].run_id) if r["record"] == record]
    assert row["status"] == "Ignored" and synced.books.ignored[record] in row["message"]
    assert row["rule"].startswith("qbo-bill-payments-on-receivables ")
    # Week two: the rent bill paid from A/R. Not ignored: excluded, with the reason, once.
    paid = f"qbo.BillPayment:{synced.books.notes[-1]}"
    rows = [r for r in synced.items() if r["record"] == paid]
    assert [(r["run_id"], r["status"]) for r in rows] == [(synced.runs[2].run_id, "Warning")]
    assert "paid from Accounts Receivable" in rows[0]["message"]
    assert rows[0]["rule"].startswith("qbo-bill-payments-on-receivables ")
    # Its bill posts to an expense account: nothing to say about it.
    assert not [
        r for r in synced.items(synced.runs[2].run_id) if r["record"].startswith("qbo.Bill:")
    ]
