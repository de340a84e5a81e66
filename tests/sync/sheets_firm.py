"""Firms on TPS sheets: a demo firm moved onto sheets (its firm exported to `folder`, the
same QBO company, state and rules), and the example sheets' firm connected to a QBO company
of its own."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests import ports
from tpsqbo_engine.connectors.qbo.connect import ConnectSettings, connect
from tpsqbo_engine.connectors.tps.filebooks import FileBooks
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer, QboOptions
from tpsqbo_engine.emulators.tps.export import export_sheets
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer
from tpsqbo_engine.sync.config import load_config
from tpsqbo_engine.sync.session import Session

EXAMPLES = Path(__file__).parents[2] / "examples" / "tps-files"


def on_sheets(api: Session, tps: TpsEmulatorServer, folder: Path) -> Session:
    folder.mkdir()
    export_sheets(tps.firm, folder)
    tps_config = dataclasses.replace(api.config.tps, connection="files", folder=folder)
    session = Session(dataclasses.replace(api.config, tps=tps_config))
    assert isinstance(session.tps, FileBooks)
    return session


def _visit(url: str) -> None:
    """The user's browser at the consent page: the emulator consents at once."""
    requests.get(url, timeout=10)


@contextmanager
def example_sheets_firm(
    folder: Path, monkeypatch: pytest.MonkeyPatch, payments: Iterable[str] = ()
) -> Iterator[tuple[Session, Path, QboEmulatorServer]]:
    """The example sheets (CSV only, `payments` rows added) as a firm in `folder`, connected
    to a QBO emulator of the starter company and backed up: its session, its sheets' folder
    and the emulator."""
    sheets = folder / "tps-files"
    shutil.copytree(EXAMPLES, sheets)
    for spare in sheets.glob("*.xlsx"):
        spare.unlink()
    with (sheets / "payments.csv").open("a", encoding="utf-8") as written:
        written.writelines(payments)
    with sheets_firm(folder, monkeypatch, "Harbor & Pine CPAs", "starter") as (session, qbo):
        yield session, sheets, qbo


@contextmanager
def sheets_firm(
    folder: Path, monkeypatch: pytest.MonkeyPatch, name: str, seed: str
) -> Iterator[tuple[Session, QboEmulatorServer]]:
    """The firm `name` on the sheets in `folder`/tps-files, connected to a QBO emulator of
    `seed` and backed up: its session and the emulator."""
    with QboEmulatorServer(QboOptions(seed=seed)) as qbo:
        monkeypatch.setenv("TPSQBO_QBO_CLIENT_SECRET", qbo.oauth.client_secret)
        (folder / "tpsqbo.yaml").write_text(
            f"kind: firm\nfirm: {name}\nrules: [tps-qbo-standard]\n"
            "tps: {connection: files, folder: tps-files}\n"
            f"qbo: {{environment: '{qbo.discovery_url}', limits: 'off'}}\n"
        )
        config = load_config(folder / "tpsqbo.yaml")
        settings = ConnectSettings(
            qbo.oauth.client_id,
            qbo.oauth.client_secret,
            qbo.discovery_url,
            ports.REDIRECT,
            config.qbo.token_file,
        )
        connect(settings, announce=_visit)
        session = Session(config)
        session.backup()
        yield session, qbo
