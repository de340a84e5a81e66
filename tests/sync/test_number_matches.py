"""A TPS invoice and a QBO invoice of the same number are linked only when they are the same
customer's and the sync takes the QBO one in: numbers repeat across years, offices and
earlier systems, and linking rewrites the record found. Books as firms have them: a walk-in
customer only QBO knows whose paid 2021 invoice carries an open TPS invoice's number, an
open invoice of another customer, a number the same client used years ago, and an open
invoice already in QBO for the right client."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer
from tpsqbo_engine.sync import chunks
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.plan import Operation
from tpsqbo_engine.sync.session import Session

Record = dict[str, Any]
WALK_INS = Path(__file__).parents[2] / "examples" / "awkward-firm" / "rules"


def _customer(qbo: QboEmulatorServer, name: str, email: str | None = None) -> str:
    body: Record = {"DisplayName": name}
    if email:
        body["PrimaryEmailAddr"] = {"Address": email}
    return str(qbo.company.create("Customer", body)["Id"])


def _invoice(
    qbo: QboEmulatorServer, customer: str, number: str, day: str, amount: str, paid: bool = False
) -> Record:
    """An invoice of one line; QBO's duplicate-number check is the company's setting, and
    books brought over from an earlier system hold repeated numbers: they are let in."""
    company = qbo.company
    item = company.find_by("Item", "Name", "Consulting")
    line = {
        "Amount": Decimal(amount),
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
    }
    invoice = company.create(
        "Invoice",
        {"CustomerRef": {"value": customer}, "DocNumber": number, "TxnDate": day, "Line": [line]},
        allow_duplicate_docnumber=True,
    )
    if paid:
        bank = next(a for a in company.table("Account").values() if a["AccountType"] == "Bank")
        company.create(
            "Payment",
            {
                "CustomerRef": {"value": customer},
                "TotalAmt": Decimal(amount),
                "TxnDate": day,
                "DepositToAccountRef": {"value": bank["Id"]},
                "Line": [
                    {
                        "Amount": Decimal(amount),
                        "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}],
                    }
                ],
            },
        )
    return dict(company.get("Invoice", invoice["Id"]))


class Books:
    """The demo firm with QBO history of its own, synced once."""

    def __init__(self, session: Session, qbo: QboEmulatorServer) -> None:
        self.session, self.qbo = session, qbo
        walk_in = _customer(qbo, "Old Walk-in")
        # Côté & Fils Ltée's open TPS invoice HP-1002: the walk-in's paid 2021 invoice
        self.history = _invoice(qbo, walk_in, "HP-1002", "2021-03-01", "99.00", paid=True)
        # Müller GmbH's open TPS invoice HP-1008: the walk-in's open one
        self.open_other = _invoice(qbo, walk_in, "HP-1008", "2025-12-01", "150.00")
        # Paulsen Medical Supplies (matched by email) numbered an invoice HP-1006 in 2019
        paulsen = _customer(qbo, "Paulsen Medical", "ap@paulsenmedic.example")
        self.reused = _invoice(qbo, paulsen, "HP-1006", "2019-05-10", "300.00", paid=True)
        # Red Rock Diner's open HP-1005 is in QBO already, with a line since corrected in TPS
        red_rock = _customer(qbo, "Red Rock Diner", "ap@redrockdiner.example")
        self.same = _invoice(qbo, red_rock, "HP-1005", "2026-06-25", "1800.00")
        self.red_rock = red_rock
        session.backup()
        self.plan = {op.record: op for op in session.plan()[0].operations}
        self.result = session.sync()
        self.counts = self.result.counts

    def now(self, invoice: Record) -> Record:
        return dict(self.qbo.company.get("Invoice", invoice["Id"]))

    def linked(self, tps_id: str) -> str | None:
        rows = self.session.state.links("Invoice|Invoice")
        return next((r["qbo_id"] for r in rows if r["tps_id"] == tps_id), None)

    def outcome(self, record: str) -> Record:
        (item,) = self.session.state.items(self.result.run_id, record=record)
        return item


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Books]:
    with demo_firm(tmp_path_factory.mktemp("numbers")) as (session, qbo, _tps):
        yield Books(session, qbo)


def _unchanged(books: Books, before: Record) -> None:
    now = books.now(before)
    assert now["SyncToken"] == before["SyncToken"]  # nothing was written to it at all
    for name in ("CustomerRef", "TxnDate", "TotalAmt", "Balance", "Line", "LinkedTxn"):
        assert now.get(name) == before.get(name), name


def test_another_customers_paid_history_is_neither_linked_nor_rewritten(books: Books) -> None:
    history = books.history
    _unchanged(books, history)
    assert books.now(history)["CustomerRef"]["name"] == "Old Walk-in"
    assert books.now(history)["TotalAmt"] == Decimal("99.00")
    assert books.linked("inv-1002") is None
    item = books.outcome("tps.Invoice:inv-1002")
    assert (item["status"], item["action"]) == ("Warning", "review")
    message = item["message"]
    assert message.startswith(
        f"HP-1002 exists in QBO for Old Walk-in (qbo.Invoice:{history['Id']}, 2021-03-01), "
        "not for Côté & Fils Ltée, which this sync leaves out: Paid in full in QBO"
    )
    assert "that would move it to another customer and rewrite it" in message
    assert message.endswith(
        f"renumber one of the two, or, if they are the same, pin inv-1002 to {history['Id']} "
        "in the pins file (mapping invoices)"
    )
    # no second HP-1002 either: QBO would refuse it (6140), and it is not the firm's intent
    numbers = [i["DocNumber"] for i in books.qbo.company.table("Invoice").values()]
    assert numbers.count("HP-1002") == 1


def test_another_customers_open_invoice_is_a_review_naming_both(books: Books) -> None:
    other = books.open_other
    op = books.plan["tps.Invoice:inv-1008"]
    assert (op.action, op.level, op.target) == ("review", "Warning", "qbo.Invoice")
    assert op.message.startswith(
        f"HP-1008 exists in QBO for Old Walk-in (qbo.Invoice:{other['Id']}, 2025-12-01), "
        "not for Müller GmbH. Not linked (that would move it to another customer) nor "
        "created (that would repeat HP-1008 in QBO, which QBO refuses)"
    )
    assert "leaves out" not in op.message  # open A/R: only the customer stands in the way
    _unchanged(books, other)
    assert books.linked("inv-1008") is None


def test_a_number_the_same_client_used_years_ago_stays_history(books: Books) -> None:
    reused = books.reused
    _unchanged(books, reused)
    assert books.linked("inv-1006") is None
    message = books.outcome("tps.Invoice:inv-1006")["message"]
    assert message.startswith(
        f"HP-1006 exists in QBO for Paulsen Medical (qbo.Invoice:{reused['Id']}, 2019-05-10), "
        "which this sync leaves out: Paid in full in QBO before the first sync"
    )
    assert "not for" not in message and "that would rewrite it)" in message


def test_the_right_customers_open_invoice_is_still_linked_and_brought_up_to_date(
    books: Books,
) -> None:
    same = books.same
    op = books.plan["tps.Invoice:inv-1005"]
    assert (op.action, op.target) == ("link", f"qbo.Invoice:{same['Id']}")
    assert books.linked("inv-1005") == same["Id"]
    now = books.now(same)
    assert now["CustomerRef"]["value"] == books.red_rock
    assert now["TotalAmt"] == Decimal("1874.47")  # TPS's lines now
    item = books.outcome("tps.Invoice:inv-1005")
    assert item["status"] == "Successful" and "linked to the existing" in item["message"]


def test_what_refers_to_a_reviewed_invoice_says_it_waits_for_that_review(books: Books) -> None:
    items = books.session.state.items(books.result.run_id, "Failed")
    failed = {i["record"]: i["message"] for i in items}
    assert books.counts["Failed"] == len(failed) == 4
    assert set(failed) == {
        "tps.Payment:pay-1002",  # pays inv-1002
        "tps.Adjustment:adj-1001",  # decreases inv-1002
        "tps.Adjustment:adj-1004",  # decreases inv-1006
        "tps.Adjustment:adj-1005",  # decreases inv-1008
    }
    assert failed["tps.Payment:pay-1002"].endswith(
        "tps.Invoice:inv-1002 waits for review, so it is not in qbo.Invoice: HP-1002 exists "
        f"in QBO for Old Walk-in (qbo.Invoice:{books.history['Id']}, 2021-03-01), not for "
        "Côté & Fils Ltée, which this sync leaves out: Paid in full in QBO before the first "
        "sync (history); only open A/R goes across; settle the review of "
        "tps.Invoice:inv-1002 (its Warning) first"
    )


def test_the_next_run_leaves_them_alone_too(books: Books) -> None:
    books.session.sync()
    for invoice in (books.history, books.open_other, books.reused):
        _unchanged(books, invoice)
    assert [books.linked(i) for i in ("inv-1002", "inv-1006", "inv-1008")] == [None] * 3


def test_a_pin_settles_a_review_on_the_next_run_and_an_ignored_record_is_not_found(
    tmp_path: Path,
) -> None:
    with demo_firm(tmp_path) as (session, qbo, _tps):
        paulsen = _customer(qbo, "Paulsen Medical", "ap@paulsenmedic.example")
        reused = _invoice(qbo, paulsen, "HP-1006", "2019-05-10", "300.00", paid=True)
        red_rock = _customer(qbo, "Red Rock Diner", "ap@redrockdiner.example")
        same = _invoice(qbo, red_rock, "HP-1005", "2026-06-25", "1800.00")
        session.state.ignore(f"qbo.Invoice:{same['Id']}", "entered twice by the bookkeeper")
        session.backup()
        first = session.sync().run_id
        (ignored,) = session.state.items(first, record="tps.Invoice:inv-1005")
        assert ignored["message"].startswith(
            f"HP-1005 exists in QBO for Red Rock Diner (qbo.Invoice:{same['Id']}, 2026-06-25), "
            "which this sync leaves out: ignored by hand: entered twice by the bookkeeper."
        )
        (held,) = session.state.items(first, record="tps.Invoice:inv-1006")
        assert (held["action"], held["status"]) == ("review", "Warning")
        # The firm looks: it is the same invoice, numbered in 2019 and billed again.
        (tmp_path / "pins.yaml").write_text(
            f"pins:\n  - {{mapping: invoices, source: inv-1006, target: '{reused['Id']}'}}\n",
            encoding="utf-8",
        )
        second = session.sync().run_id  # nothing changed in TPS: the review is looked at again
        (settled,) = session.state.items(second, record="tps.Invoice:inv-1006")
        assert settled["status"] == "Successful"
        assert settled["message"].startswith(f"linked to the existing qbo.Invoice:{reused['Id']}")
        (again,) = session.state.items(second, record="tps.Invoice:inv-1005")
        assert again["action"] == "review"  # still ignored, still said


def _reviews(plan: list[Operation], record: str) -> Operation:
    (op,) = [o for o in plan if o.record == record]
    assert (op.action, op.level) == ("review", "Warning"), op.message
    return op


def test_a_pack_bringing_walk_ins_into_tps_matches_both_ways_by_customer(
    tmp_path: Path,
) -> None:
    """With walk-in customers becoming TPS clients, a walk-in's open QBO invoice numbered
    like another client's open TPS invoice is not linked from either side."""
    with demo_firm(tmp_path, rules=str(WALK_INS)) as (session, qbo, _tps):
        walk_in = _customer(qbo, "Jane Walk-in")
        theirs = _invoice(qbo, walk_in, "HP-1011", "2026-10-30", "75.00")
        paid = qbo.company.create(
            "Payment",
            {
                "CustomerRef": {"value": walk_in},
                "TotalAmt": Decimal("25.00"),
                "Line": [
                    {
                        "Amount": Decimal("25.00"),
                        "LinkedTxn": [{"TxnId": theirs["Id"], "TxnType": "Invoice"}],
                    }
                ],
            },
        )
        plan = session.plan()[0].operations
        to_qbo = _reviews(plan, "tps.Invoice:inv-1011")
        assert to_qbo.message.startswith(
            f"HP-1011 exists in QBO for Jane Walk-in (qbo.Invoice:{theirs['Id']}, 2026-10-30), "
            "not for Cascade Plumbing & Heating."
        )
        to_tps = _reviews(plan, f"qbo.Invoice:{theirs['Id']}")
        assert to_tps.message.startswith(
            "HP-1011 exists in TPS for Cascade Plumbing & Heating (tps.Invoice:inv-1011, "
            "2026-11-10), not for Jane Walk-in. Not linked (that would move it to another "
            "customer) nor created (that would repeat HP-1011 in TPS):"
        )
        (waits,) = [o for o in plan if o.record == f"qbo.Payment:{paid['Id']}"]
        assert waits.level == "Failed" and waits.message.endswith(
            f"qbo.Invoice:{theirs['Id']} waits for review, so it is not in tps.Invoice: HP-1011 "
            "exists in TPS for Cascade Plumbing & Heating (tps.Invoice:inv-1011, 2026-11-10), "
            f"not for Jane Walk-in; settle the review of qbo.Invoice:{theirs['Id']} (its "
            "Warning) first"
        )
        # the walk-in still becomes a TPS client: only its invoice waits
        walk_in_op = next(o for o in plan if o.record == f"qbo.Customer:{walk_in}")
        assert walk_in_op.action == "create"


