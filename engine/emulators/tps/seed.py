"""Seeded firms: `demo`, a small realistic and awkward practice, and `large:N`, N clients with
proportional work, generated deterministically for benchmarks.

The demo firm has about 40 clients (apostrophes, colons, accents, a 150-character name, two
clients with the same name, one without an email), a work-code tree of types, subtypes and
codes, WIP, about 120 invoices of every bill type (fully paid, partly paid, one for zero, a
progress bill, opening balances), payments with unapplied prepayments, increase and decrease
adjustments, and finance charges. Everything goes in through the firm's own rules.
"""

from __future__ import annotations

import random
import unicodedata
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tpsqbo_engine.emulators.tps.firm import Firm, money, text

FIRM = {
    "name": "Harbor & Pine CPAs",
    "email": "billing@harborpine.example",
    "phone": "(503) 555-0140",
    "website": "https://harborpine.example",
    "invoice_code": "HP",
    "currency": "USD",
    "tax_names": {"tax1": "Sales Tax"},
    "address": {
        "line1": "800 SW Harbor Way",
        "line2": "Suite 300",
        "city": "Portland",
        "region": "OR",
        "postal_code": "97201",
        "country": "US",
    },
}
TAX_RATE = Decimal("0.0825")
TODAY = date(2026, 11, 20)

# (type, subtype or None, code, name, class, rate, taxable)
WORK_CODES = [
    ("Accounting", None, "ACC-REV", "Review engagement", "chargeable", "165.00", False),
    ("Accounting", None, "ACC-COMP", "Compilation", "chargeable", "145.00", False),
    ("Accounting", None, "ACC-YE", "Year-end adjustments", "chargeable", "150.00", False),
    ("Audit", None, "AUD-FIELD", "Audit fieldwork", "chargeable", "185.00", False),
    ("Audit", None, "AUD-PLAN", "Audit planning", "chargeable", "185.00", False),
    ("Bookkeeping", None, "BK-MONTH", "Monthly bookkeeping", "chargeable", "95.00", False),
    ("Bookkeeping", None, "BK-CATCH", "Catch-up bookkeeping", "chargeable", "95.00", False),
    ("Bookkeeping", None, "BK-RECON", "Bank reconciliations", "chargeable", "85.00", False),
    ("Tax", "Personal", "TAX-1040", "Individual return", "chargeable", "175.00", False),
    ("Tax", "Personal", "TAX-EST", "Estimated tax planning", "chargeable", "175.00", False),
    ("Tax", "Corporate", "TAX-1120", "Corporate return", "chargeable", "210.00", False),
    ("Tax", "Corporate", "TAX-1065", "Partnership return", "chargeable", "200.00", False),
    ("Tax", "Corporate", "TAX-SALES", "Sales tax filings", "chargeable", "120.00", False),
    ("Consulting", None, "CON-ADV", "Business advisory", "chargeable", "225.00", False),
    ("Consulting", None, "CON-SYS", "Systems setup", "chargeable", "160.00", True),
    ("Payroll", None, "PAY-RUN", "Payroll processing", "chargeable", "75.00", False),
    ("Payroll", None, "PAY-YE", "W-2 and 1099 filings", "chargeable", "90.00", False),
    ("Expense", None, "EXP-COPY", "Copies and printing", "expense", "1.00", True),
    ("Expense", None, "EXP-FILE", "Filing fees", "expense", "1.00", False),
    ("Expense", None, "EXP-POST", "Courier and postage", "expense", "1.00", True),
    ("Admin", None, "ADM-INT", "Internal administration", "nonchargeable", None, False),
    ("Admin", None, "ADM-TRAIN", "Training", "nonchargeable", None, False),
]
_CLIENT_NAMES = [
    "Abbott & O'Neil LLP",
    "Côté & Fils Ltée",
    "Smith: Holdings Group",
    "Zoë Lindqvist Design",
    "Red Rock Diner",
    "Paulsen Medical Supplies",
    "Jeff's Jalopies",
    "Müller GmbH",
    "Northwind Traders",
    "Blue Heron Yoga",
    "Cascade Plumbing & Heating",
    "D'Arcy Family Trust",
    "Evergreen Dental Group",
    "Fairview Veterinary",
    "Garcia Landscaping",
    "Hollis & Reed, Inc.",
    "Ironwood Brewing Co.",
    "Juniper Hill Farm",
    "Kestrel Aviation LLC",
    "Lakeside Marina",
    "Mount Hood Outfitters",
    "Nakamura Architecture",
    "O'Brien Consulting",
    "Pioneer Title Co.",
    "Quinault Timber",
    "Rosewood Bakery",
    "Sánchez Auto Body",
    "Tillamook Creamery Supply",
    "Umpqua Valley Vineyards",
    "Vashon Island Ferries",
    "Willamette Legal Services",
    "Xavier Photography",
    "Yamhill County Grange",
    "Zig Zag Ski School",
    "Rosewood Bakery",
    "Ålesund Seafoods",
    "Bridgetown Books",
    "Crater Lake Lodge",
    "Deschutes Tire & Wheel",
]
_LONG_NAME = (
    "The Very Long Name Consolidated Holdings, Investments, Properties, Trusts and "
    "Affiliated Professional Services Corporation of the Pacific Northwest, Ltd"
)[:150]


