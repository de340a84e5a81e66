"""The awkward firm's next two weeks, on both sides, through both APIs (see `awkward`)."""

from __future__ import annotations

from decimal import Decimal

from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.qbo.queries import NaturalKey
from tpsqbo_engine.connectors.tps.client import TpsSource
from tpsqbo_engine.sync.awkward import TODAY, Books, Builder, Record, sale_line


def _customer(qbo: QboClient, client: Record) -> Record:
    found = qbo.find("Customer", NaturalKey("DisplayName", str(client["name"]).strip()))
    if found is None:
        raise AssertionError(f"no QBO customer for {client['name']}")
    return found


def _linked_invoice(qbo: QboClient, invoice: Record) -> Record:
    found = qbo.find("Invoice", NaturalKey("DocNumber", invoice["doc_number"]))
    if found is None:
        raise AssertionError(f"{invoice['doc_number']} is not in QBO")
    return found


def round_one(tps: TpsSource, qbo: QboClient, books: Books) -> list[str]:
    """A week on both sides after the initial sync."""
    builder = Builder(tps, qbo)
    builder.books, builder._keys = books, 1000
    builder.item = {"value": qbo.query("SELECT * FROM Item WHERE Name = 'Bookkeeping'")[0]["Id"]}
    # Fir & Spruce paid a TPS invoice and one raised in QBO with one payment.
    fir = _customer(qbo, books.clients["FIR01"])
    books.customers[fir["DisplayName"]] = fir
    made = builder.qbo_invoice(fir["DisplayName"], "Q-7001", "200.00", TODAY)
    pushed = _linked_invoice(qbo, books.invoices["FIR01"][0])
    both = Decimal(pushed["Balance"]) + Decimal("200.00")
    builder.qbo_payment(
        fir["Id"],
        both,
        [(pushed["Id"], Decimal(pushed["Balance"])), (made["Id"], Decimal(200))],
        TODAY,
    )
    # Juniper Coffee paid ahead: a QBO payment applied to nothing.
    juniper = _customer(qbo, books.clients["JUN01"])
    builder.qbo_payment(juniper["Id"], Decimal("150.00"), [], TODAY)
    # Maple Ridge Motors paid an invoice in QBO.
    maple = _customer(qbo, books.clients["MAP01"])
    owed = _linked_invoice(qbo, books.invoices["MAP01"][0])
    builder.qbo_payment(maple["Id"], Decimal("100.00"), [(owed["Id"], Decimal("100.00"))], TODAY)
    # A walk-in customer QBO alone knows was invoiced at the counter.
    builder.qbo_invoice("Jane Doe (walk-in)", "W-0001", "75.00", TODAY)
    alder = _customer(qbo, books.clients["ALD01"])
    qbo.update("Customer", alder["Id"], {"PrimaryPhone": {"FreeFormNumber": "(503) 555-0199"}})
    # TPS: a new invoice for the reactivated client, a payment, people's typing.
    builder.invoice("CED01", TODAY, ["640.00"])
    rowan = books.invoices["ROW01"][0]
    builder.pay("ROW01", [(rowan, Decimal("50.00"))], when=TODAY)
    elm = tps.get("clients", books.clients["ELM01"]["id"])
    tps.update(
        "clients", elm["id"], {"email": " Orders@ElmStreet.example  "}, version=elm["version"]
    )
    return [
        "QBO: Q-7001 raised for Fir & Spruce Ltd. and one payment across it and a TPS invoice",
        "QBO: Juniper Coffee paid 150.00 ahead (unapplied); Maple Ridge Motors paid 100.00",
        "QBO: W-0001 for a walk-in customer TPS does not know; Alder Creek's phone changed",
        "TPS: a new invoice for Cedar Point Marina, a payment from Rowan Pharmacy, "
        "Elm Street Bakery's email retyped with spaces",
    ]


