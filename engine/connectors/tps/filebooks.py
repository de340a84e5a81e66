"""The rest of a firm's A/R on sheets: adjustments, finance charges, voids and deletions in;
adjustments and voids out, each kind in its own outbox sheet.

`FileBooks` is the files connection the sync uses. On top of the sheets `FileTps` reads
(clients, work codes, invoices with their lines, payments) it reads, when present:

- `adjustments.csv|xlsx`: Reference, Client Code, Direction (increase or decrease), Date,
  Amount, Applied To (an invoice number, for a decrease on an invoice), Description;
- `finance-charges.csv|xlsx`: Reference, Client Code, Date, Amount, Rate, Base Balance,
  Description;
- `voids.csv|xlsx`: Kind (invoice, payment, adjustment, finance-charge), Number (the
  invoice number, the payment's id as `paymentids.payment_ids` gives it, e.g.
  `pay-A1-2026-10-05-100.00-CHQ881`, or its `QBO-…` id, the adjustment's or charge's
  Reference), What (void, or deleted: a record deleted in TPS is gone for TPS, so its copy
  in QBO is voided).

These sheets' layouts, row checks and effects on balances are in booksheets; here is how the
files connection reads them into records and writes what TPS must enter.

A decrease applied to an invoice lowers its balance; a void takes a payment's applications
off its invoices again. What TPS must enter goes to `outbox/`, one sheet per kind:
`adjustments-to-enter.csv` (QBO credit memos, as TPS credits) and `voids-to-enter.csv`
(voids made in QBO), beside the invoices (new ones to import, changed ones to change by
hand), payments and client changes `FileTps` writes.
A payment or credit made in QBO goes out with its id (`QBO-` and ten hex digits) as the
first word of its Description (and, for an adjustment, as its Reference); entered so, the
next export's row is known as that record again (the id taken off its Description), and
`outbox/sent.json` gives back what a sheet cannot carry: where a payment came from, and an
imported invoice's due date and lines (Import Invoices has neither). Once the outbox
sheets are entered, move them out of `outbox/` (keep `sent.json`): the engine appends to
what is there, and refuses to write a sheet that no longer reads back as it wrote it (see
`outboxrows.pending_rows`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tpsqbo_engine.connectors.tps import sheetlayouts, sheetwriting
from tpsqbo_engine.connectors.tps.booksheets import (
    KINDS,
    OUTBOX,
    SHEETS,
    adjustment_problem,
    applied_per_invoice,
    apply_voids,
    read_rows,
    take_from_balance,
    void_problem,
)
from tpsqbo_engine.connectors.tps.client import TpsRejected
from tpsqbo_engine.connectors.tps.filesource import FileTps, _outbox_row, _sheet, _versioned
from tpsqbo_engine.connectors.tps.outboxrows import (
    as_entered,
    entered_as,
    outbox_identity,
    outgoing_id,
    payment_problem,
    pending_rows,
    waiting_entered,
    waiting_rows,
)

Record = dict[str, Any]


class FileBooks(FileTps):
    """`FileTps` with adjustments, finance charges, voids and deletions."""

    def _read(self) -> dict[str, dict[str, Record]]:
        # Inside FileTps._load: the sheets here are decoded as the firm's sheets are.
        records = super()._read()
        adjustments = self._sheet_rows("adjustments", adjustment_problem)
        charges = self._sheet_rows("finance-charges")
        for charge in charges:
            charge["balance"] = charge["amount"]
        sent = self._sent()
        invoices = {
            i: _as_sent(dict(r), sent.get(f"invoices:{i}")) for i, r in records["invoices"].items()
        }
        payments = _payments_as_entered(records["payments"], sent)
        for adjustment in adjustments:
            adjustment["id"] = as_entered(adjustment) or adjustment["id"]
        adjustments += self._adjustments_waiting({a["id"] for a in adjustments})
        self._add_payments_waiting(payments, invoices, sent)
        _take_decreases(adjustments, invoices)
        tables = {"invoices": invoices, "payments": payments} | {
            name: {r["id"]: r for r in rows}
            for name, rows in (("adjustments", adjustments), ("finance-charges", charges))
        }
        waiting = waiting_rows(self.outbox / OUTBOX["voids"], SHEETS["voids"], void_problem)
        apply_voids(tables, [*self._sheet_rows("voids", void_problem), *waiting])
        return _stamped(records, tables, self._stamp())

    # What waits in the outbox is read as entered, as FileTps reads client and invoice
    # changes (`_as_changed`): an edit made in QBO before then finds it, and balances agree.
    # Once the export has it (by its id), the export's is read.

    def _adjustments_waiting(self, exported: set[str]) -> list[Record]:
        """The adjustments written to the outbox that the export does not have yet."""
        return waiting_entered(
            self.outbox / OUTBOX["adjustments"], SHEETS["adjustments"], exported, adjustment_problem
        )

    def _add_payments_waiting(
        self, payments: dict[str, Record], invoices: dict[str, Record], sent: dict[str, Record]
    ) -> None:
        """The payments written to the outbox that the export does not have yet, into
        `payments`, with what they apply taken off their invoices' balances."""
        for payment in waiting_entered(
            self.outbox / "payments-to-enter.csv",
            sheetlayouts.SHEETS["payments"],
            set(payments),
            payment_problem,
        ):
            payments[payment["id"]] = {**payment, **sent.get(payment["id"], {})}
            for application in payment["applications"]:
                invoice = invoices.get(application["invoice_id"])
                if invoice is not None:
                    take_from_balance(invoice, Decimal(application["amount"]))

    def _sheet_rows(self, name: str, check: Any = None) -> list[Record]:
        path = _sheet(self.folder, name)
        return read_rows(path, name, check) if path is not None else []

    def _stamp(self) -> str:
        """One moment for every record: the newest sheet's, so a change in any sheet (a
        decrease lowering an invoice's balance) is seen as a change of what it touches."""
        names = ["clients", "work-codes", "invoices", "invoice-lines", "payments", *SHEETS]
        times = [p.stat().st_mtime for n in names if (p := _sheet(self.folder, n)) is not None]
        times += self.outbox_times()
        return (
            datetime.fromtimestamp(max(times, default=0), UTC)
            .isoformat(timespec="microseconds")
            .replace("+00:00", "Z")
        )

    def create(self, resource: str, record: Record, *, key: str) -> Record:
        made = self._create(resource, record, key=key)
        return self.read_back(resource, str(made["id"]), made)

    def update(self, resource: str, ident: str, changes: Record, *, version: int) -> Record:
        touched: list[tuple[str, str]] = []
        if resource == "payments" and changes.get("status") == "void":
            # A voided payment gives its invoices back what it had paid.
            applied = self.get(resource, ident).get("applications") or []
            touched = [("invoices", str(a["invoice_id"])) for a in applied]
        updated = self._update(resource, ident, changes, version=version)
        return self.read_back(resource, ident, updated, touched)

    def _update(self, resource: str, ident: str, changes: Record, *, version: int) -> Record:
        if changes.get("status") != "void" and resource == "payments":
            return self._change_payment(ident, changes, version)
        if changes.get("status") != "void":
            # The outbox first: a sheet refused leaves outbox/sent.json as it was too.
            updated = super().update(resource, ident, changes, version=version)
            if resource == "invoices":
                self._keep_unimported(ident, changes, merge=True)
            return updated
        current = self.get(resource, ident)
        kind = next(k for k, r in KINDS.items() if r == resource)
        self._write_out("voids", {"kind": kind, "number": ident, "what": "void"})
        return {**current, "status": "void"}

    def _change_payment(self, ident: str, changes: Record, version: int) -> Record:
        """A payment made in QBO and not entered yet is changed on its row of
        payments-to-enter.csv; one TPS has is refused (`FileTps.update`: another row would
        be entered as another payment)."""
        path = self.outbox / "payments-to-enter.csv"
        rows = pending_rows(path, sheetlayouts.SHEETS["payments"])
        mine = [i for i, row in enumerate(rows) if entered_as(row) == ident]
        if not mine:
            return super().update("payments", ident, changes, version=version)
        current = self.get("payments", ident)
        if current["version"] != version:
            raise TpsRejected(f"the payments sheet changed since {ident} was read")
        changed = {**current, **changes}
        self._refuse_void_invoices(changed, current)  # as the create is, before any row
        note = " ".join(filter(None, [ident, changed.get("description")]))
        rows[mine[-1]] = _outbox_row("payments", {**changed, "description": note})
        sheetwriting.write_sheet(
            path, sheetlayouts.SHEETS["payments"], sheetwriting.payment_rows(rows)
        )
        if changes.get("source"):
            self._remember(ident, {"source": changes["source"]})
        return changed

    def _create(self, resource: str, record: Record, *, key: str) -> Record:
        if resource == "payments":
            # A payment made in QBO goes out with its id at the start of its Description:
            # entered in TPS that way, it comes back in the next export as the same payment
            # (not a new one to send to QBO), and what the sheets cannot say (where it came
            # from) is kept in outbox/sent.json to be read back with it.
            self._refuse_void_invoices(record)
            ident = outgoing_id(key)
            note = " ".join(filter(None, [ident, record.get("description")]))
            made = super().create(resource, {**record, "id": ident, "description": note}, key=key)
            self._remember(ident, {"source": record.get("source") or "qbo"})
            return made
        if resource != "adjustments":
            made = super().create(resource, record, key=key)
            if resource == "invoices":
                self._keep_unimported(str(record.get("doc_number")), {**record, "key": key})
            return made
        self._refuse_decrease_on_void(record)
        # TPS numbers an adjustment it is given itself, so, as for payments, the id goes out
        # as the Description's first word to bring the entered adjustment back as this one.
        ident = outgoing_id(key)
        note = " ".join(filter(None, [ident, record.get("description")]))
        written = {**record, "id": ident, "description": note}
        self._write_out("adjustments", written)
        self._load()["adjustments"][written["id"]] = _versioned(written, "")
        return written

    def _refuse_void_invoices(self, payment: Record, before: Record | None = None) -> None:
        """TPS applies no payment to a void invoice: refused as the TPS API refuses it
        (`invoice_void`), before a row TPS would not take is written. What the payment
        applied to it `before` the void stays: only more is refused, as TPS does."""
        invoices = self._load()["invoices"]
        was = applied_per_invoice(before or {})
        for invoice_id, amount in applied_per_invoice(payment).items():
            invoice = invoices.get(invoice_id)
            if invoice is None or invoice.get("status") != "void":
                continue
            if amount > was.get(invoice_id, Decimal(0)):
                raise TpsRejected(
                    f"TPS's sheets hold invoice {invoice['id']} as void: a payment cannot be"
                    " applied to it",
                    status=422,
                    code="invoice_void",
                )

    def _refuse_decrease_on_void(self, adjustment: Record) -> None:
        """TPS applies no decrease adjustment to a void invoice either: refused as the TPS
        API refuses it (`invoice_void`), before a row of adjustments-to-enter TPS would not
        take is written."""
        invoice = self._load()["invoices"].get(str(adjustment.get("invoice_id") or ""))
        if adjustment.get("direction") != "decrease" or invoice is None:
            return
        if invoice.get("status") == "void":
            raise TpsRejected(
                f"TPS's sheets hold invoice {invoice['id']} as void: a decrease adjustment"
                " cannot be applied to it",
                status=422,
                code="invoice_void",
            )

    def _keep_unimported(self, number: str, record: Record, merge: bool = False) -> None:
        """Import Invoices carries no due date and no lines: kept, to be read back with the
        invoice while TPS's sheets say nothing of them."""
        kept = {k: record[k] for k in _KEPT if record.get(k)}
        if kept.get("lines"):
            # To the cent, however the amount came (120.0 from a restore's diff, 120.00 from
            # QBO): the same lines read back as the same invoice, with the same version.
            kept["lines"] = [
                {**line, "amount": Decimal(str(line["amount"])).quantize(Decimal("0.01"))}
                if isinstance(line, dict) and line.get("amount") not in (None, "")
                else line
                for line in kept["lines"]
            ]
        if merge:
            kept = {**self._sent().get(f"invoices:{number}", {}), **_plain(kept)}
        self._remember(f"invoices:{number}", _plain(kept))

    def written_by(self, number: str) -> str:
        return str(self._sent().get(f"invoices:{number}", {}).get("key") or "")

    def _sent(self) -> dict[str, Record]:
        path = self.outbox / "sent.json"
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as bad:
            raise TpsRejected(
                f"{path} cannot be read ({bad})", hint="restore it from a backup of the folder"
            ) from None
        return {str(k): dict(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _remember(self, ident: str, fields: Record) -> None:
        sent = {**self._sent(), ident: fields}
        self.outbox.mkdir(parents=True, exist_ok=True)
        partial = self.outbox / ".sent.json.partial"
        partial.write_text(json.dumps(sent, indent=1, sort_keys=True), encoding="utf-8")
        partial.replace(self.outbox / "sent.json")

    def _write_out(self, name: str, row: Record) -> None:
        """`row` added to its outbox sheet; the same write made again (a run resumed after
        a crash: the same adjustment Reference, the same record voided) replaces its row,
        as TPS would enter a row written twice twice."""
        path = self.outbox / OUTBOX[name]
        sheet = SHEETS[name]
        rows = pending_rows(path, sheet)
        same = [
            i
            for i, kept in enumerate(rows)
            if outbox_identity(sheet, kept) == outbox_identity(sheet, row)
        ]
        if same:
            rows[same[-1]] = row
        else:
            rows.append(row)
        self.outbox.mkdir(parents=True, exist_ok=True)
        sheetwriting.write_sheet(path, sheet, rows)


_NOT_IMPORTED = ("due_date", "lines")
_KEPT = (*_NOT_IMPORTED, "key")  # key: the create that wrote its import row


def _plain(value: Any) -> Any:
    """JSON's types: amounts as text."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Decimal) else value


def _payments_as_entered(exported: dict[str, Record], sent: dict[str, Record]) -> dict[str, Record]:
    """The export's payments, one entered from the outbox under the id it went out with (the
    Description's first word) and with what outbox/sent.json kept of it."""
    payments = {}
    for ident, payment in exported.items():
        entered = as_entered(payment)
        payments[entered or ident] = {**payment, "id": entered or ident, **sent.get(entered, {})}
    return payments


def _take_decreases(adjustments: list[Record], invoices: dict[str, Record]) -> None:
    """A decrease applied to an invoice lowers its balance."""
    for adjustment in adjustments:
        invoice = invoices.get(adjustment.get("invoice_id") or "")
        if adjustment["direction"] == "decrease" and invoice is not None:
            take_from_balance(invoice, Decimal(adjustment["amount"]))


def _stamped(
    records: dict[str, dict[str, Record]], tables: dict[str, dict[str, Record]], stamp: str
) -> dict[str, dict[str, Record]]:
    """`records` with `tables` in place of theirs, and every record versioned at `stamp`
    (what it had as version and updated_at dropped): one moment for all, see `_stamp`."""
    for name, table in tables.items():
        records[name] = _restamped(table, stamp)
    for name in ("clients", "work-codes"):
        records[name] = _restamped(records[name], stamp)
    return records


def _restamped(table: dict[str, Record], stamp: str) -> dict[str, Record]:
    return {
        i: _versioned({k: v for k, v in r.items() if k not in ("version", "updated_at")}, stamp)
        for i, r in table.items()
    }


def _as_sent(invoice: Record, sent: Record | None) -> Record:
    """An invoice the engine sent through Import Invoices, with what the import could not
    carry, unless TPS's sheets now say otherwise (lines entered since)."""
    for name, value in (sent or {}).items():
        # A sheet never carries a due date (the one read is the client's terms, a guess).
        if name == "due_date" or (name in _NOT_IMPORTED and not invoice.get(name)):
            invoice[name] = value
    return invoice


__all__ = ["FileBooks", "entered_as"]  # entered_as: for the TPS emulator's exports
