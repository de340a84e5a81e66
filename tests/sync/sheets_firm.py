"""A demo firm moved onto TPS sheets: its firm exported to `folder`, and a session reading
TPS from there (the same QBO company, state and rules)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tpsqbo_engine.connectors.tps.filebooks import FileBooks
from tpsqbo_engine.emulators.tps.export import export_sheets
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer
from tpsqbo_engine.sync.session import Session


def on_sheets(api: Session, tps: TpsEmulatorServer, folder: Path) -> Session:
    folder.mkdir()
    export_sheets(tps.firm, folder)
    tps_config = dataclasses.replace(api.config.tps, connection="files", folder=folder)
    session = Session(dataclasses.replace(api.config, tps=tps_config))
    assert isinstance(session.tps, FileBooks)
    return session
