"""An emulated firm as the export sheets a firm without the TPS API works from: what a
bookkeeper would export from TPS each night for the files connection (`FileBooks`).

Clients are known by their code and invoices by their number, as on TPS's own sheets;
payments by what they are (client, date, amount, reference: `paymentids.payment_ids`) or the
`QBO-…` id they were entered with; adjustments and finance charges by their record id
(Reference). Voided invoices, payments and adjustments are listed in `voids.csv`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tpsqbo_engine.connectors.tps import paymentids, sheetlayouts, sheetwriting
from tpsqbo_engine.connectors.tps.booksheets import SHEETS as MORE_SHEETS
from tpsqbo_engine.connectors.tps.filebooks import entered_as
from tpsqbo_engine.emulators.tps.firm import Firm

Record = dict[str, Any]


def _codes(firm: Firm) -> dict[str, str]:
    return {c["id"]: c["code"] for c in firm.table("clients").values()}


def _numbers(firm: Firm) -> dict[str, str]:
    return {i["id"]: i["doc_number"] for i in firm.table("invoices").values()}


def _work_codes(firm: Firm) -> list[Record]:
    """TPS's Work Code import wants a tree: a TYPE row for each work type above its codes."""
    rows: list[Record] = []
    types: dict[str, str] = {}
    for code in sorted(firm.table("work-codes").values(), key=lambda c: c["id"]):
        if code["node_type"] != "work_code":
            continue
        work_type = str(code.get("work_type") or "General")
        if work_type not in types:
            types[work_type] = f"type-{work_type}"
            rows.append(
                {
                    "id": types[work_type],
                    "node_type": "type",
                    "class": code.get("class") or "chargeable",
                    "code": work_type.upper(),
                    "name": work_type,
                    "tax1": False,
                    "tax2": False,
                    "tax3": False,
                }
            )
        rows.append({**code, "parent_id": types[work_type]})
    return list(sheetwriting.work_code_import_rows(rows))


def _payment_rows(
    payments: list[Record], codes: dict[str, str], numbers: dict[str, str]
) -> list[Record]:
    return [
        {
            **p,
            "client_id": codes[p["client_id"]],
            "applications": [
                {**a, "invoice_id": numbers[a["invoice_id"]]} for a in p.get("applications") or []
            ],
        }
        for p in payments
    ]


def _payment_numbers(payments: list[Record], rows: list[Record]) -> dict[str, str]:
    """Payment id -> its number on the sheets: the one the files connection gives the row
    (or the one it went out with from the outbox)."""
    return {
        p["id"]: entered_as(p) or ident
        for p, ident in zip(payments, paymentids.payment_ids(rows), strict=True)
    }


def sheet_numbers(firm: Firm) -> dict[str, dict[str, str]]:
    """By kind (as voids.csv names kinds), each record's number on the sheets -> its id."""
    codes, numbers = _codes(firm), _numbers(firm)
    with firm.lock:
        payments = sorted(firm.table("payments").values(), key=lambda p: p["id"])
        adjustments = list(firm.table("adjustments").values())
        charges = list(firm.table("finance-charges").values())
    paid = _payment_numbers(payments, _payment_rows(payments, codes, numbers))
    return {
        "invoice": {number: ident for ident, number in numbers.items()},
        "payment": {number: ident for ident, number in paid.items()},
        "adjustment": {entered_as(a) or a["id"]: a["id"] for a in adjustments},
        "finance-charge": {c["id"]: c["id"] for c in charges},
    }


def export_sheets(firm: Firm, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    codes, numbers = _codes(firm), _numbers(firm)
    with firm.lock:
        clients = sorted(firm.table("clients").values(), key=lambda c: c["id"])
        invoices = sorted(firm.table("invoices").values(), key=lambda i: i["id"])
        payments = sorted(firm.table("payments").values(), key=lambda p: p["id"])
        adjustments = sorted(firm.table("adjustments").values(), key=lambda a: a["id"])
        charges = sorted(firm.table("finance-charges").values(), key=lambda c: c["id"])
    sheets = sheetlayouts.SHEETS
    sheetwriting.write_sheet(folder / "clients.csv", sheets["clients"], clients)
    sheetwriting.write_sheet(folder / "work-codes.csv", sheets["work-codes"], _work_codes(firm))
    sheetwriting.write_sheet(
        folder / "invoices.csv",
        sheets["invoices"],
        [{**i, "client_id": codes[i["client_id"]]} for i in invoices],
    )
    sheetwriting.write_sheet(
        folder / "invoice-lines.csv",
        sheets["invoice-lines"],
        [
            {**line, "invoice_id": i["doc_number"]}
            for i in invoices
            for line in i.get("lines") or []
        ],
    )
    rows = _payment_rows(payments, codes, numbers)
    sheetwriting.write_sheet(
        folder / "payments.csv", sheets["payments"], sheetwriting.payment_rows(rows)
    )
    sheetwriting.write_sheet(
        folder / "adjustments.csv",
        MORE_SHEETS["adjustments"],
        [
            {
                **a,
                "client_id": codes[a["client_id"]],
                "invoice_id": numbers.get(a.get("invoice_id") or ""),
            }
            for a in adjustments
        ],
    )
    sheetwriting.write_sheet(
        folder / "finance-charges.csv",
        MORE_SHEETS["finance-charges"],
        [{**c, "client_id": codes[c["client_id"]]} for c in charges],
    )
    paid_rows = _payment_numbers(payments, rows)
    voids = (
        [
            {"kind": "invoice", "number": numbers[i["id"]], "what": "void"}
            for i in invoices
            if i.get("status") == "void"
        ]
        + [
            {"kind": "payment", "number": paid_rows[p["id"]], "what": "void"}
            for p in payments
            if p.get("status") == "void"
        ]
        + [
            {"kind": "adjustment", "number": entered_as(a) or a["id"], "what": "void"}
            for a in adjustments
            if a.get("status") == "void"
        ]
    )
    sheetwriting.write_sheet(folder / "voids.csv", MORE_SHEETS["voids"], voids)
