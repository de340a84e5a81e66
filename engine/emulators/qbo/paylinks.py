"""Online payments in an emulated QBO company: the view-and-pay link of an invoice, and
the payment QBO records when a customer pays through it."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from tpsqbo_engine.emulators.qbo import faults
from tpsqbo_engine.emulators.qbo.money import ZERO

if TYPE_CHECKING:
    from tpsqbo_engine.emulators.qbo.company import Company

Record = dict[str, Any]


def invoice_link(company: Company, invoice: Record) -> str | None:
    """The view-and-pay URL, only when QBO would generate one."""
    prefs = company.singleton("Preferences").get("SalesFormsPrefs", {})
    online = invoice.get("AllowOnlineCreditCardPayment") or invoice.get("AllowOnlineACHPayment")
    email = (invoice.get("BillEmail") or {}).get("Address")
    if not (online and email and prefs.get("ETransactionPaymentEnabled")):
        return None
    token = next((t for t, i in company.payment_links.items() if i == invoice["Id"]), None)
    if token is None:
        token = f"scs-v1-{secrets.token_hex(16)}"
        company.payment_links[token] = invoice["Id"]
    return f"{company.pay_base}/connect/pay/{token}"


def pay_online(company: Company, token: str) -> Record:
    """What QBO does when a customer pays through the link: a Payment in Undeposited
    Funds applied to the invoice, marked as a QuickBooks Payments transaction."""
    with company.lock:
        invoice = company.get("Invoice", company.payment_links.get(token, ""))
        balance = invoice.get("Balance", ZERO)
        if balance <= 0:
            raise faults.business("This invoice is already paid.")
        return company.create(
            "Payment",
            {
                "CustomerRef": invoice["CustomerRef"],
                "TotalAmt": balance,
                "TxnSource": "QBPayments",
                "PaymentRefNum": f"QBP-{invoice['DocNumber']}",
                "Line": [
                    {
                        "Amount": balance,
                        "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}],
                    }
                ],
            },
        )
