"""`reconcile` compares like with like: a customer QBO's CustomerBalance report has no row for
(its open invoices equal its credits) nets to 0, not to minus its credits; and the report is
asked as of the latest transaction date either side holds, so a postdated invoice counted on
TPS's side is counted on QBO's too."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.retry import RetryPolicy
from tpsqbo_engine.sync.ar_report import customer_balances
from tpsqbo_engine.sync.demo import demo_firm, november_invoice
from tpsqbo_engine.sync.reconcile import Balance, as_of, qbo_ledger
from tpsqbo_engine.sync.report import write_report
from tpsqbo_engine.sync.session import Session
from tpsqbo_engine.sync.snapshot import Snapshot
from tpsqbo_engine.watch.runs import reconcile_run


def _settled(customer: str = "5") -> Snapshot:
    """A customer with a 100.00 open invoice and a 100.00 unapplied payment: net 0."""
    ref = {"value": customer}
    return Snapshot(
        qbo={
            "Invoice": {"1": {"Id": "1", "CustomerRef": ref, "Balance": Decimal("100.00")}},
            "Payment": {"2": {"Id": "2", "CustomerRef": ref, "UnappliedAmt": Decimal("100.00")}},
        }
    )


def test_a_customer_absent_from_the_report_nets_to_zero() -> None:
    assert qbo_ledger(_settled()).net("5") == Decimal("0.00")
    assert qbo_ledger(_settled(), {}).net("5") == Decimal("0.00")
    assert qbo_ledger(_settled(), {"5": Decimal("0")}).net("5") == Decimal("0.00")
    assert qbo_ledger(_settled(), {}).credits["5"] == Decimal("100.00")  # still shown


def test_the_report_still_overrides_the_customers_it_lists() -> None:
    reported = qbo_ledger(_settled(), {"5": Decimal("40.00"), "7": Decimal("12.00")})
    assert reported.net("5") == Decimal("40.00")
    assert reported.net("7") == Decimal("12.00")  # a customer with no transaction read


def test_as_of_is_the_latest_transaction_date_and_at_least_today() -> None:
    today = dt.date(2026, 11, 27)
    assert as_of(Snapshot(), today) == today
    snapshot = Snapshot(
        tps={"Invoice": {"i": {"date": "2026-12-31"}}, "Client": {"c": {"date": "2030-01-01"}}},
        qbo={"Payment": {"p": {"TxnDate": "2027-01-02"}}, "Invoice": {"q": {"TxnDate": "x"}}},
    )
    assert as_of(snapshot, today) == dt.date(2027, 1, 2)  # clients are not transactions
    assert as_of(Snapshot(tps={"Payment": {"p": {"date": "2025-01-01"}}}), today) == today


@dataclass
class _Recording:
    """Stands in for QboClient: records what was asked, answers an empty report."""

    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(3, 0.0))
    asked: list[dict[str, Any]] = field(default_factory=list)

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        self.asked.append({"method": method, "path": path, **kwargs})
        return {"Header": {"ReportName": "CustomerBalance"}, "Rows": {}}


def test_the_report_is_asked_as_of_the_date_given() -> None:
    qbo = _Recording()
    assert customer_balances(cast(QboClient, qbo), dt.date(2026, 12, 31)) == {}
    (asked,) = qbo.asked
    assert asked["path"] == "reports/CustomerBalance"
    assert asked["params"]["report_date"] == "2026-12-31"
    assert qbo.retry.attempts == 3  # one attempt for the report, the client's policy after


def _row(session: Session, client_id: str) -> Balance:
    (client,) = [c for c in session.tps.records("clients") if c["id"] == client_id]
    (row,) = [b for b in session.reconcile() if b.client == client["code"]]
    return row


def test_a_client_whose_retainer_equals_its_open_invoices_reconciles(tmp_path: Path) -> None:
    with demo_firm(tmp_path) as (session, _qbo, _tps):
        session.backup()
        session.sync()
        clients = {c["code"]: c["id"] for c in session.tps.records("clients")}
        owing = next(
            b for b in session.reconcile() if b.tps > 0 and not b.tps_credits and not b.difference
        )
        retainer = {
            "client_id": clients[owing.client],
            "date": dt.date.today().isoformat(),
            "amount": str(owing.tps),
            "method": "EFT",
            "reference": "retainer",
            "applications": [],
        }
        session.tps.create("payments", retainer, key="retainer-equal")
        assert session.sync().counts.get("Failed", 0) == 0
        (link,) = [
            r["qbo_id"]
            for r in session.state.links("Client|Customer")
            if r["tps_id"] == clients[owing.client]
        ]
        report = customer_balances(session.qbo, dt.date.today())
        assert report is not None and link not in report  # QBO lists no row for a net of 0
        row = _row(session, clients[owing.client])
        assert (row.tps, row.qbo, row.difference) == (Decimal("0.00"),) * 3
        assert row.qbo_credits == row.tps_credits == owing.tps
        assert f"report as of {dt.date.today().isoformat()} " in session.reconciled_from
        assert [b.client for b in session.reconcile() if b.difference] == []


def test_a_postdated_invoice_in_both_systems_is_no_difference(tmp_path: Path) -> None:
    later = dt.date.today() + dt.timedelta(days=40)
    with demo_firm(tmp_path) as (session, _qbo, _tps):
        session.backup()
        session.sync()
        client = next(
            c for c in session.tps.records("clients") if c["name"] == "Garcia Landscaping"
        )
        before = _row(session, client["id"])
        invoice = november_invoice(client["id"]) | {
            "date": later.isoformat(),
            "due_date": (later + dt.timedelta(days=30)).isoformat(),
        }
        session.tps.create("invoices", invoice, key="postdated")
        assert session.sync().counts.get("Failed", 0) == 0
        row = _row(session, client["id"])
        assert row.tps == before.tps + Decimal("380.00")
        assert (row.qbo, row.difference) == (row.tps, Decimal("0.00"))
        assert session.reconciled_from == (
            f"QBO's CustomerBalance report as of {later.isoformat()} (the latest transaction "
            "date either side holds, today at the earliest)"
        )
        assert [b.client for b in session.reconcile() if b.difference] == []
        page = write_report(session, None, tmp_path / "report.html").read_text()
        assert f"QBO&#39;s CustomerBalance report as of {later.isoformat()}" in page
        watched = reconcile_run(session)  # `watch --reconcile`: the history says it too
        (summary,) = [i for i in session.state.items(watched.run_id) if i["record"] == "reconcile"]
        assert " client(s) compared, 0 with a difference; QBO's side from " in summary["message"]
        assert f"report as of {later.isoformat()} " in summary["message"]
