"""TPS refusing a write on a void invoice (`invoice_void`) is explained by what the QBO
record is to TPS: a payment applied to the invoice, or a decrease adjustment on it (a credit
memo a pack maps to one), each with its own record to unapply."""

from __future__ import annotations

from typing import Any, cast

from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.tps.client import TpsRejected
from tpsqbo_engine.errors import SkippableConnectorError
from tpsqbo_engine.sync import refusals
from tpsqbo_engine.sync.plan import Operation

NO_QBO = cast(QboClient, None)  # a TPS refusal is explained without reading QBO


def _explained(record: str, target: str, message: str) -> str:
    op = Operation.of("m", record, "create", target)
    error = TpsRejected(message, status=422, code="invoice_void")
    out: Any = refusals.explained(NO_QBO, op, error)
    assert isinstance(out, SkippableConnectorError)
    return str(out.message)


def test_a_decrease_on_a_void_invoice_is_a_credit_memo_to_unapply() -> None:
    text = _explained(
        "qbo.CreditMemo:12",
        "tps.Adjustment",
        "invoice INV-1 is void: a decrease adjustment cannot be applied to it",
    )
    assert text.startswith("invoice INV-1 is void: a decrease adjustment cannot be applied")
    assert "QBO CreditMemo 12 is a decrease on an invoice voided in TPS" in text
    assert "unapply the credit memo from that invoice in QBO" in text
    assert "payment" not in text


def test_a_decrease_from_another_record_names_that_record() -> None:
    text = _explained("qbo.JournalEntry:40", "tps.Adjustment:a-9", "invoice INV-2 is void")
    assert "QBO JournalEntry 40 is a decrease" in text
    assert "unapply the journal entry from that invoice" in text
    assert "payment" not in text


def test_a_payment_on_a_void_invoice_is_still_a_payment_to_unapply() -> None:
    text = _explained("qbo.Payment:7", "tps.Payment", "invoice INV-1 is void")
    assert "QBO Payment 7 is applied to an invoice voided in TPS" in text
    assert "unapply the payment from that invoice in QBO" in text
    assert "reaches TPS unapplied" in text
