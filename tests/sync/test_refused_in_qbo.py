"""A TPS change QBO refuses because other QBO transactions depend on the record: an invoice
voided in TPS that a payment settles in QBO, a payment voided in TPS that QBO has banked in a
deposit. The record fails with what the firm can do, the rest of the run goes on, and once
the firm has done it the next run writes the change."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.qbo.errors import QboFault, QboSkippableError
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer
from tpsqbo_engine.errors import ConnectorError, SkippableConnectorError
from tpsqbo_engine.sync.demo import demo_firm, november_invoice
from tpsqbo_engine.sync.plan import Operation
from tpsqbo_engine.sync.refusals import explained
from tpsqbo_engine.sync.session import Session


def _items(session: Session, run_id: int) -> dict[str, dict[str, Any]]:
    return {item["record"]: item for item in session.state.items(run_id)}


def _void_in_tps(session: Session, tps: TpsEmulatorServer, resource: str, ident: str) -> None:
    version = tps.firm.table(resource)[ident]["version"]
    session.tps.update(resource, ident, {"status": "void"}, version=version)


def _new_invoices(session: Session, tps: TpsEmulatorServer, qbo: QboEmulatorServer) -> Any:
    clients = sorted(tps.firm.table("clients").values(), key=lambda c: c["name"])[:2]
    made = [
        session.tps.create("invoices", november_invoice(c["id"]), key=f"refused-{n}")
        for n, c in enumerate(clients)
    ]
    assert session.sync().counts["Failed"] == 0
    return [(m["id"], qbo.company.find_by("Invoice", "DocNumber", m["doc_number"])) for m in made]


def test_an_invoice_voided_in_tps_and_paid_in_qbo_fails_with_what_to_do(tmp_path: Path) -> None:
    with demo_firm(tmp_path) as (session, qbo, tps):
        session.backup()
        assert session.sync().counts["Failed"] == 0
        (paid_id, paid), (other_id, other) = _new_invoices(session, tps, qbo)
        # The client pays the first online in QBO before that reaches TPS; TPS voids both.
        link = [{"TxnId": paid["Id"], "TxnType": "Invoice"}]
        payment = qbo.company.create(
            "Payment",
            {
                "CustomerRef": paid["CustomerRef"],
                "TotalAmt": "100.00",
                "Line": [{"Amount": "100.00", "LinkedTxn": link}],
            },
        )
        _void_in_tps(session, tps, "invoices", paid_id)
        _void_in_tps(session, tps, "invoices", other_id)

        run = session.sync()

        items = _items(session, run.run_id)
        refused = items[f"tps.Invoice:{paid_id}"]
        assert (refused["action"], refused["status"]) == ("void", "Failed")
        assert "QBO 6000" in refused["message"]
        assert f"Payment {payment['Id']} is applied to it in QBO" in refused["message"]
        assert "unapply the payment from it in QBO" in refused["message"]
        kept = qbo.company.get("Invoice", paid["Id"])
        assert (kept["TotalAmt"], kept["Balance"]) == (Decimal("380.00"), Decimal("280.00"))
        # The rest of the run went on: the other void. TPS refuses the QBO payment of the
        # invoice it voided, with the same way out (tests/tps/test_voided_invoice_payment.py).
        assert items[f"tps.Invoice:{other_id}"]["status"] == "Successful"
        assert qbo.company.get("Invoice", other["Id"])["TotalAmt"] == 0
        assert items[f"qbo.Payment:{payment['Id']}"]["status"] == "Failed"
        assert (
            "unapply the payment from that invoice in QBO"
            in (items[f"qbo.Payment:{payment['Id']}"]["message"])
        )
        assert run.counts["Failed"] == 2

        # The firm does what the message says: the payment, unapplied, is the client's credit.
        now = qbo.company.get("Payment", payment["Id"])
        unapply = {"Id": now["Id"], "SyncToken": now["SyncToken"], "Line": []}
        qbo.company.update("Payment", unapply, sparse=True)
        again = session.sync()
        assert _items(session, again.run_id)[f"tps.Invoice:{paid_id}"]["status"] == "Successful"
        assert _items(session, again.run_id)[f"qbo.Payment:{payment['Id']}"]["status"] == (
            "Successful"
        )
        assert qbo.company.get("Invoice", paid["Id"])["TotalAmt"] == 0


def test_a_payment_voided_in_tps_and_deposited_in_qbo_fails_with_what_to_do(
    tmp_path: Path,
) -> None:
    with demo_firm(tmp_path) as (session, qbo, tps):
        session.backup()
        assert session.sync().counts["Failed"] == 0
        [(invoice_id, invoice), _] = _new_invoices(session, tps, qbo)
        # Taken at the front desk: no bank account the rules know, so Undeposited Funds.
        payment = session.tps.create(
            "payments",
            {
                "client_id": tps.firm.table("invoices")[invoice_id]["client_id"],
                "date": "2026-11-24",
                "amount": "150.00",
                "method": "Cheque",
                "bank_account": "Front desk",
                "reference": "chq 311",
                "applications": [{"invoice_id": invoice_id, "amount": "150.00"}],
            },
            key="refused-payment",
        )
        assert session.sync().counts["Failed"] == 0
        copy = qbo.company.find_by("Payment", "PrivateNote", f"sync:tps:payment:{payment['id']}")
        assert copy is not None
        chequing = qbo.company.find_by("Account", "Name", "Chequing")
        assert chequing is not None
        deposit = qbo.company.create(
            "Deposit",
            {
                "DepositToAccountRef": {"value": chequing["Id"]},
                "Line": [
                    {"Amount": "150.00", "LinkedTxn": [{"TxnId": copy["Id"], "TxnType": "Payment"}]}
                ],
            },
        )
        _void_in_tps(session, tps, "payments", payment["id"])
        other = tps.firm.table("clients")[tps.firm.table("invoices")[invoice_id]["client_id"]]
        session.tps.update(
            "clients", other["id"], {"email": "ap@refused.example"}, version=other["version"]
        )

        run = session.sync()

        items = _items(session, run.run_id)
        refused = items[f"tps.Payment:{payment['id']}"]
        assert (refused["action"], refused["status"]) == ("void", "Failed")
        assert "QBO 6540 Deposited Transaction cannot be changed" in refused["message"]
        assert "remove it from its bank deposit in QBO and sync again" in refused["message"]
        assert qbo.company.get("Payment", copy["Id"])["TotalAmt"] == Decimal("150.00")
        assert qbo.company.get("Invoice", invoice["Id"])["Balance"] == Decimal("230.00")
        assert items[f"tps.Client:{other['id']}"]["status"] == "Successful"
        assert run.counts["Failed"] == 1

        # Out of the deposit, the next run voids it.
        held = qbo.company.get("Deposit", deposit["Id"])
        qbo.company.delete("Deposit", {"Id": held["Id"], "SyncToken": held["SyncToken"]})
        again = session.sync()
        assert _items(session, again.run_id)[f"tps.Payment:{payment['id']}"]["status"] == (
            "Successful"
        )
        assert qbo.company.get("Payment", copy["Id"])["TotalAmt"] == 0


class _Books:
    """What `explained` reads of QBO: the refused invoice, with the payments linked to it."""

    def __init__(self, *payments: str) -> None:
        self.payments = payments
        self.reads = 0

    def read(self, entity: str, ident: str) -> dict[str, Any]:
        self.reads += 1
        links = [{"TxnId": p, "TxnType": "Payment"} for p in self.payments]
        return {"Id": ident, "LinkedTxn": [{"TxnId": "9", "TxnType": "Estimate"}, *links]}


def _refusal(code: str) -> QboSkippableError:
    return QboSkippableError(QboFault(400, code, "refused", "Business Validation Error: x"))


def _op(action: str, target: str = "qbo.Invoice:238", reverse: bool = False) -> Operation:
    return Operation("invoices", "tps.Invoice:inv-1", action, target, reverse=reverse)


def test_each_payment_in_the_way_is_named() -> None:
    books = _Books("301", "302")
    said = explained(cast(QboClient, books), _op("void"), _refusal("6000"))
    assert isinstance(said, SkippableConnectorError)
    assert "Payment 301, Payment 302 are applied to it in QBO" in said.message
    assert "unapply the payments from it" in said.message


def test_other_refusals_are_left_as_qbo_gave_them() -> None:
    books = _Books()
    unpaid = _refusal("6000")
    assert explained(cast(QboClient, books), _op("void"), unpaid) is unpaid  # no payment: not it
    assert books.reads == 1
    paid = _Books("301")
    for op in (
        _op("update"),  # a business rule of an update is not about payments
        _op("void", "tps.Invoice:inv-1", reverse=True),  # TPS refused, not QBO
        _op("void", "qbo.Payment:77"),  # a payment is not what a payment is applied to
    ):
        assert explained(cast(QboClient, paid), op, unpaid) is unpaid
    assert paid.reads == 0
    other = ConnectorError("the TPS API answered HTTP 409")
    assert explained(cast(QboClient, paid), _op("void"), other) is other
    deposited = explained(cast(QboClient, paid), _op("update", "qbo.Payment:77"), _refusal("6540"))
    assert isinstance(deposited, SkippableConnectorError)
    assert "To change it, remove it from its bank deposit" in deposited.message
