"""A TPS value that is not what the contract says fails its record alone, with a clear
message, and whatever stops a run marks it stopped, never left `running`."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tpsqbo_engine.amounts import unreadable
from tpsqbo_engine.connectors.tps.client import TpsClient
from tpsqbo_engine.filters import ExpressionError
from tpsqbo_engine.sync import chunks
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.executor import Executor
from tpsqbo_engine.sync.mirror import Written
from tpsqbo_engine.sync.reconcile import tps_ledger
from tpsqbo_engine.sync.snapshot import Snapshot


def _failed(session: Any, run_id: int) -> dict[str, str]:
    return {i["record"]: i["message"] for i in session.state.items(run_id, "Failed")}


@pytest.mark.parametrize(("sent", "why"), [("NaN", "NaN or Infinity"), ("12,50", "decimal comma")])
def test_an_invoice_line_amount_that_is_not_money_fails_that_invoice_alone(
    tmp_path: Path, sent: str, why: str
) -> None:
    with demo_firm(tmp_path) as (session, qbo, tps):
        invoice = tps.firm.table("invoices")["inv-1002"]
        good = dict(invoice["lines"][0])
        invoice["lines"][0]["amount"] = sent
        session.backup()
        summary = session.sync()
        failed = _failed(session, summary.run_id)
        message = failed.pop("tps.Invoice:inv-1002")
        assert "TPS sent invoices inv-1002 whose lines[0].amount is not money" in message
        assert why in message and "rules/invoices.yaml:" in message
        # Only what depends on it waits; everything else is written.
        assert all("depends on tps.Invoice:inv-1002" in m for m in failed.values())
        assert qbo.company.find_by("Invoice", "DocNumber", "HP-1002") is None
        assert summary.counts["Successful"] > 100 and qbo.company.table("Payment")
        assert session.state.runs(1)[0]["status"] == "partial"

        # Corrected in TPS, the next run writes it, at its amount.
        lines = [good, *invoice["lines"][1:]]
        tps.firm.update(
            "invoices", "inv-1002", {"lines": lines, "version": invoice["version"]}, partial=True
        )
        again = session.sync()
        assert "tps.Invoice:inv-1002" not in _failed(session, again.run_id)
        written = qbo.company.find_by("Invoice", "DocNumber", "HP-1002")
        assert written is not None
        assert Decimal(str(written["TotalAmt"])) == Decimal(str(invoice["total"]))


def test_a_create_answered_with_something_that_is_not_the_record_fails_that_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with demo_firm(tmp_path) as (session, qbo, _):
        session.backup()
        session.sync()
        company = qbo.company
        customer = company.find_by("Customer", "DisplayName", "Red Rock Diner")
        item = company.find_by("Item", "Name", "Business advisory")
        assert customer is not None and item is not None
        line = {
            "Amount": Decimal("90.00"),
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
        }
        company.create(
            "Invoice",
            {"CustomerRef": {"value": customer["Id"]}, "DocNumber": "Q-77", "Line": [line]},
        )
        real = TpsClient._call

        def queued(self: TpsClient, method: str, path: str, **kwargs: Any) -> Any:
            answer = real(self, method, path, **kwargs)
            return {"status": "queued"} if method == "POST" else answer

        monkeypatch.setattr(TpsClient, "_call", queued)
        summary = session.sync()
        [(record, message)] = _failed(session, summary.run_id).items()
        assert record.startswith("qbo.Invoice:")
        # Not the record asked for: it may have been made, so the next run asks again under
        # the same Idempotency-Key (tests/sync/test_write_identity.py).
        assert message.startswith("TPS answered a new invoices record with no record id")
        assert "the next run sends the same request" in message
        assert session.state.runs(1)[0]["status"] == "partial"


class Unexpected(Exception):
    """Not an EngineError: a bug, or a library's error nothing turned into one."""


@pytest.mark.parametrize(
    ("owner", "method", "stop"),
    [
        (Executor, "apply", Unexpected("boom")),
        (Executor, "apply", KeyboardInterrupt()),
        (Written, "flush", Unexpected("boom")),
    ],
)
def test_whatever_stops_a_run_marks_it_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, owner: type, method: str, stop: BaseException
) -> None:
    def stopping(*_: Any, **__: Any) -> None:
        raise stop

    with demo_firm(tmp_path) as (session, _, _):
        session.backup()
        monkeypatch.setattr(owner, method, stopping)
        with pytest.raises(type(stop)):
            session.sync()
        [run] = session.state.runs(1)
        assert run["status"] == "stopped" and run["finished_at"]
        monkeypatch.undo()
        assert session.sync().counts["Failed"] == 0  # the next run is a whole one again


def test_a_chunked_initial_run_stopped_between_chunks_is_marked_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flushed: list[int] = []

    def flush_once(self: Written) -> None:
        flushed.append(1)
        if len(flushed) > 1:
            raise Unexpected("boom")

    with demo_firm(tmp_path) as (session, _, _):
        session.backup()
        monkeypatch.setattr(chunks, "CHUNK_CLIENTS", 15)
        monkeypatch.setattr(Written, "flush", flush_once)
        with pytest.raises(Unexpected):
            session.sync()
        [run] = session.state.runs(1)
        assert (run["phase"], run["status"], len(flushed)) == ("initial", "stopped", 2)
        assert session.state.items(run["id"], "Successful")  # the first chunk was written


def test_reconcile_names_a_tps_amount_that_is_not_money() -> None:
    kept = unreadable("TPS sent invoices inv-1 whose balance is not money: NaN; correct it")
    invoice = {"id": "inv-1", "client_id": "c-1", "status": "outstanding", "balance": kept}
    with pytest.raises(ExpressionError, match=r"^TPS sent invoices inv-1 whose balance"):
        tps_ledger(Snapshot(tps={"Invoice": {"inv-1": invoice}}))
    invoice["balance"] = Decimal("125.50")
    assert tps_ledger(Snapshot(tps={"Invoice": {"inv-1": invoice}})).net("c-1") == Decimal("125.50")
