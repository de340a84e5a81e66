"""QBO refusing a write because other QBO transactions depend on the record, said with
what the firm can do about it.

- An invoice or credit memo a payment is applied to is not voided (6000, "linked to other
  transactions"): TPS voided an invoice that was paid in QBO, online through its payment
  link for instance, before the payment reached TPS.
- A payment or receipt in a bank deposit is not changed in amount, voided or deleted
  (6540 "Deposited Transaction cannot be changed").
- TPS applies no payment or decrease adjustment to a void invoice (`invoice_void`): a QBO
  payment (or credit memo, ...) of an invoice TPS voided since, the other side of the first
  case.

The record fails for this run, the run goes on, and the next run tries again: once the
firm has settled it in QBO or TPS, the write goes through or is no longer planned.
"""

from __future__ import annotations

import re

from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.qbo.errors import QboError
from tpsqbo_engine.connectors.tps.client import TpsRejected
from tpsqbo_engine.errors import ConnectorError, SkippableConnectorError
from tpsqbo_engine.sync.plan import Operation

DEPOSITED = "6540"
VOID_INVOICE = "invoice_void"  # the TPS contract's code (docs/tps-contract.md)
BUSINESS_RULE = "6000"
PAID_FORMS = ("Invoice", "CreditMemo")
_NAMES = {"Payment": "payment", "SalesReceipt": "sales receipt", "RefundReceipt": "refund"}


def explained(qbo: QboClient, op: Operation, error: Exception | None) -> Exception | None:
    """`error` with what to do added when QBO refused `op` for a transaction depending on
    the record, or TPS a QBO payment of a void invoice; any other error as it is."""
    if isinstance(error, TpsRejected) and error.code == VOID_INVOICE and not op.reverse:
        return SkippableConnectorError(f"{error.message}. {_applied_to_void(op)}")
    if not isinstance(error, QboError) or op.reverse or not op.target.startswith("qbo."):
        return error
    entity, _, ident = op.target.removeprefix("qbo.").partition(":")
    if error.fault.code == DEPOSITED:
        return SkippableConnectorError(f"{error.message}. {_deposited(entity, ident, op)}")
    if error.fault.code == BUSINESS_RULE and op.action == "void" and entity in PAID_FORMS:
        payments = _payments_of(qbo, entity, ident)
        if payments:
            return SkippableConnectorError(f"{error.message}. {_paid(entity, ident, payments)}")
    return error


def _payments_of(qbo: QboClient, entity: str, ident: str) -> list[str]:
    """The QBO payments applied to the record now; none when it cannot be read."""
    try:
        record = qbo.read(entity, ident)
    except ConnectorError:
        return []
    links = record.get("LinkedTxn")
    if not isinstance(links, list):
        return []
    return [
        str(link.get("TxnId"))
        for link in links
        if isinstance(link, dict) and link.get("TxnType") == "Payment"
    ]


def _paid(entity: str, ident: str, payments: list[str]) -> str:
    named = ", ".join(f"Payment {p}" for p in payments)
    form = "invoice" if entity == "Invoice" else "credit memo"
    one = len(payments) == 1
    return (
        f"QBO keeps {entity} {ident} because {named} {'is' if one else 'are'} applied to it "
        f"in QBO. If the {form} is void and the money was received, unapply "
        f"{'the payment' if one else 'the payments'} from it in QBO (the money stays as the "
        f"customer's credit) and sync again to void it; if the money settles this {form}, "
        f"the void in TPS is the mistake: correct it in TPS"
    )


def _deposited(entity: str, ident: str, op: Operation) -> str:
    change = {"void": "void", "update": "change"}.get(op.action, op.action)
    return (
        f"QBO keeps {entity} {ident} as it was deposited. To {change} it, remove it from its "
        f"bank deposit in QBO and sync again; if the deposit is right (the money reached the "
        f"bank), correct the {_NAMES.get(entity, entity)} in TPS to match QBO instead"
    )


def _applied_to_void(op: Operation) -> str:
    """What to do about a QBO record TPS refused on a void invoice: a payment to TPS is
    applied to it, a decrease adjustment (from a credit memo, say) is a decrease on it."""
    record = op.record.removeprefix("qbo.").replace(":", " ")
    form = _words(op.record.removeprefix("qbo.").partition(":")[0])
    if op.target.removeprefix("tps.").partition(":")[0] == "Adjustment":
        return (
            f"QBO {record} is a decrease on an invoice voided in TPS. If the void is right, "
            f"unapply the {form} from that invoice in QBO (it stays as the customer's credit) "
            f"and sync again; if the {form} settles the invoice, the void in TPS is the "
            f"mistake: correct it in TPS"
        )
    return (
        f"QBO {record} is applied to an invoice voided in TPS. If the void is right, unapply "
        f"the {form} from that invoice in QBO (the money stays as the customer's credit and "
        f"reaches TPS unapplied) and sync again; if the money settles the invoice, the void "
        f"in TPS is the mistake: correct it in TPS"
    )


def _words(entity: str) -> str:
    """A QBO entity's name as words: 'CreditMemo' is 'credit memo'."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", entity).lower() or "record"
