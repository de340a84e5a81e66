"""The sync with TPS as sheets: export sheets in, TPS import sheets out."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests

from tests import ports
from tpsqbo_engine.connectors.qbo.connect import ConnectSettings, connect
from tpsqbo_engine.connectors.tps import sheetreading
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer, QboOptions
from tpsqbo_engine.sync.config import load_config
from tpsqbo_engine.sync.session import Session

EXAMPLES = Path(__file__).parents[2] / "examples" / "tps-files"


def _visit(url: str) -> None:
    requests.get(url, timeout=10)


def test_a_firm_without_an_endpoint_syncs_from_sheets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sheets = tmp_path / "tps-files"
    shutil.copytree(EXAMPLES, sheets)
    for spare in sheets.glob("*.xlsx"):
        spare.unlink()
    with QboEmulatorServer(QboOptions(seed="starter")) as qbo:
        monkeypatch.setenv("TPSQBO_QBO_CLIENT_SECRET", qbo.oauth.client_secret)
        (tmp_path / "tpsqbo.yaml").write_text(
            "kind: firm\nfirm: Harbor & Pine CPAs\nrules: [tps-qbo-standard]\n"
            "tps: {connection: files, folder: tps-files}\n"
            f"qbo: {{environment: '{qbo.discovery_url}', limits: 'off'}}\n"
        )
        config = load_config(tmp_path / "tpsqbo.yaml")
        connect(
            ConnectSettings(
                qbo.oauth.client_id,
                qbo.oauth.client_secret,
                qbo.discovery_url,
                ports.REDIRECT,
                config.qbo.token_file,
            ),
            announce=_visit,
        )
        session = Session(config)
        session.backup()
        first = session.sync()
        failed = [(i["record"], i["message"]) for i in session.state.items(first.run_id, "Failed")]
        assert failed == []
        assert first.counts["Successful"] > 100
        assert all(not row.difference for row in session.reconcile())
        customer = qbo.company.find_by("Customer", "DisplayName", "Red Rock Diner")
        item = qbo.company.find_by("Item", "Name", "Monthly bookkeeping")
        assert customer is not None and item is not None
        qbo.company.create(
            "Invoice",
            {
                "CustomerRef": {"value": customer["Id"]},
                "DocNumber": "Q-9",
                "Line": [
                    {
                        "Amount": 80,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
                    }
                ],
            },
        )
        second = Session(config).sync()
        assert second.counts["Failed"] == 0
    outbox = sheetreading.read_invoices(sheets / "outbox" / "import-invoices.csv")
    assert [(i["doc_number"], i["client_id"], i["subtotal"]) for i in outbox] == [
        ("Q-9", "REDROC005", "80.00")
    ]