def round_two(tps: TpsSource, qbo: QboClient, books: Books) -> list[str]:
    """Another week: deletions in QBO, a credit memo, a void and an adjustment in TPS."""
    builder = Builder(tps, qbo)
    builder.books, builder._keys = books, 2000
    maple = _customer(qbo, books.clients["MAP01"])
    for payment in qbo.query_all("Payment", f"CustomerRef = '{maple['Id']}'"):
        qbo.delete("Payment", payment["Id"])
    larch = _linked_invoice(qbo, books.invoices["LAR01"][0])
    qbo.delete("Invoice", larch["Id"])
    # Q-7001 was a mistake: its payment is deleted, then the invoice (QBO asks that order).
    fir = _customer(qbo, books.clients["FIR01"])
    for payment in qbo.query_all("Payment", f"CustomerRef = '{fir['Id']}'"):
        qbo.delete("Payment", payment["Id"])
    mistake = qbo.query("SELECT * FROM Invoice WHERE DocNumber = 'Q-7001'")[0]
    qbo.delete("Invoice", mistake["Id"])
    kauri = _customer(qbo, books.clients["KAU01"])
    item = qbo.query("SELECT * FROM Item WHERE Name = 'Bookkeeping'")[0]
    qbo.create(
        "CreditMemo",
        {
            "CustomerRef": {"value": kauri["Id"]},
            "TxnDate": TODAY.isoformat(),
            "Line": [sale_line({"value": item["Id"]}, "80.00", "Goodwill credit")],
        },
        key="awkward-cm-2001",
    )
    pine = tps.get("invoices", books.invoices["PIN01"][-1]["id"])
    tps.update("invoices", pine["id"], {"status": "void"}, version=pine["version"])
    nutmeg = tps.get("invoices", books.invoices["NUT01"][-1]["id"])
    builder.tps_create(
        "adjustments",
        {
            "client_id": books.clients["NUT01"]["id"],
            "direction": "decrease",
            "date": TODAY.isoformat(),
            "description": "Write-off of disputed hours",
            "amount": "55.00",
            "invoice_id": nutmeg["id"],
        },
    )
    tamarack = books.invoices["TAM01"][0]
    builder.pay("TAM01", [(tamarack, Decimal("120.00"))], when=TODAY)
    books.notes.append(_rent_paid_from_receivables(qbo)["Id"])
    return [
        "QBO: Maple Ridge Motors' payment deleted; a Larch Pediatrics invoice deleted; "
        "Q-7001 and Fir & Spruce's payment deleted; an 80.00 credit memo for Kauri Yacht Club; "
        "the rent bill paid from the A/R account by mistake",
        "TPS: a Pine Hollow Camp invoice voided, a 55.00 write-off for Nutmeg Catering, "
        "a payment from Tamarack Ski Shop",
    ]


def _rent_paid_from_receivables(qbo: QboClient) -> Record:
    """A rent bill (nothing to do with A/R) paid by cheque "from" the A/R account: the
    bill payment alone touches A/R, and the sync leaves it out with a warning."""
    accounts = list(qbo.query_all("Account"))
    kinds = {a["AccountType"]: {"value": a["Id"]} for a in accounts}
    expense = next({"value": a["Id"]} for a in accounts if a["AccountType"] == "Expense")
    vendor = qbo.find("Vendor", NaturalKey("DisplayName", "Harbour Property Mgmt"))
    assert vendor is not None
    rent = Decimal("900.00")
    bill = qbo.create(
        "Bill",
        {
            "VendorRef": {"value": vendor["Id"]},
            "APAccountRef": kinds["Accounts Payable"],
            "TxnDate": TODAY.isoformat(),
            "Line": [
                {
                    "Amount": rent,
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": {"AccountRef": expense},
                }
            ],
        },
        key="awkward-rent-bill-2002",
    )
    return qbo.create(
        "BillPayment",
        {
            "VendorRef": {"value": vendor["Id"]},
            "PayType": "Check",
            "CheckPayment": {"BankAccountRef": kinds["Accounts Receivable"]},
            "TotalAmt": rent,
            "TxnDate": TODAY.isoformat(),
            "Line": [{"Amount": rent, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}],
        },
        key="awkward-rent-paid-2003",
    )
