"""The sheets `FileBooks` reads beyond `FileTps`'s: adjustments, finance charges and voids.
Their column layouts and outbox sheet names, what makes a row of them refused, and what each
does to the invoices and payments read beside it (a decrease or a payment lowers an
invoice's balance, a void gives a payment's applications back). Kept apart from FileBooks,
which is how the files connection reads and writes them, so both stay small.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tpsqbo_engine.connectors.tps import sheetreading
from tpsqbo_engine.connectors.tps.outboxrows import checked
from tpsqbo_engine.connectors.tps.sheetlayouts import Column, Sheet

Record = dict[str, Any]
SHEETS: dict[str, Sheet] = {
    "adjustments": Sheet(
        "adjustments",
        (
            Column("Reference", "id"),
            Column("Client Code", "client_id"),
            Column("Direction", "direction"),
            Column("Date", "date", "date"),
            Column("Amount", "amount", "money"),
            Column("Applied To", "invoice_id", required=False),
            Column("Description", "description", required=False),
        ),
    ),
    "finance-charges": Sheet(
        "finance-charges",
        (
            Column("Reference", "id"),
            Column("Client Code", "client_id"),
            Column("Date", "date", "date"),
            Column("Amount", "amount", "money"),
            Column("Rate", "rate", required=False),
            Column("Base Balance", "base_balance", "money", required=False),
            Column("Description", "description", required=False),
        ),
    ),
    "voids": Sheet(
        "voids",
        (
            Column("Kind", "kind"),
            Column("Number", "number"),
            Column("What", "what", required=False),
        ),
    ),
}
KINDS = {
    "invoice": "invoices",
    "payment": "payments",
    "adjustment": "adjustments",
    "finance-charge": "finance-charges",
}
OUTBOX = {"adjustments": "adjustments-to-enter.csv", "voids": "voids-to-enter.csv"}


def read_rows(path: Path, sheet: str, check: Any = None) -> list[Record]:
    records, problems = sheetreading.read_sheet(path, SHEETS[sheet])
    return checked(path, records, problems, check)


def adjustment_problem(record: Record) -> str | None:
    direction = str(record.get("direction", "")).lower()
    if direction not in ("increase", "decrease"):
        return "Direction: expected increase or decrease"
    record["direction"] = direction
    if direction == "increase" and record.get("invoice_id"):
        return "Applied To: only a decrease is applied to an invoice"
    return None


def void_problem(record: Record) -> str | None:
    record["what"] = str(record.get("what") or "void").lower()
    if str(record.get("kind", "")).lower() not in KINDS:
        return f"Kind: expected one of {', '.join(KINDS)}"
    if record["what"] not in ("void", "deleted"):
        return "What: expected void or deleted"
    return None


def take_from_balance(invoice: Record, amount: Decimal) -> None:
    invoice["balance"] = str(Decimal(invoice["balance"]) - amount)
    if Decimal(invoice["balance"]) <= 0:
        invoice["status"] = "paid"


def apply_voids(tables: dict[str, dict[str, Record]], voids: list[Record]) -> None:
    """Voided or deleted records read as void; a voided payment gives its invoices back
    what it had paid."""
    for row in voids:
        record = tables[KINDS[row["kind"].lower()]].get(str(row["number"]))
        if record is None or record.get("status") == "void":
            continue
        record["status"] = "void"
        if row["kind"].lower() == "invoice":
            record["balance"] = "0.00"
        if row["kind"].lower() == "payment":
            for application in record.get("applications") or []:
                invoice = tables["invoices"].get(application["invoice_id"])
                if invoice is not None and invoice.get("status") != "void":
                    take_from_balance(invoice, -Decimal(application["amount"]))
                    invoice["status"] = "outstanding"


def applied_per_invoice(payment: Record) -> dict[str, Decimal]:
    """What a payment applies to each invoice (an amount that is no number counts as more:
    refused where the invoice is void rather than let through)."""
    applied: dict[str, Decimal] = {}
    for application in payment.get("applications") or []:
        invoice_id = str(application.get("invoice_id"))
        try:
            amount = Decimal(str(application.get("amount")))
        except InvalidOperation:
            amount = Decimal("NaN")
        amount = amount if amount.is_finite() else Decimal("Infinity")
        applied[invoice_id] = applied.get(invoice_id, Decimal(0)) + amount
    return applied
