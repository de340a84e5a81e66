"""A payments sheet whose Applied To cannot be taken: the read stops, each such cell located."""

from __future__ import annotations

from pathlib import Path

import pytest

from tpsqbo_engine.connectors.tps.sheetreading import FileBridgeError, read_payments

HEADER = "Client Code,Date,Amount,Method,Reference,Applied To,Description,Bank Account\n"


def test_an_unreadable_or_excessive_applied_to_is_located_and_nothing_is_read(
    tmp_path: Path,
) -> None:
    sheet = tmp_path / "payments.csv"
    sheet.write_text(
        HEADER
        + "ABBOTT001,2026-09-15,100.00,Cheque,1,HP-1001=60.00;HP-1002=50.00,,\n"
        + "ABBOTT001,2026-09-16,100.00,Cheque,2,HP-1003 sixty,,\n"
        + "ABBOTT001,2026-09-17,100.00,Cheque,3,HP-1004=100.00,,\n",
        encoding="utf-8",
    )
    with pytest.raises(FileBridgeError) as refused:
        read_payments(sheet)
    told = {(p.line, p.column, p.message.split(":")[0]) for p in refused.value.problems}
    assert told == {
        (2, 6, "more is applied than the payment's amount"),
        (3, 6, "Applied To"),
    }
