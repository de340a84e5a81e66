"""The sheets outbox takes the same write once: a run resumed after a crash sends it again
with the same key, and TPS's import would make two records of two rows."""

from __future__ import annotations

import csv
import shutil
from decimal import Decimal
from pathlib import Path

from tpsqbo_engine.connectors.tps.filesource import FileTps

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tps-files"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def test_a_write_made_again_after_a_crash_replaces_its_outbox_row(tmp_path: Path) -> None:
    folder = tmp_path / "sheets"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("outbox"))
    client = next(iter(FileTps(folder, "F").records("clients")))["id"]
    invoice = {
        "doc_number": "HP-9001",
        "client_id": client,
        "date": "2026-11-01",
        "total": Decimal("100.00"),
        "lines": [{"work_code": "TAX", "amount": Decimal("100.00"), "description": "x"}],
    }
    payment = {
        "client_id": client,
        "date": "2026-11-02",
        "amount": Decimal("40"),
        "applications": [{"invoice_id": "HP-9001", "amount": Decimal("40")}],
    }
    for _ in range(2):  # the second: the same writes after a crash, same keys
        tps = FileTps(folder, "F")
        tps.create("invoices", dict(invoice), key="create:invoice")
        tps.create("payments", dict(payment), key="create:payment")
    other = FileTps(folder, "F")
    other.create("invoices", {**invoice, "doc_number": "HP-9002"}, key="create:other")
    other.create("payments", {**payment, "amount": Decimal("41")}, key="create:other-pay")
    invoices = _rows(folder / "outbox" / "import-invoices.csv")
    assert sorted(r["Invoice Number"] for r in invoices) == ["HP-9001", "HP-9002"]
    payments = _rows(folder / "outbox" / "payments-to-enter.csv")
    assert sorted(Decimal(r["Amount"]) for r in payments) == [Decimal(40), Decimal(41)]
