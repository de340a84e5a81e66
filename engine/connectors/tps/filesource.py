"""TPS through files, for firms with no TPS endpoint: the sync reads TPS export sheets and
writes what TPS must take in as import sheets, in an outbox folder.

Reads: clients.csv, work-codes.csv, invoices.csv (+ invoice-lines.csv) and payments.csv
(CSV or XLSX) from the folder. An invoice's balance is its total less the payments applied
to it. A record's version is a digest of its content and its `updated_at` the file's time,
so an unchanged sheet reads as unchanged. Writes: invoices go to `outbox/import-invoices.csv`
(TPS's Import Invoices layout; changes to invoices already in TPS to `invoice-changes.csv`,
in the same layout, to be made by hand), payments to `outbox/payments-to-enter.csv` and
client changes to `outbox/client-changes.csv`, for someone to enter in TPS; nothing else
can be written. A second change to a client or invoice whose first still waits in the outbox
is made on its row; an outbox sheet changed by hand is refused, never rewritten.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tpsqbo_engine.connectors.tps import sheetio, sheetlayouts, sheetreading, sheetwriting
from tpsqbo_engine.connectors.tps.client import TpsRejected, convert_money
from tpsqbo_engine.connectors.tps.contract import RESOURCES
from tpsqbo_engine.connectors.tps.outboxrows import (
    as_record,
    client_as_changed,
    outbox_identity,
    pending_rows,
    row_cells,
    waiting_rows,
)
from tpsqbo_engine.ruleset.shapes import entity_catalog

Record = dict[str, Any]
OUTBOX = {
    "invoices": ("import-invoices.csv", "invoices"),
    # Import Invoices only adds invoices: a change to one already in TPS is made by hand.
    "invoice-changes": ("invoice-changes.csv", "invoices"),
    "payments": ("payments-to-enter.csv", "payments"),
    "clients": ("client-changes.csv", "clients"),
}


def _sheet(folder: Path, name: str) -> Path | None:
    for suffix in (".csv", ".xlsx"):
        if (folder / f"{name}{suffix}").is_file():
            return folder / f"{name}{suffix}"
    return None


def _versioned(record: Record, stamp: str) -> Record:
    digest = hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode())
    return {**record, "version": int(digest.hexdigest()[:12], 16), "updated_at": stamp}


class FileTps:
    """The part of `TpsClient` the sync uses, over export and import sheets."""

    def __init__(
        self,
        folder: Path,
        firm_name: str,
        encoding: str = "",
        known_payments: Callable[[], Collection[str]] = frozenset,
    ) -> None:
        self.folder, self.firm_name, self.encoding = folder, firm_name, encoding
        # The payment ids the sync knows (has linked): a payment edited in TPS keeps its id.
        self.known_payments = known_payments
        self.outbox = folder / "outbox"
        self._records: dict[str, dict[str, Record]] | None = None
        self._importing: set[str] = set()  # invoice numbers waiting in import-invoices.csv

    def firm(self) -> Record:
        return {"name": self.firm_name}

    def _load(self) -> dict[str, dict[str, Record]]:
        if self._records is not None:
            return self._records
        with sheetio.encoding(self.encoding):
            return self._read()

    def _read(self) -> dict[str, dict[str, Record]]:
        loaded: dict[str, list[Record]] = {resource: [] for resource in RESOURCES}
        stamps = []
        for name, reader in (
            ("clients", sheetreading.read_clients),
            ("work-codes", sheetreading.read_work_codes),
            ("payments", self._read_payments),
        ):
            path = _sheet(self.folder, name)
            if path is not None:
                loaded[name] = reader(path)
                stamps.append(path.stat().st_mtime)
        invoices_path = _sheet(self.folder, "invoices")
        if invoices_path is not None:
            codes = {c["code"] for c in loaded["clients"]} if loaded["clients"] else None
            loaded["invoices"] = sheetreading.read_invoices(invoices_path, codes)
            stamps.append(invoices_path.stat().st_mtime)
            lines_path = _sheet(self.folder, "invoice-lines")
            if lines_path is not None:
                lines = sheetreading.read_invoice_lines(
                    lines_path, [i["id"] for i in loaded["invoices"]]
                )
                for invoice in loaded["invoices"]:
                    invoice["lines"] = lines.get(invoice["id"], [])
        self._as_changed(loaded)
        stamps += self.outbox_times()
        _apply_payments(loaded["invoices"], loaded["payments"])
        _due_by_terms(loaded["invoices"], loaded["clients"])
        stamp = (
            datetime.fromtimestamp(max(stamps, default=0), UTC)
            .isoformat(timespec="microseconds")
            .replace("+00:00", "Z")
        )
        self._records = {
            resource: {r["id"]: _versioned(r, stamp) for r in rows}
            for resource, rows in loaded.items()
        }
        return self._records

    def _read_payments(self, path: Path) -> list[Record]:
        return sheetreading.read_payments(path, self.known_payments())

    def _as_changed(self, loaded: dict[str, list[Record]]) -> None:
        """Clients and invoices as the changes waiting in the outbox leave them, and the
        invoices waiting to be imported: TPS holds those once they are entered. Read as the
        export has them, a change written to QBO's value would read as TPS changing back,
        to be sent to QBO (undoing it) or flagged against QBO's next change, and a change
        to an invoice not imported yet would find it gone; once its sheet leaves the outbox
        unentered, the export's value is TPS's again."""
        for row in self.waiting("clients"):
            for index, client in enumerate(loaded["clients"]):
                if client["id"] == row["code"]:
                    loaded["clients"][index] = client_as_changed(row)
        exported = {invoice["id"] for invoice in loaded["invoices"]}
        # An invoice the export has is imported already: the export says all of it.
        importing = [
            sheetreading.as_invoice(row)
            for row in self.waiting("invoices")
            if row["doc_number"] not in exported
        ]
        loaded["invoices"] += importing
        self._importing = {invoice["id"] for invoice in importing}
        invoices = {invoice["id"]: invoice for invoice in loaded["invoices"]}
        for row in self.waiting("invoice-changes"):
            invoice = invoices.get(row["doc_number"])
            if invoice is None:
                continue
            for column in sheetlayouts.SHEETS["invoices"].columns:
                invoice.pop(column.field, None)
            total = str(Decimal(row["subtotal"]) + Decimal(row["tax_total"]))
            invoice.update(row, total=total, balance=total)

    def outbox_times(self) -> list[float]:
        """What waits in the outbox is read as made (`_as_changed`): a row written there, or
        a sheet moved out of it, is a change of the records it touches, as a new export is."""
        if not self.outbox.is_dir():
            return []
        inside = [path.stat().st_mtime for path in self.outbox.iterdir() if path.is_file()]
        return [self.outbox.stat().st_mtime, *inside]

    def waiting(self, name: str) -> list[Record]:
        """The rows of outbox sheet `name` (an OUTBOX key) still to be entered in TPS."""
        sheet, layout = OUTBOX[name]
        return waiting_rows(self.outbox / sheet, sheetlayouts.SHEETS[layout])

    def records(
        self, resource: str, updated_since: str = "", page_size: int = 0
    ) -> Iterator[Record]:
        for record in self._load()[resource].values():
            if not updated_since or record["updated_at"] > updated_since:
                yield _typed(resource, record)

    def get(self, resource: str, ident: str) -> Record:
        record = self._load()[resource].get(ident)
        if record is None:
            raise TpsRejected(f"TPS sheets hold no {resource} record {ident}", status=404)
        return _typed(resource, record)

    def create(self, resource: str, record: Record, *, key: str) -> Record:
        if resource == "invoices":
            self._refuse_invoice(record, key)
        ident = str(record.get("doc_number") or record.get("id") or key)
        written = {**record, "id": ident}
        self._to_outbox(resource, written, key=key)
        self._load()[resource][ident] = _versioned(written, "")
        if resource == "invoices":
            self._importing.add(ident)  # a change to it later in the run goes on its row
        return written

    def _refuse_invoice(self, record: Record, key: str) -> None:
        """An invoice TPS's import would take as another's, or refuse, is refused before a
        row is written: TPS names an invoice by its number, and a row without one stops
        every later read of the outbox."""
        number = str(record.get("doc_number") or "").strip()
        if not number:
            raise TpsRejected(
                f"the invoice written by {key} has no number, and TPS's Import Invoices"
                " needs one (an import row without it stops every later read of the sheets)",
                hint="give the invoice a number in QBO; it is listed as Failed until then",
            )
        if number in self._load()["invoices"] and number not in self._importing:
            raise TpsRejected(
                f"TPS's sheets already hold invoice {number}; the invoice written by {key}"
                " has the same number and would be imported as it",
                hint="give one of them another number (in QBO or TPS); it is listed as"
                " Failed until then",
            )

    def written_by(self, number: str) -> str:
        """The key that wrote invoice `number`'s waiting import row, where it is kept
        (`FileBooks` keeps it in outbox/sent.json); '' where it is not."""
        return ""

    def update(self, resource: str, ident: str, changes: Record, *, version: int) -> Record:
        current = self.get(resource, ident)
        if current["version"] != version:
            raise TpsRejected(f"the {resource} sheet changed since {ident} was read")
        if resource == "payments":
            # A row of payments-to-enter is a new payment to TPS: a changed payment written
            # there would be entered as a second one.
            raise TpsRejected(
                f"payment {ident} is in TPS already and the outbox only adds payments;"
                f" change its {', '.join(sorted(changes))} in TPS",
                hint="the record is listed as Failed until then",
            )
        updated = {**current, **changes}
        self._to_outbox(resource, updated, changes)
        if resource != "clients":
            # Read back (an undo's proof, a later write's version check) as written.
            self.as_written(resource, ident, changes)
            return updated
        # The sync keeps the version a write returns as TPS's: it is the one the next read
        # gives the client, its outbox row included, or that read would be taken for a
        # change made in TPS (and QBO's next change flagged as a conflict with it).
        row = [r for r in self.waiting("clients") if r["code"] == ident][-1]  # as read
        stamp = self._load()["clients"][ident]["updated_at"]
        self._load()["clients"][ident] = _versioned(client_as_changed(row), stamp)
        return _typed(resource, self._load()["clients"][ident])

    def as_written(self, resource: str, ident: str, changes: Record) -> None:
        """The cached record of `ident` as an outbox write leaves it: the sheets are read
        once a run, and what waits in the outbox is read as made (`_as_changed`)."""
        cached = self._load()[resource][ident]
        kept = {k: v for k, v in cached.items() if k not in ("version", "updated_at")}
        self._load()[resource][ident] = _versioned({**kept, **changes}, cached["updated_at"])

    def read_back(
        self, resource: str, ident: str, written: Record, also: Sequence[tuple[str, str]] = ()
    ) -> Record:
        """`ident` (and the records in `also` a write changed with it) as the sheets read
        afresh give them, now in the cache: what an undo reads back as its proof, and the
        version the sync keeps is the one the next run reads (the same content, the same
        version), or a record the run wrote would be taken for one changed since. The rest
        of the cache is kept as the run read it."""
        kept = self._records
        self._records = None
        fresh = self._load()
        self._records = kept if kept is not None else fresh
        for name, key in [(resource, ident), *also]:
            if key in fresh[name]:
                self._records[name][key] = fresh[name][key]
        return self.get(resource, ident) if ident in fresh[resource] else written

    def _to_outbox(
        self, resource: str, record: Record, changes: Record | None = None, key: str = ""
    ) -> None:
        """`record` as a row of its outbox sheet. `changes`: what an update changed, for a
        record whose earlier change is still waiting there; `key`: the create's."""
        if resource not in OUTBOX:
            raise TpsRejected(
                f"TPS imports cannot take {resource} changes; make them in TPS",
                hint="the record is listed as Failed until then",
            )
        # A change to an invoice still waiting to be imported is made on its import row.
        importing = str(record.get("doc_number")) in self._importing
        change = changes is not None and resource == "invoices" and not importing
        name, layout = OUTBOX["invoice-changes" if change else resource]
        path = self.outbox / name
        sheet = sheetlayouts.SHEETS[layout]
        rows = pending_rows(path, sheet)
        new = _outbox_row(resource, record)
        same = [
            i
            for i, row in enumerate(rows)
            if outbox_identity(sheet, row) == outbox_identity(sheet, new)
        ]
        if same and changes is None and resource == "invoices":
            self._refuse_other_write(path, rows[same[-1]], new, key)
        if same and changes is not None:
            # A second change to a record while its first still waits to be entered: the
            # pending row (the last, if a person doubled it) is what TPS will hold; the
            # sheets' record is from before the first.
            rows[same[-1]] = _outbox_row(resource, {**as_record(rows[same[-1]]), **changes})
        elif same:
            # The same write made again (a run resumed after a crash: the same key, or, where
            # no key is kept, the same row) replaces its row, as TPS would import a row
            # written twice as two records; another write's row is refused above.
            rows[same[-1]] = new
        else:
            rows.append(new)
        self.outbox.mkdir(parents=True, exist_ok=True)
        if resource == "invoices":
            sheetwriting.write_sheet(path, sheet, sheetwriting.invoice_import_rows(rows))
        elif resource == "payments":
            sheetwriting.write_sheet(path, sheet, sheetwriting.payment_rows(rows))
        else:
            sheetwriting.write_sheet(path, sheet, rows)

    def _refuse_other_write(self, path: Path, waiting: Record, new: Record, key: str) -> None:
        """A create whose invoice number already names a row waiting to be imported is the
        same write made again only under the same key (or, with no key kept, as the same
        row); another invoice of that number (QBO allows two) would replace the first's row,
        and TPS would import it under the first's link."""
        number = str(new.get("doc_number"))
        earlier = self.written_by(number)
        sheet = sheetlayouts.SHEETS["invoices"]
        if earlier == key if earlier else row_cells(sheet, waiting) == row_cells(sheet, new):
            return
        raise TpsRejected(
            f"invoice {number} already waits to be imported in {path.name}"
            f" (client {waiting.get('client_id')}, amount {waiting.get('subtotal')},"
            f" written by {earlier or 'an earlier write'}); the invoice written by {key}"
            f" (client {new.get('client_id')}, amount {new.get('subtotal')}) has the same"
            " number and would replace it",
            hint="give one of them another number in QBO; it is listed as Failed until then",
        )


