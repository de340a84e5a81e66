"""On TPS sheets, two payments alike in client, date, amount and reference keep their ids when
TPS applies one of them later, or when a bookkeeper edits one's description: either change
would otherwise read as a new payment, sent to QBO a second time."""

from __future__ import annotations

import hashlib
from typing import Any

from tpsqbo_engine.connectors.tps.paymentids import payment_ids


def _twin(description: str = "", applied: str = "") -> dict[str, Any]:
    return {
        "client_id": "RET01",
        "date": "2026-01-05",
        "amount": "100.00",
        "method": "EFT",
        "reference": None,
        "description": description,
        "bank_account": "",
        "applications": [{"invoice_id": applied, "amount": "100.00"}] if applied else [],
    }


def test_applying_one_of_two_twins_leaves_both_ids_as_they_were() -> None:
    before = payment_ids([_twin("retainer"), _twin()])
    after = payment_ids([_twin("retainer"), _twin(applied="SH-2003")])
    assert after == before
    assert len(set(before)) == 2
    assert payment_ids([_twin(applied="SH-2003"), _twin("retainer")]) == before[::-1]


def test_the_ids_of_unapplied_twins_are_those_given_before() -> None:
    # As ids were made before: method, applications, description, bank account.
    digest = hashlib.sha256("\x1f".join(("EFT", "", "retainer", "")).encode()).hexdigest()[:6]
    assert payment_ids([_twin("retainer"), _twin()])[0] == f"pay-RET01-2026-01-05-100.00~{digest}"


def test_a_twin_edited_in_tps_keeps_the_id_the_sync_knows() -> None:
    known = payment_ids([_twin("retainer"), _twin()])
    edited = [_twin("retainer, January"), _twin()]
    assert payment_ids(edited) != known  # its description is in what tells the twins apart
    assert payment_ids(edited, known) == known
    assert payment_ids(edited[::-1], known) == known[::-1]


def test_a_known_id_is_carried_only_to_a_new_id_alike_in_the_four() -> None:
    known = payment_ids([_twin("retainer"), _twin()])
    other = _twin("retainer, January") | {"amount": "100.01"}
    ids = payment_ids([other, _twin()], known)
    assert ids[0] == "pay-RET01-2026-01-05-100.01"  # another amount: another payment
    assert ids[1] == known[1]  # its twin gone, it is still the payment the sync knows
    assert payment_ids([other, _twin()])[1] == "pay-RET01-2026-01-05-100.00"
    assert payment_ids([_twin("retainer")], known) == [known[0]]  # its own, not the first
    three = payment_ids([_twin("retainer"), _twin(), _twin("new")], known)
    assert three[:2] == known and three[2] not in known  # a third one alike is a new payment


def test_a_payment_entered_from_the_outbox_takes_no_known_id() -> None:
    known = payment_ids([_twin("retainer"), _twin()])
    entered = _twin("QBO-0123456789 paid online")
    ids = payment_ids([entered, _twin()], known)
    assert ids[1] == known[1] and ids[0] not in known
