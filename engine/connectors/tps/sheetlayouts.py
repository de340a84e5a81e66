"""The column layouts of the file bridge's sheets: TPS's own import layouts where TPS has one
(invoices, work codes), the export layouts of docs/tps-contract.md for the rest. What each
column is called, which record field it fills and which kind of cell it holds (sheetcells).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    header: str
    field: str
    kind: str = "text"
    required: bool = True


@dataclass(frozen=True)
class Sheet:
    name: str
    columns: tuple[Column, ...]


SHEETS: dict[str, Sheet] = {
    s.name: s
    for s in (
        Sheet(
            "clients",
            (
                Column("Client Code", "code"),
                Column("Client Name", "name"),
                Column("Contact", "contact_name", required=False),
                Column("Email", "email", required=False),
                Column("Phone", "phone", required=False),
                Column("Address 1", "address.line1", required=False),
                Column("Address 2", "address.line2", required=False),
                Column("City", "address.city", required=False),
                Column("Province/State", "address.region", required=False),
                Column("Postal Code", "address.postal_code", required=False),
                Column("Country", "address.country", required=False),
                Column("Office", "office", required=False),
                Column("Active", "active", "bool", required=False),
                Column("Terms", "terms_days", "int", required=False),
            ),
        ),
        # TPS's Work Code import, column for column.
        Sheet(
            "work-codes",
            (
                Column("Work ID", "work_id", "int"),
                Column("Work Type", "node_type", "node"),
                Column("Parent", "parent", "int", required=False),
                Column("Type", "class", "class"),
                Column("Rate Level", "rate_level", "int", required=False),
                Column("Work Code", "code"),
                Column("Name", "name"),
                Column("Tax1", "tax1", "bool"),
                Column("Tax2", "tax2", "bool"),
                Column("Tax3", "tax3", "bool"),
            ),
        ),
        # TPS's Import Invoices, column for column; no other columns are allowed there.
        Sheet(
            "invoices",
            (
                Column("Client Code", "client_id"),
                Column("Invoice Number", "doc_number"),
                Column("Amount", "subtotal", "money"),
                Column("Taxes", "tax_total", "money"),
                Column("Date", "date", "date"),
                Column("Description", "description", required=False),
            ),
        ),
        # The lines of the invoices sheet, so invoices can be pushed line by line.
        Sheet(
            "invoice-lines",
            (
                Column("Invoice Number", "invoice_id"),
                Column("Work Code", "work_code"),
                Column("Description", "description", required=False),
                Column("Hours", "hours", required=False),
                Column("Amount", "amount", "money"),
            ),
        ),
        Sheet(
            "payments",
            (
                Column("Client Code", "client_id"),
                Column("Date", "date", "date"),
                Column("Amount", "amount", "money"),
                Column("Method", "method", required=False),
                Column("Reference", "reference", required=False),
                Column("Applied To", "applied_to", required=False),
                Column("Description", "description", required=False),
                Column("Bank Account", "bank_account", required=False),
            ),
        ),
    )
}
