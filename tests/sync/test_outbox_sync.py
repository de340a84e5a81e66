"""The sync on sheets, run after run, with a client change waiting in the outbox: nothing
written there is lost, reverted in QBO, or flagged as a conflict with QBO's next change."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.sync.sheets_firm import sheets_firm
from tpsqbo_engine.sync.config import FirmConfig
from tpsqbo_engine.sync.session import Session

CLIENTS = (
    "Client Code,Client Name,Email,Phone\n"
    "ALDER01,Alder & Ash,ap@alder.example,(503) 555-1001\n"
    "BIRCH02,Birch Books,ap@birch.example,(503) 555-1002\n"
)


@pytest.fixture
def firm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, FirmConfig]]:
    sheets = tmp_path / "tps-files"
    sheets.mkdir()
    (sheets / "clients.csv").write_text(CLIENTS)
    with sheets_firm(tmp_path, monkeypatch, "Alder & Ash", "empty") as (session, qbo):
        yield qbo, session.config


def _run(config: FirmConfig) -> dict[str, list[str]]:
    session = Session(config)
    run = session.sync()
    return {
        status: [str(i["message"]) for i in session.state.items(run.run_id, status)]
        for status in ("Successful", "Warning", "Failed")
    }


def _customer(qbo: Any) -> dict[str, Any]:
    (found,) = [c for c in qbo.company.table("Customer").values() if "ALDER01" in c["Notes"]]
    return dict(found)


def _change(qbo: Any, **fields: Any) -> None:
    customer = _customer(qbo)
    body = {"Id": customer["Id"], "SyncToken": customer["SyncToken"], **fields}
    qbo.company.update("Customer", body, sparse=True)


def _waiting(config: FirmConfig) -> list[dict[str, str]]:
    assert config.tps.folder is not None
    with (config.tps.folder / "outbox" / "client-changes.csv").open() as sheet:
        return list(csv.DictReader(sheet))


def test_a_client_change_waiting_in_the_outbox_is_kept_run_after_run(
    firm: tuple[Any, FirmConfig],
) -> None:
    qbo, config = firm
    assert config.tps.folder is not None
    first = _run(config)
    assert first["Failed"] == [] and len(first["Successful"]) == 2

    _change(qbo, PrimaryPhone={"FreeFormNumber": "(503) 555-9999"})
    assert _run(config)["Failed"] == []
    _change(qbo, PrimaryEmailAddr={"Address": "new@alder.example"})
    second = _run(config)
    assert (second["Warning"], second["Failed"]) == ([], [])  # not a conflict
    (row,) = _waiting(config)  # one row, with both changes
    assert (row["Client Code"], row["Phone"], row["Email"]) == (
        "ALDER01",
        "(503) 555-9999",
        "new@alder.example",
    )

    # A fresh export before the outbox is entered: its old phone is not sent to QBO.
    (config.tps.folder / "clients.csv").write_text(CLIENTS)
    assert _run(config) == {"Successful": [], "Warning": [], "Failed": []}
    assert _customer(qbo)["PrimaryPhone"]["FreeFormNumber"] == "(503) 555-9999"

    # A column added to tick rows off: the next change is Failed, the sheet kept as it is.
    sheet = config.tps.folder / "outbox" / "client-changes.csv"
    text = sheet.read_text()
    sheet.write_text(text.replace("\n", ",Entered\n", 1))
    ticked = sheet.read_bytes()
    _change(qbo, PrimaryPhone={"FreeFormNumber": "(503) 555-7777"})
    (failed,) = _run(config)["Failed"]
    assert "client-changes.csv was changed by hand" in failed
    assert sheet.read_bytes() == ticked

    sheet.write_text(text)  # the column taken off again: the change goes out
    assert _run(config)["Failed"] == []
    (row,) = _waiting(config)
    assert (row["Phone"], row["Email"]) == ("(503) 555-7777", "new@alder.example")
