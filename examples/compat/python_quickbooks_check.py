"""Checks that python-quickbooks, unchanged, works against `tpsqbo-engine emulate qbo`.

Run it in a scratch virtualenv that has python-quickbooks (and so intuit-oauth) but not
this project, naming the engine's command:

    python3 -m venv /tmp/pyqb && /tmp/pyqb/bin/pip install python-quickbooks
    /tmp/pyqb/bin/python examples/compat/python_quickbooks_check.py .venv/bin/tpsqbo-engine

It starts the emulator on a free loopback port, points the library at it by base URL and
OAuth discovery URL only, then creates, reads, updates, queries, voids and deletes
customers, items, invoices and payments, and (python_quickbooks_breadth.py) every other
entity the emulator serves, Preferences, the reports, CDC and the token refresh, printing
one line per check.
"""

from __future__ import annotations

import python_quickbooks_breadth as breadth
from harness import Tally, emulator, expect, expect_refused
from intuitlib.client import AuthClient
from quickbooks import QuickBooks
from quickbooks.objects.account import Account
from quickbooks.objects.base import Ref
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item
from quickbooks.objects.payment import Payment, PaymentLine

T = Tally()
check = T.check


def ref(obj: object) -> Ref:
    return obj.to_ref()  # type: ignore[attr-defined, no-any-return]


def run(info: dict[str, str]) -> None:
    auth = AuthClient(
        info["client_id"],
        info["client_secret"],
        "http://127.0.0.1/cb",
        info["discovery_url"],
        refresh_token=info["refresh_token"],
        realm_id=info["realm_id"],
    )
    qb = QuickBooks(
        auth_client=auth,
        refresh_token=info["refresh_token"],
        company_id=info["realm_id"],
        minorversion=75,
    )
    # The base URL is the only change. The library picks sandbox or production from the
    # auth client's environment, which here is the emulator's discovery URL: set both.
    qb.sandbox_api_url_v3 = qb.api_url_v3 = f"{info['base_url']}/v3"

    customer = Customer()
    customer.DisplayName = "Compat O'Connor & Sons"
    check("customer create", lambda: customer.save(qb=qb))
    check("customer read", lambda: Customer.get(customer.Id, qb=qb))
    customer.Notes = "updated by python-quickbooks"
    check("customer update (full)", lambda: customer.save(qb=qb))
    check(
        "customer query with an apostrophe",
        lambda: Customer.filter(DisplayName="Compat O'Connor & Sons", qb=qb)[0],
    )

    income = Account.filter(Name="Fees Income", qb=qb)[0]
    item = Item()
    item.Name, item.Type = "Compat Service", "Service"
    item.IncomeAccountRef = ref(income)
    check("item create", lambda: item.save(qb=qb))
    check("item query", lambda: Item.where("Type = 'Service'", qb=qb))

    def new_invoice(amount: float) -> Invoice:
        invoice = Invoice()
        line = SalesItemLine()
        line.Amount = amount
        line.SalesItemLineDetail = SalesItemLineDetail()
        line.SalesItemLineDetail.ItemRef = ref(item)
        invoice.Line.append(line)
        invoice.CustomerRef = ref(customer)
        invoice.save(qb=qb)
        return invoice

    invoice = check("invoice create", lambda: new_invoice(300.0))
    check("invoice read", lambda: Invoice.get(invoice.Id, qb=qb))  # type: ignore[union-attr]
    check("invoice count", lambda: Invoice.count(qb=qb))
    payment = Payment()
    payment.TotalAmt = 300.0
    payment.CustomerRef = ref(customer)
    payment_line = PaymentLine()
    payment_line.Amount = 300.0
    payment_line.LinkedTxn.append(invoice.to_linked_txn())  # type: ignore[union-attr]
    payment.Line.append(payment_line)
    check("payment create (applied to the invoice)", lambda: payment.save(qb=qb))
    check(
        "invoice balance is 0 after the payment",
        lambda: expect(Invoice.get(invoice.Id, qb=qb).Balance == 0),
    )  # type: ignore[union-attr]
    check("payment void", lambda: payment.void(qb=qb))
    check(
        "invoice balance is back after the void",
        lambda: expect(Invoice.get(invoice.Id, qb=qb).Balance == 300),
    )  # type: ignore[union-attr]
    other = check("second invoice create", lambda: new_invoice(50.0))
    check("invoice void", lambda: other.void(qb=qb))  # type: ignore[union-attr]
    third = check("third invoice create", lambda: new_invoice(75.0))
    check("invoice delete", lambda: third.delete(qb=qb))  # type: ignore[union-attr]
    check(
        "a customer with a balance cannot be deactivated",
        lambda: expect_refused(lambda: _deactivate(customer, qb)),
    )
    idle = Customer()
    idle.DisplayName = "Compat Idle Customer"
    check(
        "customer deactivate (QBO's delete for name lists)",
        lambda: (idle.save(qb=qb), _deactivate(idle, qb)),
    )
    check("batch create", lambda: _batch(qb))

    def sales_line(amount: float) -> SalesItemLine:
        line = SalesItemLine()
        line.Amount = amount
        line.SalesItemLineDetail = SalesItemLineDetail()
        line.SalesItemLineDetail.ItemRef = ref(item)
        return line

    breadth.buying(T, qb)
    breadth.selling(T, qb, sales_line, customer)
    breadth.lists(T, qb)
    breadth.settings_reports_cdc(T, qb)
    breadth.round_trips(T, qb)
    check("token refresh", lambda: auth.refresh())
    check("reads with the refreshed token", lambda: Customer.get(customer.Id, qb=qb))


def _deactivate(customer: Customer, qb: QuickBooks) -> None:
    fresh = Customer.get(customer.Id, qb=qb)
    fresh.Active = False
    fresh.save(qb=qb)


def _batch(qb: QuickBooks) -> None:
    from quickbooks.batch import batch_create

    people = []
    for n in range(3):
        person = Customer()
        person.DisplayName = f"Compat Batch {n}"
        people.append(person)
    result = batch_create(people, qb=qb)
    expect(len(result.successes) == 3 and not result.faults)


def main() -> int:
    with emulator() as info:
        # A step that fails leaves later steps without what they need: count that as one
        # failure and still report every check.
        T.check("the checks ran to the end", lambda: run(info))
    return T.report()


if __name__ == "__main__":
    raise SystemExit(main())