def _client(index: int, name: str, rng: random.Random, email: bool = True) -> dict[str, Any]:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = "".join(c for c in folded.lower() if c.isalnum())[:12] or "client"
    return {
        "code": f"{slug[:6].upper()}{index:03d}",
        "name": name,
        "contact_name": rng.choice(
            ["Pat Lee", "Marie Côté", "Sam O'Hara", "Ana Souza", "Chris Park", None]
        ),
        "email": f"ap@{slug}.example" if email else None,
        "phone": f"(503) 555-{1000 + index:04d}",
        "address": {
            "line1": f"{100 + index * 7} {rng.choice(['Main', 'Oak', 'Pine'])} St",
            "line2": None,
            "city": rng.choice(["Portland", "Salem", "Eugene"]),
            "region": "OR",
            "postal_code": f"97{200 + index:03d}",
            "country": "US",
        },
        "office": rng.choice(["Portland", "Salem"]),
        "terms_days": 30,
        "active": True,
    }


def _node(
    firm: Firm, code: str, name: str, node_type: str, work_type: str, kind: str, **extra: Any
) -> str:
    """A Type or Subtype of the work-code tree: it groups codes and is never billed."""
    return str(
        firm.create(
            "work-codes",
            {
                "code": code,
                "name": name,
                "node_type": node_type,
                "work_type": work_type,
                "class": kind,
                "active": True,
                "tax1": False,
                "tax2": False,
                "tax3": False,
                **extra,
            },
        )["id"]
    )


def _work_codes(firm: Firm) -> list[dict[str, Any]]:
    ids: dict[str, str] = {}
    codes = []
    for type_name, subtype, code, name, kind, rate, taxable in WORK_CODES:
        if type_name not in ids:
            ids[type_name] = _node(firm, type_name.upper(), type_name, "type", type_name, kind)
        parent = ids[type_name]
        if subtype is not None:
            key = f"{type_name}/{subtype}"
            if key not in ids:
                ids[key] = _node(
                    firm,
                    key.replace("/", "-").upper(),
                    subtype,
                    "subtype",
                    type_name,
                    kind,
                    parent_id=parent,
                )
            parent = ids[key]
        codes.append(
            firm.create(
                "work-codes",
                {
                    "code": code,
                    "name": name,
                    "node_type": "work_code",
                    "parent_id": parent,
                    "work_type": type_name,
                    "class": kind,
                    "rate_level": 1,
                    "default_rate": rate,
                    "tax1": taxable,
                    "tax2": False,
                    "tax3": False,
                    "active": True,
                },
            )
        )
    return codes


