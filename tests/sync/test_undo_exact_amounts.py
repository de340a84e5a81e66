"""The journal keeps a before-image's amounts as exact text, never as floats, and `undo`
sets them back exactly; journals written when amounts were JSON numbers stay readable."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tpsqbo_engine.connectors.qbo import wire
from tpsqbo_engine.sync import before_image
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.session import Session
from tpsqbo_engine.sync.undo import UndoRefused, plan_undo
from tpsqbo_engine.sync.undo_apply import apply_undo


def _no_float(text: str) -> Any:
    raise AssertionError(f"the journal holds the number {text} as a JSON float")


def _amounts(record: dict[str, Any]) -> list[Decimal]:
    return [Decimal(str(line["Amount"])) for line in record["Line"]]


def _repriced(session: Session, tps: Any, qbo: Any) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """A run that changes the amount of an invoice in QBO: (the run, the invoice as QBO
    had it before, its journal row)."""
    session.backup()
    session.sync()
    invoice = next(i for i in tps.firm.table("invoices").values() if i["status"] == "outstanding")
    pushed = qbo.company.find_by("Invoice", "DocNumber", invoice["doc_number"])
    lines = [dict(line) for line in invoice["lines"]]
    lines[0]["amount"] = str(Decimal(lines[0]["amount"]) + Decimal("20.00"))
    session.tps.update("invoices", invoice["id"], {"lines": lines}, version=invoice["version"])
    run = session.sync().run_id
    (row,) = [
        r
        for r in session.state.journal(run)
        if r["target"] == f"qbo.Invoice:{pushed['Id']}" and r["outcome"] == "written"
    ]
    assert row["operation"] == "update"
    return run, pushed, row


def test_an_updated_invoice_is_journaled_without_floats_and_restored_exactly(
    tmp_path: Path,
) -> None:
    with demo_firm(tmp_path) as (session, qbo, tps):
        run, before, row = _repriced(session, tps, qbo)
        assert _amounts(qbo.company.get("Invoice", before["Id"])) != _amounts(before)

        raw = json.loads(row["before"], parse_float=_no_float)  # fails on any JSON float
        kept = raw["fields"]["Line"][0]["Amount"]
        assert kept == {"$decimal": str(before["Line"][0]["Amount"])}  # as QBO sent it
        image = before_image.loads(row["before"])
        assert image["fields"]["Line"][0]["Amount"] == Decimal(str(before["Line"][0]["Amount"]))

        summary = apply_undo(session, plan_undo(session, run), "test")
        assert summary.complete, session.state.items(summary.run_id)
        now = qbo.company.get("Invoice", before["Id"])
        assert _amounts(now) == _amounts(before)
        assert Decimal(str(now["TotalAmt"])) == Decimal(str(before["TotalAmt"]))


def test_a_journal_written_with_json_numbers_is_read_as_decimal(tmp_path: Path) -> None:
    with demo_firm(tmp_path) as (session, qbo, tps):
        run, before, row = _repriced(session, tps, qbo)
        image = before_image.loads(row["before"])
        old = wire.dumps(image)  # as journals were written: amounts as JSON floats
        assert '"Amount": {' not in old and '"Amount": ' in old
        with session.state.transaction():
            session.state.db.table("journal").update(row["id"], {"before": old})

        undo = plan_undo(session, run)
        (step,) = [s for s in undo.steps if s.journal_id == row["id"]]
        amount = step.fields["Line"][0]["Amount"]
        assert isinstance(amount, Decimal) and amount == Decimal(str(before["Line"][0]["Amount"]))
        assert apply_undo(session, undo, "test").complete
        assert _amounts(qbo.company.get("Invoice", before["Id"])) == _amounts(before)


def test_a_before_image_holds_no_float_whatever_it_is_given() -> None:
    fields = {"Line": [{"Amount": Decimal("120.00"), "Qty": 2, "UnitPrice": 60.5}], "N": None}
    text = before_image.dumps("qbo.Invoice:1", fields)
    json.loads(text, parse_float=_no_float)
    assert '{"$decimal": "120.00"}' in text and '{"$decimal": "60.5"}' in text
    line = before_image.loads(text)["fields"]["Line"][0]
    assert line == {"Amount": Decimal("120.00"), "Qty": 2, "UnitPrice": Decimal("60.5")}
    assert str(line["Amount"]) == "120.00"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"written": "qbo.Invoice:1", "fields": {"Amount": {"$decimal": "ten"}}}', "not a number"),
        ('{"fields": {}}', "names no record"),
        ('{"written": "qbo.Invoice:1", "fields": [1]}', "not an object"),
        ("{", "not JSON"),
    ],
)
def test_a_before_image_that_cannot_be_read_refuses_the_undo_saying_which(
    tmp_path: Path, text: str, said: str
) -> None:
    with pytest.raises(before_image.UnreadableImage, match=said):
        before_image.loads(text)
    from tpsqbo_engine.sync.undo import _step

    row = {"id": 9, "target": "qbo.Invoice:1", "before": text}
    with pytest.raises(UndoRefused, match=r"before-image of write 9 \(qbo\.Invoice:1\)"):
        _step(row)
