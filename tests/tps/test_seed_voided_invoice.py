"""`emulate tps --seed FILE` loads books holding a payment or decrease applied to an invoice
before it was voided: TPS keeps what was applied before a void, so the firm's own records
have it. The invoice loads void, what was applied stays, and nothing new goes on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tpsqbo_engine.emulators.tps.firm import Firm, TpsFault
from tpsqbo_engine.emulators.tps.seedfile import firm_from_file

BOOKS = """\
work_codes: [{id: wc-1, code: BK, name: Bookkeeping, node_type: work_code}]
clients: [{id: c-1, code: ALD01, name: Alder Creek Dental}]
invoices:
  - {id: inv-1, client_id: c-1, date: "2026-10-01", status: void,
     lines: [{line_no: 1, work_code: BK, description: Books, amount: "300.00"}]}
  - {id: inv-2, client_id: c-1, date: "2026-10-02",
     lines: [{line_no: 1, work_code: BK, description: Books, amount: "100.00"}]}
"""
DECREASE = """\
adjustments:
  - {id: adj-1, client_id: c-1, direction: decrease, date: "2026-10-05", amount: "40.00",
     description: Courtesy discount, invoice_id: inv-1}
"""
PAYMENT = """\
payments:
  - {id: pay-1, client_id: c-1, date: "2026-10-05", amount: "50.00", method: Cheque,
     applications: [{invoice_id: inv-1, amount: "40.00"}, {invoice_id: inv-2, amount: "10.00"}]}
"""


def _load(tmp_path: Path, text: str) -> Firm:
    path = tmp_path / "firm.yaml"
    path.write_text(text)
    return firm_from_file(path, {})


def test_a_decrease_applied_before_the_void_loads_and_stays(tmp_path: Path) -> None:
    firm = _load(tmp_path, BOOKS + DECREASE)
    invoice = firm.get("invoices", "inv-1")
    assert (invoice["status"], invoice["balance"], invoice["total"]) == ("void", "0.00", "300.00")
    adjustment = firm.get("adjustments", "adj-1")
    assert (adjustment["invoice_id"], adjustment["amount"]) == ("inv-1", "40.00")
    assert firm.get("invoices", "inv-2")["status"] == "outstanding"


def test_a_payment_applied_before_the_void_loads_and_stays(tmp_path: Path) -> None:
    firm = _load(tmp_path, BOOKS + PAYMENT)
    assert firm.get("invoices", "inv-1")["status"] == "void"
    assert firm.get("invoices", "inv-1")["balance"] == "0.00"
    assert firm.get("invoices", "inv-2")["balance"] == "90.00"
    payment = firm.get("payments", "pay-1")
    assert payment["unapplied_amount"] == "0.00"
    assert [a["invoice_id"] for a in payment["applications"]] == ["inv-1", "inv-2"]


def test_the_loaded_void_invoice_takes_nothing_new(tmp_path: Path) -> None:
    firm = _load(tmp_path, BOOKS + DECREASE)
    more = {
        "client_id": "c-1",
        "direction": "decrease",
        "date": "2026-11-01",
        "amount": "5.00",
        "description": "More",
        "invoice_id": "inv-1",
    }
    with pytest.raises(TpsFault) as refused:
        firm.create("adjustments", more)
    assert refused.value.code == "invoice_void"


def test_a_refusal_still_names_the_list_and_position(tmp_path: Path) -> None:
    other = BOOKS.replace("clients: [", "clients: [{id: c-2, code: B02, name: Birch}, ")
    wrong = DECREASE.replace("client_id: c-1", "client_id: c-2")  # not the invoice's client
    with pytest.raises(ValueError, match=r"firm\.yaml: adjustments\[0\]: invoice .* another"):
        _load(tmp_path, other + wrong)