def _lines(rng: random.Random, codes: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    billable = [c for c in codes if c["class"] != "nonchargeable"]
    lines = []
    for number in range(1, count + 1):
        code = rng.choice(billable)
        if code["class"] == "expense":
            hours, amount = None, Decimal(rng.randrange(1500, 12000)) / 100
        else:
            hours = Decimal(rng.randrange(2, 40)) / 2
            amount = hours * money(code["default_rate"])
        lines.append(
            {
                "line_no": number,
                "work_code": code["code"],
                "markup": "0.00",
                "description": code["name"],
                "hours": str(hours) if hours else None,
                "amount": text(amount),
            }
        )
    return lines


def _taxes(lines: list[dict[str, Any]], codes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    taxable = sum(
        (money(line["amount"]) for line in lines if codes[line["work_code"]]["tax1"]), Decimal(0)
    )
    return (
        [{"slot": "tax1", "name": "Sales Tax", "amount": text(taxable * TAX_RATE)}]
        if taxable
        else []
    )


def _invoice(
    firm: Firm,
    rng: random.Random,
    client: dict[str, Any],
    when: date,
    codes: list[dict[str, Any]],
    kind: str,
    lines: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    by_code = {c["code"]: c for c in codes}
    lines = _lines(rng, codes, rng.randint(1, 4)) if lines is None else lines
    return firm.create(
        "invoices",
        {
            "client_id": client["id"],
            "date": when.isoformat(),
            "due_date": (when + timedelta(days=30)).isoformat(),
            "type": kind,
            "description": "Professional services rendered",
            "template": "Detail (ID)",
            "lines": lines,
            "taxes": _taxes(lines, by_code),
        },
    )


def _pay(
    firm: Firm, rng: random.Random, invoice: dict[str, Any], share: Decimal, when: date
) -> None:
    amount = (money(invoice["balance"]) * share).quantize(Decimal("0.01"))
    if amount <= 0:
        return
    firm.create(
        "payments",
        {
            "client_id": invoice["client_id"],
            "date": when.isoformat(),
            "amount": text(amount),
            "method": rng.choice(["Cheque", "EFT", "Credit card"]),
            "bank_account": "Operating",
            "reference": f"{rng.randrange(1000, 99999)}",
            "applications": [{"invoice_id": invoice["id"], "amount": text(amount)}],
        },
    )


def demo_firm() -> Firm:
    rng = random.Random(2026)
    firm = Firm(dict(FIRM))
    codes = _work_codes(firm)
    clients = [
        firm.create("clients", _client(i, name, rng, email=name != "Müller GmbH"))
        for i, name in enumerate(_CLIENT_NAMES, start=1)
    ]
    clients.append(firm.create("clients", _client(len(clients) + 1, _LONG_NAME, rng)))
    billable = [c for c in codes if c["class"] != "nonchargeable"]
    for client in clients[:12]:  # unbilled work in progress
        for _ in range(3):
            code = rng.choice(codes)
            hours = Decimal(rng.randrange(1, 16)) / 2
            firm.create(
                "wip",
                {
                    "client_id": client["id"],
                    "employee_id": "emp-7",
                    "work_code": code["code"],
                    "date": (TODAY - timedelta(days=rng.randrange(1, 20))).isoformat(),
                    "hours": str(hours),
                    "amount": text(hours * money(code["default_rate"] or "0")),
                    "description": code["name"],
                    "status": "unbilled",
                },
            )
    invoices = []
    kinds = ["quick"] * 45 + ["detail"] * 50 + ["automatic"] * 15 + ["opening_balance"] * 6
    for number, kind in enumerate(kinds):
        client = clients[number % len(clients)]
        when = TODAY - timedelta(days=rng.randrange(5, 180))
        invoices.append(_invoice(firm, rng, client, when, codes, kind))
    invoices.append(
        _invoice(
            firm,
            rng,
            clients[4],
            TODAY - timedelta(days=12),
            codes,
            "progress",
            [
                {
                    "line_no": 1,
                    "work_code": "TAX-1120",
                    "description": "Progress bill: 2026 corporate return",
                    "amount": "1500.00",
                    "markup": "0.00",
                }
            ],
        )
    )
    invoices.append(
        _invoice(
            firm,
            rng,
            clients[7],
            TODAY - timedelta(days=40),
            codes,
            "quick",
            [
                {
                    "line_no": 1,
                    "work_code": billable[0]["code"],
                    "description": "No charge: courtesy review",
                    "amount": "0.00",
                    "markup": "0.00",
                }
            ],
        )
    )
    for index, invoice in enumerate(invoices[:-2]):
        when = date.fromisoformat(invoice["date"]) + timedelta(days=rng.randrange(3, 25))
        if index % 3 == 0:
            _pay(firm, rng, invoice, Decimal(1), min(when, TODAY))
        elif index % 7 == 1:
            _pay(firm, rng, invoice, Decimal("0.4"), min(when, TODAY))
    for client in clients[20:24]:  # prepayments, not yet applied
        firm.create(
            "payments",
            {
                "client_id": client["id"],
                "date": TODAY.isoformat(),
                "amount": "500.00",
                "method": "EFT",
                "bank_account": "Trust",
                "reference": "RETAINER",
                "applications": [],
            },
        )
    _adjustments_and_charges(firm, rng, clients, invoices)
    return firm


def _adjustments_and_charges(
    firm: Firm, rng: random.Random, clients: list[dict[str, Any]], invoices: list[dict[str, Any]]
) -> None:
    open_invoices = [firm.get("invoices", i["id"]) for i in invoices]
    open_invoices = [i for i in open_invoices if money(i["balance"]) > 50]
    for invoice in open_invoices[:5]:
        firm.create(
            "adjustments",
            {
                "client_id": invoice["client_id"],
                "direction": "decrease",
                "date": TODAY.isoformat(),
                "description": "Courtesy discount",
                "amount": "25.00",
                "invoice_id": invoice["id"],
            },
        )
    for client in clients[30:33]:
        firm.create(
            "adjustments",
            {
                "client_id": client["id"],
                "direction": "increase",
                "date": TODAY.isoformat(),
                "description": "Refund of prepayment",
                "amount": "120.00",
            },
        )
    for invoice in open_invoices[5:9]:
        base = money(invoice["balance"])
        firm.create(
            "finance-charges",
            {
                "client_id": invoice["client_id"],
                "date": TODAY.isoformat(),
                "rate": "1.50",
                "base_balance": text(base),
                "amount": text(base * Decimal("0.015")),
                "description": "Finance charge on overdue balance",
            },
        )


def large_firm(clients: int) -> Firm:
    """`clients` clients with about ten invoices each, a third of them paid."""
    rng = random.Random(clients)
    firm = Firm(dict(FIRM))
    codes = _work_codes(firm)
    for index in range(1, clients + 1):
        client = firm.create("clients", _client(index, f"Client {index:05d} & Co", rng))
        for _ in range(10):
            when = TODAY - timedelta(days=rng.randrange(5, 200))
            invoice = _invoice(firm, rng, client, when, codes, rng.choice(["quick", "detail"]))
            if rng.random() < 0.33:
                _pay(firm, rng, invoice, Decimal(1), when + timedelta(days=10))
    return firm


def seeded_firm(seed: str) -> Firm:
    """`demo`, `empty` (the firm's settings and nothing else), `large:N`, or a path to a
    YAML/JSON file describing a firm (see `seedfile`)."""
    if seed == "demo":
        return demo_firm()
    if seed == "empty":
        return Firm(dict(FIRM))
    if seed.startswith("large:") and seed[6:].isdigit() and int(seed[6:]) > 0:
        return large_firm(int(seed[6:]))
    if seed.endswith((".yaml", ".yml", ".json")):
        from tpsqbo_engine.emulators.tps.seedfile import firm_from_file

        return firm_from_file(Path(seed), dict(FIRM))
    raise ValueError(f"unknown seed {seed!r}: use demo, empty, large:N or a .yaml/.json file")