def _typed(resource: str, record: Record) -> Record:
    """Amounts as Decimal, as the TPS API client gives them: "0.00" on a sheet is the same
    amount as the rules' Decimal("0.00")."""
    shape = entity_catalog().get(f"tps.{RESOURCES[resource]}")
    if shape is None:
        return dict(record)
    typed: Record = convert_money(dict(record), shape, to_decimal=True)
    return typed


def _outbox_row(resource: str, record: Record) -> Record:
    if resource == "invoices":
        total = Decimal(str(record.get("total") or 0))
        tax = Decimal(str(record.get("tax_total") or 0))
        return {**record, "subtotal": str(total - tax), "tax_total": str(tax)}
    if resource == "payments":
        return {
            **record,
            "applications": [
                {"invoice_id": a["invoice_id"], "amount": str(a["amount"])}
                for a in record.get("applications") or []
            ],
        }
    return record


def _due_by_terms(invoices: list[Record], clients: list[Record]) -> None:
    """Import Invoices has no due date: TPS gives an invoice its client's terms."""
    terms = {c["id"]: c.get("terms_days") for c in clients}
    for invoice in invoices:
        days = terms.get(invoice["client_id"])
        if not invoice.get("due_date") and days is not None:
            invoice["due_date"] = (
                date.fromisoformat(invoice["date"]) + timedelta(days)
            ).isoformat()


def _apply_payments(invoices: list[Record], payments: list[Record]) -> None:
    by_id = {i["id"]: i for i in invoices}
    for payment in payments:
        for application in payment.get("applications") or []:
            invoice = by_id.get(application["invoice_id"])
            if invoice is not None:
                invoice["balance"] = str(
                    Decimal(invoice["balance"]) - Decimal(application["amount"])
                )
    for invoice in invoices:
        if Decimal(invoice["balance"]) <= 0:
            invoice["status"] = "paid"
