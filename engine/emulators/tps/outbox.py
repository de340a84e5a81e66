"""A bookkeeper taking the engine's outbox into an emulated TPS firm, as a firm on sheets
does between two runs: Tools → Import Invoices for `import-invoices`, and by hand, row by
row as each sheet says, the client changes, invoice changes, payments, adjustments and
voids to enter.

Only the outbox sheets are read, through their documented layouts (`sheetlayouts.SHEETS`,
`booksheets.SHEETS`): what the engine meant is whatever those sheets carry. TPS numbers
what it is given itself (a payment or adjustment gets TPS's own id; the Description keeps
the `QBO-…` word the engine put first). Entered sheets move to `outbox/entered/N-NAME`, so
the next run's outbox holds only what is new. The next `export.export_sheets` is then what
TPS would export after the import.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from tpsqbo_engine.connectors.tps import sheetlayouts, sheetreading
from tpsqbo_engine.connectors.tps.booksheets import KINDS
from tpsqbo_engine.connectors.tps.booksheets import OUTBOX as MORE_OUTBOX
from tpsqbo_engine.connectors.tps.booksheets import SHEETS as MORE_SHEETS
from tpsqbo_engine.connectors.tps.filesource import OUTBOX
from tpsqbo_engine.emulators.tps.export import sheet_numbers
from tpsqbo_engine.emulators.tps.firm import Firm
from tpsqbo_engine.sync.compare import same

Record = dict[str, Any]


def _read(path: Path, sheet: sheetlayouts.Sheet) -> list[Record]:
    records, problems = sheetreading.read_sheet(path, sheet)
    if problems:
        raise sheetreading.FileBridgeError(problems)
    for record in records:
        record.pop("_row", None)
    return records


class _Entering:
    def __init__(self, firm: Firm) -> None:
        self.firm = firm
        self.clients = {c["code"]: c["id"] for c in firm.table("clients").values()}

    def invoices(self) -> dict[str, str]:
        return {i["doc_number"]: i["id"] for i in self.firm.table("invoices").values()}

    def client_changes(self, rows: list[Record]) -> None:
        for row in rows:
            ident = self.clients.get(row["code"])
            if ident is None:
                self.clients[row["code"]] = self.firm.create("clients", row)["id"]
                continue
            # The sheet carries the whole client; what changed is what differs as people
            # see it (a sheet's cells are read trimmed: "  Alder " is still "Alder").
            current = self.firm.get("clients", ident)
            changes = {k: v for k, v in row.items() if not same(v, current.get(k))}
            if changes:
                self.firm.update(
                    "clients", ident, {**changes, "version": current["version"]}, partial=True
                )

    def invoice_imports(self, rows: list[Record]) -> None:
        for row in rows:  # Import Invoices: a quick invoice of Amount plus Taxes
            taxes = Decimal(row.pop("tax_total"))
            body = {**row, "client_id": self.clients[row["client_id"]], "type": "quick"}
            if taxes:
                body["taxes"] = [{"name": "Taxes", "amount": str(taxes)}]
            self.firm.create("invoices", body)

    def invoice_changes(self, rows: list[Record]) -> None:
        invoices = self.invoices()
        for row in rows:  # by hand, on the invoice: its date, amount and taxes
            ident = invoices[row.pop("doc_number")]
            current = self.firm.get("invoices", ident)
            taxes = Decimal(row.pop("tax_total"))
            body = {**row, "client_id": self.clients[row["client_id"]]}
            body["taxes"] = [{"name": "Taxes", "amount": str(taxes)}] if taxes else []
            self.firm.update(
                "invoices", ident, {**body, "version": current["version"]}, partial=True
            )

    def payments(self, rows: list[Record]) -> None:
        invoices = self.invoices()
        for row in rows:
            applications = sheetreading.applied_to(row.pop("applied_to", None) or "")
            self.firm.create(
                "payments",
                {
                    **row,
                    "client_id": self.clients[row["client_id"]],
                    "applications": [
                        {**a, "invoice_id": invoices[a["invoice_id"]]} for a in applications
                    ],
                },
            )

    def adjustments(self, rows: list[Record]) -> None:
        invoices = self.invoices()
        for row in rows:
            row.pop("id")  # TPS numbers it; the Description's first word names it
            applied = row.pop("invoice_id", None)
            body = {**row, "client_id": self.clients[row["client_id"]]}
            if applied:
                body["invoice_id"] = invoices[applied]
            self.firm.create("adjustments", body)

    def voids(self, rows: list[Record]) -> None:
        for row in rows:
            kind = str(row["kind"]).lower()
            ident = sheet_numbers(self.firm)[kind][str(row["number"])]
            current = self.firm.get(KINDS[kind], ident)
            self.firm.update(
                KINDS[kind],
                ident,
                {"status": "void", "version": current["version"]},
                partial=True,
            )


def enter_outbox(firm: Firm, outbox: Path) -> dict[str, int]:
    """Enters every outbox sheet into `firm`, in the order TPS needs them (clients, then
    invoices, then what refers to invoices, voids last); how many rows each had."""
    entering = _Entering(firm)
    steps: list[tuple[str, sheetlayouts.Sheet, Callable[[list[Record]], None]]] = [
        (OUTBOX["clients"][0], sheetlayouts.SHEETS["clients"], entering.client_changes),
        (OUTBOX["invoices"][0], sheetlayouts.SHEETS["invoices"], entering.invoice_imports),
        (OUTBOX["invoice-changes"][0], sheetlayouts.SHEETS["invoices"], entering.invoice_changes),
        (OUTBOX["payments"][0], sheetlayouts.SHEETS["payments"], entering.payments),
        (MORE_OUTBOX["adjustments"], MORE_SHEETS["adjustments"], entering.adjustments),
        (MORE_OUTBOX["voids"], MORE_SHEETS["voids"], entering.voids),
    ]
    entered: dict[str, int] = {}
    done = outbox / "entered"
    for name, sheet, enter in steps:
        path = outbox / name
        if not path.is_file():
            continue
        rows = _read(path, sheet)
        enter(rows)
        entered[name] = len(rows)
        done.mkdir(exist_ok=True)
        path.replace(done / f"{len(list(done.iterdir())) + 1}-{name}")
    return entered