def test_a_firm_synced_in_chunks_gets_the_same_reviews(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big firm's initial sync plans a chunk of clients at a time, each with its own
    customers' QBO invoices; another customer's invoice of the same number is in another
    chunk (the walk-in's, in the rest), and is found there to be named, not linked."""
    monkeypatch.setattr(chunks, "CHUNK_CLIENTS", 10)
    with demo_firm(tmp_path) as (session, qbo, _tps):
        books = Books(session, qbo)
        assert "planned and applied in 4 chunks" in " ".join(books.result.notes)
        for invoice in (books.history, books.open_other, books.reused):
            _unchanged(books, invoice)
        held = {
            record: books.outcome(f"tps.Invoice:{record}")
            for record in ("inv-1002", "inv-1006", "inv-1008")
        }
        assert {(i["status"], i["action"]) for i in held.values()} == {("Warning", "review")}
        assert held["inv-1002"]["message"].startswith(
            f"HP-1002 exists in QBO for Old Walk-in (qbo.Invoice:{books.history['Id']}, "
            "2021-03-01), not for Côté & Fils Ltée, which this sync leaves out"
        )
        assert held["inv-1008"]["message"].startswith(
            f"HP-1008 exists in QBO for Old Walk-in (qbo.Invoice:{books.open_other['Id']}, "
            "2025-12-01), not for Müller GmbH. Not linked"
        )
        assert "exists in QBO for Paulsen Medical" in held["inv-1006"]["message"]
        assert books.linked("inv-1005") == books.same["Id"]
        assert [books.linked(i) for i in ("inv-1002", "inv-1006", "inv-1008")] == [None] * 3


def test_a_pack_matching_payments_by_reference_keeps_to_the_customer_too(
    tmp_path: Path,
) -> None:
    """The customer a record names is the `CustomerRef` its mapping computes, whatever the
    mapping: a pack that matches payments by their cheque number gets the same guard."""
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "pack.yaml").write_text(
        "kind: pack\nid: payments-by-reference\nversion: 1.0.0\n"
        "extends: [tps-qbo-standard]\npatches:\n  - document: payments\n"
        "    set: {match: [{source: reference, target: PaymentRefNum}]}\n",
        encoding="utf-8",
    )
    with demo_firm(tmp_path / "firm", rules=str(pack)) as (session, qbo, _tps):
        walk_in = _customer(qbo, "Old Walk-in")
        theirs = qbo.company.create(
            "Payment",
            {
                "CustomerRef": {"value": walk_in},
                "TotalAmt": Decimal("40.00"),
                "TxnDate": "2024-02-02",
                "PaymentRefNum": "43567",  # Northwind Traders' cheque pay-1005 has it too
            },
        )
        plan = session.plan()[0].operations
        op = _reviews(plan, "tps.Payment:pay-1005")
        assert op.message.startswith(
            f"43567 exists in QBO for Old Walk-in (qbo.Payment:{theirs['Id']}, 2024-02-02), "
            "not for Northwind Traders."
        )
        # the others, whose references QBO does not hold, are created as before
        created = [o for o in plan if o.mapping == "payments" and o.action == "create"]
        assert len(created) > 10


def test_of_two_qbo_invoices_of_one_number_the_clients_own_is_linked(tmp_path: Path) -> None:
    """A number used twice in QBO (a walk-in's 2021 invoice, and the client's open one):
    not ambiguous, as only one is the client's and in the sync."""
    with demo_firm(tmp_path) as (session, qbo, _tps):
        walk_in = _customer(qbo, "Old Walk-in")
        _invoice(qbo, walk_in, "HP-1003", "2021-03-01", "99.00", paid=True)
        smith = _customer(qbo, "Smith Holdings Group", "ap@smithholding.example")
        own = _invoice(qbo, smith, "HP-1003", "2026-11-14", "1991.80")
        plan = {op.record: op for op in session.plan()[0].operations}
        op = plan["tps.Invoice:inv-1003"]
        assert (op.action, op.target) == ("link", f"qbo.Invoice:{own['Id']}")


def test_a_later_run_finds_the_qbo_invoice_of_a_new_invoices_number(tmp_path: Path) -> None:
    """A run after the first reads what changed; a new TPS invoice whose number a QBO
    invoice of years ago carries still meets it, unchanged as it is: a review, not QBO's
    refusal of the number."""
    with demo_firm(tmp_path) as (session, qbo, tps):
        walk_in = _customer(qbo, "Old Walk-in")
        history = _invoice(qbo, walk_in, "HP-2001", "2021-03-01", "99.00", paid=True)
        long_ago = "2021-03-05T10:00:00-08:00"  # not among the changes a later run reads
        for entity in ("Invoice", "Customer"):
            for record in qbo.company.table(entity).values():
                if record["Id"] in (history["Id"], walk_in):
                    record["MetaData"] = {"CreateTime": long_ago, "LastUpdatedTime": long_ago}
        session.backup()
        session.sync()
        base = tps.firm.table("invoices")["inv-1002"]
        new = tps.firm.create(
            "invoices",
            {
                "client_id": base["client_id"],
                "date": "2026-11-20",
                "due_date": "2026-12-20",
                "invoice_code": "HP",
                "number": 2001,
                "doc_number": "HP-2001",
                "lines": [{**base["lines"][0], "amount": "120.00"}],
                "taxes": [],
            },
        )
        run = session.sync().run_id
        (item,) = session.state.items(run, record=f"tps.Invoice:{new['id']}")
        assert (item["status"], item["action"]) == ("Warning", "review")
        assert item["message"].startswith(
            f"HP-2001 exists in QBO for Old Walk-in (qbo.Invoice:{history['Id']}, 2021-03-01), "
            "not for Côté & Fils Ltée"
        )
        now = qbo.company.get("Invoice", history["Id"])
        assert now["SyncToken"] == history["SyncToken"] and now["TotalAmt"] == Decimal("99.00")
