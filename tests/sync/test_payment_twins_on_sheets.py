"""On TPS sheets, two payments alike in client, date, amount and reference, synced: applying
one of them in TPS, or editing one's description, updates its QBO copy; no run creates a
second copy of it in QBO."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests import ports
from tpsqbo_engine.connectors.qbo.connect import ConnectSettings, connect
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer, QboOptions
from tpsqbo_engine.sync.config import load_config
from tpsqbo_engine.sync.session import Session

EXAMPLES = Path(__file__).parents[2] / "examples" / "tps-files"
TWINS = (
    "SMITHH003,2026-11-05,100.00,EFT,,,retainer,\n",
    "SMITHH003,2026-11-05,100.00,EFT,,,,\n",
)


def _visit(url: str) -> None:
    requests.get(url, timeout=10)


@pytest.fixture
def firm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Session, Path, QboEmulatorServer]]:
    sheets = tmp_path / "tps-files"
    shutil.copytree(EXAMPLES, sheets)
    for spare in sheets.glob("*.xlsx"):
        spare.unlink()
    with (sheets / "payments.csv").open("a", encoding="utf-8") as payments:
        payments.writelines(TWINS)
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
        assert session.sync().counts["Failed"] == 0
        yield session, sheets / "payments.csv", qbo


def _rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")


def _retainers(session: Session, qbo: QboEmulatorServer) -> list[tuple[str, str]]:
    """The QBO payments of the twins' client on their date: (amount, unapplied)."""
    (customer,) = [
        r["qbo_id"] for r in session.state.links("Client|Customer") if r["tps_id"] == "SMITHH003"
    ]
    return sorted(
        (f"{p['TotalAmt']:.2f}", f"{p['UnappliedAmt']:.2f}")
        for p in qbo.company.table("Payment").values()
        if p["CustomerRef"]["value"] == customer
        and p["TxnDate"] == "2026-11-05"
        and p.get("TxnStatus") != "Voided"
    )


def test_applying_or_editing_a_twin_creates_no_second_payment(
    firm: tuple[Session, Path, QboEmulatorServer],
) -> None:
    session, payments, qbo = firm
    linked = {r["tps_id"] for r in session.state.links("Payment|Payment")}
    twins = {i for i in linked if i.startswith("pay-SMITHH003-2026-11-05-100.00~")}
    assert len(twins) == 2
    assert _retainers(session, qbo) == [("100.00", "100.00"), ("100.00", "100.00")]

    _rewrite(payments, TWINS[1], "SMITHH003,2026-11-05,100.00,EFT,,HP-1003=100.00,,\n")
    applied = Session(session.config)
    plan, _ = applied.plan()
    assert [op.action for op in plan.writes() if op.record.startswith("tps.Payment:")] == ["update"]
    run = applied.sync()
    assert run.counts["Failed"] == 0
    assert {r["tps_id"] for r in applied.state.links("Payment|Payment")} == linked
    assert _retainers(session, qbo) == [("100.00", "0.00"), ("100.00", "100.00")]

    _rewrite(payments, TWINS[0], "SMITHH003,2026-11-05,100.00,EFT,,,retainer for 2027,\n")
    edited = Session(session.config)
    run = edited.sync()
    assert run.counts["Failed"] == 0
    assert not [
        i for i in edited.state.items(run.run_id) if i["message"].startswith("created qbo.Payment")
    ]
    assert {r["tps_id"] for r in edited.state.links("Payment|Payment")} == linked
    assert _retainers(session, qbo) == [("100.00", "0.00"), ("100.00", "100.00")]
    assert [r.client for r in edited.reconcile() if r.difference] == []
