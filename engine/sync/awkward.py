"""The awkward firm: books as a real practice has them, built the way a firm builds them.

TPS side (30 clients) through the TPS API on an `empty` firm (its settings only); QBO side
through the QBO API on a company set up for TPS that has kept the books since 2023. What
makes it awkward, each case named after the client that carries it:

- people's typing: "  Alder Creek Dental " with "Billing@AlderCreek.example " in TPS and a
  tidy QBO customer; "birch lane llc" in TPS and "Birch Lane LLC" in QBO; an email in
  capitals with spaces (Elm Street Bakery); two clients called "Dogwood Farms";
- Cedar Point Marina is inactive in QBO (its name still belongs to it);
- years of QBO history: paid invoices and their payments, customers only QBO knows (one of
  them inactive), a journal entry, a QBO-made invoice still open;
- Garnet Hill Studio paid a fully paid and an open invoice with one cheque; Hawthorn Legal
  overpaid by 60.00; Ironbark Builders left a 1,000.00 retainer;
- Nutmeg Catering has a decrease adjustment on an invoice and an increase; Olive Grove Vet
  a finance charge; Quince Design has no email.

`awkward_weeks.round_one` and `round_two` are the firm's next two weeks on both sides. The
differences `reconcile` must show after them are `DOCUMENTED_DIFFERENCES` and `WALK_INS`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.tps.client import TpsSource

Record = dict[str, Any]
TODAY = date(2026, 11, 20)
CENT = Decimal("0.01")

# code, name, work type, rate
WORK_CODES = [
    ("BK-MONTH", "Bookkeeping", "Bookkeeping", "95.00"),
    ("BK-CATCH", "Catch-up bookkeeping", "Bookkeeping", "95.00"),
    ("TAX-IND", "Individual return", "Tax", "175.00"),
    ("TAX-CORP", "Corporate return", "Tax", "210.00"),
    ("ACC-REV", "Review engagement", "Accounting", "165.00"),
    ("CON-ADV", "Business advisory", "Consulting", "225.00"),
    ("PAY-RUN", "Payroll processing", "Payroll", "75.00"),
]
# code, name as typed in TPS, email as typed
CLIENTS = [
    ("ALD01", "  Alder Creek Dental ", "Billing@AlderCreek.example "),
    ("BIR01", "birch lane llc", None),
    ("CED01", "Cedar Point Marina", "office@cedarpoint.example"),
    ("DOG01", "Dogwood Farms", "north@dogwood.example"),
    ("DOG02", "Dogwood Farms", "south@dogwood.example"),
    ("ELM01", "Elm Street Bakery", "  INFO@ELMSTREET.example"),
    ("FIR01", "Fir & Spruce Ltd.", "ap@firspruce.example"),
    ("GAR01", "Garnet Hill Studio", "hello@garnethill.example"),
    ("HAW01", "Hawthorn Legal", "accounts@hawthorn.example"),
    ("IRO01", "Ironbark Builders", "office@ironbark.example"),
    ("JUN01", "Juniper Coffee", "beans@junipercoffee.example"),
    ("KAU01", "Kauri Yacht Club", "purser@kauri.example"),
    ("LAR01", "Larch Pediatrics", "billing@larchpeds.example"),
    ("MAP01", "Maple Ridge Motors", "service@mapleridge.example"),
    ("NUT01", "Nutmeg Catering", "events@nutmeg.example"),
    ("OLI01", "Olive Grove Vet", "front@olivegrove.example"),
    ("PIN01", "Pine Hollow Camp", "director@pinehollow.example"),
    ("QUI01", "Quince Design", None),
    ("ROW01", "Rowan Pharmacy", "rx@rowan.example"),
    ("SEQ01", "Sequoia Realty", "deals@sequoia.example"),
    ("TAM01", "Tamarack Ski Shop", "shop@tamarack.example"),
    ("UMB01", "Umbrella Pine Books", "books@umbrellapine.example"),
    ("VIN01", "Vine Maple Tea", "tea@vinemaple.example"),
    ("WIL01", "Willow Bend Farm", "farm@willowbend.example"),
    ("XYL01", "Xylem Water Co.", "billing@xylem.example"),
    ("YEW01", "Yew Tree Pub", "landlord@yewtree.example"),
    ("ZEL01", "Zelkova Tailors", "fit@zelkova.example"),
    ("ASP01", "Aspen & Co.", "team@aspenco.example"),
    ("BAN01", "Banyan Travel", "trips@banyan.example"),
    ("CYP01", "Cypress Physio", "desk@cypressphysio.example"),
]
# What the QBO company already has, as its bookkeeper typed it: name, email, active.
QBO_CUSTOMERS = [
    ("Alder Creek Dental", "billing@aldercreek.example", True),
    ("Birch Lane LLC", None, True),
    ("Cedar Point Marina", "office@cedarpoint.example", False),
    ("Rowan Pharmacy", "rx@rowan.example", True),
    ("Former Partners LLP", "ap@formerpartners.example", True),
    ("Harbour Lights Gallery", None, False),
    ("Jane Doe (walk-in)", "jane.doe@mail.example", True),
]
# Customers only QBO knows, with open A/R the standard pack leaves out (README: "walk-ins").
WALK_INS = {
    "Jane Doe (walk-in)": "a QBO-only customer's invoices stay out of TPS unless the pack "
    "maps qbo.Customer to tps.Client",
}
# Reconciliation differences the README documents, by TPS client code: why each remains.
DOCUMENTED_DIFFERENCES = {
    "LAR01": "an invoice made in TPS and deleted in QBO is not created again: it stays open "
    "in TPS until the firm voids or re-enters it",
}


@dataclass
class Books:
    """Ids the later rounds and the tests need, by a name that says what they are."""

    clients: dict[str, Record] = field(default_factory=dict)  # by code
    invoices: dict[str, list[Record]] = field(default_factory=dict)  # by client code
    customers: dict[str, Record] = field(default_factory=dict)  # by QBO display name
    ignored: dict[str, str] = field(default_factory=dict)  # record -> reason
    notes: list[str] = field(default_factory=list)


def sale_line(item: Record, amount: str, description: str = "") -> Record:
    """One non-taxable line of a QBO sales form: `item` once at `amount`."""
    line: Record = {
        "Amount": Decimal(amount),
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {
            "ItemRef": item,
            "Qty": 1,
            "UnitPrice": Decimal(amount),
            "TaxCodeRef": {"value": "NON"},
        },
    }
    if description:
        line["Description"] = description
    return line


def _text(value: Decimal) -> str:
    return str(value.quantize(CENT))


class Builder:
    def __init__(self, tps: TpsSource, qbo: QboClient) -> None:
        self.tps, self.qbo, self.books = tps, qbo, Books()
        self.rng = random.Random(1010)  # noqa: S311 - repeatable test data, not secrets
        self._keys = 0

    def _key(self, what: str) -> str:
        self._keys += 1
        return f"awkward-{what}-{self._keys}"

    # TPS ----------------------------------------------------------------------------------
    def tps_create(self, resource: str, body: Record) -> Record:
        return self.tps.create(resource, body, key=self._key(resource))

    def tps_side(self) -> None:
        for code, name, work_type, rate in WORK_CODES:
            self.tps_create(
                "work-codes",
                {
                    "code": code,
                    "name": name,
                    "node_type": "work_code",
                    "work_type": work_type,
                    "class": "chargeable",
                    "default_rate": rate,
                    "tax1": False,
                    "tax2": False,
                    "tax3": False,
                    "active": True,
                },
            )
        for code, name, email in CLIENTS:
            client = self.tps_create(
                "clients",
                {"code": code, "name": name, "email": email, "active": True, "terms_days": 30},
            )
            self.books.clients[code] = client
        for index, code in enumerate(self.books.clients):
            for number in range(2 + index % 2):
                self.invoice(code, TODAY - timedelta(days=20 + 30 * number + index))
        self._payments()
        self._adjustments_and_charges()

    def invoice(self, code: str, when: date, amounts: list[str] | None = None) -> Record:
        codes = self.rng.sample(WORK_CODES, len(amounts) if amounts else self.rng.randint(1, 3))
        picks = amounts or [
            _text(Decimal(self.rng.randrange(2, 12)) * Decimal(rate)) for *_, rate in codes
        ]
        invoice = self.tps_create(
            "invoices",
            {
                "client_id": self.books.clients[code]["id"],
                "date": when.isoformat(),
                "due_date": (when + timedelta(days=30)).isoformat(),
                "type": "detail",
                "description": "Professional services",
                "lines": [
                    {
                        "line_no": n,
                        "work_code": wc[0],
                        "description": wc[1],
                        "amount": amount,
                        "markup": "0.00",
                    }
                    for n, (wc, amount) in enumerate(zip(codes, picks, strict=True), start=1)
                ],
            },
        )
        self.books.invoices.setdefault(code, []).append(invoice)
        return invoice

    def pay(
        self,
        code: str,
        parts: list[tuple[Record, Decimal]],
        extra: Decimal = Decimal(0),
        **more: Any,
    ) -> Record:
        total = sum((amount for _, amount in parts), extra)
        return self.tps_create(
            "payments",
            {
                "client_id": self.books.clients[code]["id"],
                "date": more.pop("when", TODAY - timedelta(days=3)).isoformat(),
                "amount": _text(total),
                "method": "Cheque",
                "bank_account": "Operating",
                "reference": more.pop("reference", f"CHQ{self.rng.randrange(1000, 9999)}"),
                "applications": [
                    {"invoice_id": invoice["id"], "amount": _text(amount)}
                    for invoice, amount in parts
                ],
            },
        )

    def _payments(self) -> None:
        books = self.books
        for code in ("DOG01", "SEQ01", "UMB01", "WIL01", "ZEL01", "BAN01"):  # fully paid
            invoice = books.invoices[code][0]
            self.pay(code, [(invoice, Decimal(invoice["total"]))], when=TODAY - timedelta(days=9))
        for code in ("VIN01", "XYL01", "ASP01"):  # partly paid
            invoice = books.invoices[code][0]
            self.pay(code, [(invoice, Decimal(invoice["total"]) / 2)])
        first, second = books.invoices["GAR01"][:2]  # one cheque: a paid and an open invoice
        self.pay("GAR01", [(first, Decimal(first["total"])), (second, Decimal("100.00"))])
        invoice = books.invoices["HAW01"][0]  # overpaid by 60.00
        self.pay("HAW01", [(invoice, Decimal(invoice["total"]))], Decimal("60.00"))
        self.pay("IRO01", [], Decimal("1000.00"), reference="RETAINER")

    def _adjustments_and_charges(self) -> None:
        nutmeg = self.books.clients["NUT01"]["id"]
        self.tps_create(
            "adjustments",
            {
                "client_id": nutmeg,
                "direction": "decrease",
                "date": TODAY.isoformat(),
                "description": "Courtesy discount",
                "amount": "40.00",
                "invoice_id": self.books.invoices["NUT01"][0]["id"],
            },
        )
        self.tps_create(
            "adjustments",
            {
                "client_id": nutmeg,
                "direction": "increase",
                "date": TODAY.isoformat(),
                "description": "Returned cheque fee",
                "amount": "35.00",
            },
        )
        self.tps_create(
            "finance-charges",
            {
                "client_id": self.books.clients["OLI01"]["id"],
                "date": TODAY.isoformat(),
                "rate": "1.50",
                "base_balance": "800.00",
                "amount": "12.00",
                "description": "Finance charge on overdue balance",
            },
        )

    # QBO ----------------------------------------------------------------------------------
    def qbo_side(self) -> None:
        item = self.qbo.query("SELECT * FROM Item WHERE Name = 'Bookkeeping'")[0]
        self.item = {"value": item["Id"]}
        for name, email, _ in QBO_CUSTOMERS:
            body: Record = {"DisplayName": name, "CompanyName": name}
            if email:
                body["PrimaryEmailAddr"] = {"Address": email}
            self.books.customers[name] = self.qbo.create("Customer", body, key=self._key("cust"))
        for year in (2023, 2024, 2025):  # history: billed and paid in full
            for name in ("Alder Creek Dental", "Cedar Point Marina", "Former Partners LLP"):
                self._paid_history(name, date(year, 3 + year % 5, 15))
        self._paid_history("Harbour Lights Gallery", date(2023, 6, 1))
        self._paid_history("Jane Doe (walk-in)", date(2025, 8, 9))
        for name, _, active in QBO_CUSTOMERS:
            if not active:
                customer = self.books.customers[name]
                self.books.customers[name] = self.qbo.deactivate("Customer", customer["Id"])
        self.qbo_invoice("Alder Creek Dental", "Q-3001", "320.00", TODAY - timedelta(days=12))
        entry = self.qbo.create(
            "JournalEntry",
            {
                "TxnDate": "2024-12-31",
                "PrivateNote": "Year-end accrual",
                "Line": self._journal_lines(),
            },
            key=self._key("je"),
        )
        self.books.ignored[f"qbo.JournalEntry:{entry['Id']}"] = (
            "2024 year-end accrual: books only, never A/R in TPS"
        )
        self._unrecognised()

    def _unrecognised(self) -> None:
        """What else a bookkeeper puts in QBO that TPS has no screen for: a sales receipt and
        a refund receipt, a bill and a vendor credit posted to A/R by mistake and the bill
        paid from A/R, a transfer into A/R (an account the firm has renamed); and a bank
        transfer, which has nothing to do with A/R and blocks nothing."""
        accounts = {a["Name"]: {"value": a["Id"]} for a in self.qbo.query_all("Account")}
        receivable = accounts["Accounts Receivable (A/R)"]
        # The firm calls its A/R account by its own name; what it is is its AccountType.
        self.qbo.update("Account", receivable["value"], {"Name": "Trade Receivables"})
        payable = self.qbo.create(
            "Account",
            {"Name": "Accounts Payable (A/P)", "AccountType": "Accounts Payable"},
            key=self._key("ap"),
        )
        vendor = self.qbo.create("Vendor", {"DisplayName": "Harbour Property Mgmt"}, key="v")
        partner = {"value": self.books.customers["Former Partners LLP"]["Id"]}
        sale = [self._sale_line("120.00")]
        made: dict[str, Record] = {
            "SalesReceipt": {"CustomerRef": partner, "TxnDate": "2024-05-02", "Line": sale},
            "RefundReceipt": {
                "CustomerRef": partner,
                "TxnDate": "2025-01-10",
                "Line": sale,
                "DepositToAccountRef": accounts["Chequing"],
            },
            "Bill": {
                "VendorRef": {"value": vendor["Id"]},
                "APAccountRef": {"value": payable["Id"]},
                "TxnDate": "2025-02-01",
                "Line": [self._expense_line(receivable)],
            },
            "VendorCredit": {
                "VendorRef": {"value": vendor["Id"]},
                "APAccountRef": {"value": payable["Id"]},
                "TxnDate": "2025-02-15",
                "Line": [self._expense_line(receivable)],
            },
            "Transfer": {
                "FromAccountRef": accounts["Chequing"],
                "ToAccountRef": receivable,
                "Amount": Decimal("75.00"),
                "TxnDate": "2024-09-30",
            },
        }
        for entity, body in made.items():
            made[entity] = self.qbo.create(entity, body, key=self._key(entity))
        # The bill, paid by cheque "from" the A/R account: a bill payment touching A/R.
        made["BillPayment"] = self.qbo.create(
            "BillPayment",
            {
                "VendorRef": {"value": vendor["Id"]},
                "PayType": "Check",
                "CheckPayment": {"BankAccountRef": receivable},
                "TotalAmt": Decimal("40.00"),
                "TxnDate": "2025-02-20",
                "Line": [
                    {
                        "Amount": Decimal("40.00"),
                        "LinkedTxn": [{"TxnId": made["Bill"]["Id"], "TxnType": "Bill"}],
                    }
                ],
            },
            key=self._key("BillPayment"),
        )
        for entity, record in made.items():
            self.books.ignored[f"qbo.{entity}:{record['Id']}"] = (
                f"{entity} from before TPS, settled in QBO"
            )
        self.qbo.create(
            "Transfer",
            {
                "FromAccountRef": accounts["Chequing"],
                "ToAccountRef": accounts["Trust Account"],
                "Amount": Decimal("500.00"),
                "TxnDate": "2025-03-01",
            },
            key=self._key("bank-transfer"),
        )

    def _sale_line(self, amount: str) -> Record:
        return sale_line(self.item, amount)

    @staticmethod
    def _expense_line(account: Record) -> Record:
        return {
            "Amount": Decimal("40.00"),
            "DetailType": "AccountBasedExpenseLineDetail",
            "AccountBasedExpenseLineDetail": {"AccountRef": account},
        }

    def _journal_lines(self) -> list[Record]:
        accounts = {a["Name"]: a["Id"] for a in self.qbo.query_all("Account")}
        expense = next(i for n, i in accounts.items() if "Expense" in n or "Rent" in n)
        bank = accounts.get("Chequing") or next(iter(accounts.values()))
        return [
            {
                "DetailType": "JournalEntryLineDetail",
                "Amount": Decimal("250.00"),
                "JournalEntryLineDetail": {"PostingType": side, "AccountRef": {"value": ident}},
            }
            for side, ident in (("Debit", expense), ("Credit", bank))
        ]

    def qbo_invoice(self, name: str, doc: str, amount: str, when: date) -> Record:
        customer = self.books.customers[name]
        return self.qbo.create(
            "Invoice",
            {
                "CustomerRef": {"value": customer["Id"]},
                "DocNumber": doc,
                "TxnDate": when.isoformat(),
                "Line": [sale_line(self.item, amount, "Bookkeeping")],
            },
            key=self._key("inv"),
        )

    def qbo_payment(
        self, customer_id: str, amount: Decimal, applied: list[tuple[str, Decimal]], when: date
    ) -> Record:
        return self.qbo.create(
            "Payment",
            {
                "CustomerRef": {"value": customer_id},
                "TotalAmt": amount,
                "TxnDate": when.isoformat(),
                "Line": [
                    {"Amount": value, "LinkedTxn": [{"TxnId": ident, "TxnType": "Invoice"}]}
                    for ident, value in applied
                ],
            },
            key=self._key("pay"),
        )

    def _paid_history(self, name: str, when: date) -> None:
        doc = f"{when.year % 100}{self.rng.randrange(100, 999)}-{len(self.books.notes)}"
        self.books.notes.append(doc)
        invoice = self.qbo_invoice(name, doc, "480.00", when)
        self.qbo_payment(
            invoice["CustomerRef"]["value"],
            Decimal("480.00"),
            [(invoice["Id"], Decimal("480.00"))],
            when + timedelta(days=20),
        )


def build_books(tps: TpsSource, qbo: QboClient) -> Books:
    builder = Builder(tps, qbo)
    builder.tps_side()
    builder.qbo_side()
    return builder.books
