"""On TPS sheets, two payments alike in client, date, amount and reference, synced: applying
one of them in TPS, or editing one's description, updates its QBO copy; no run creates a
second copy of it in QBO."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sync.sheets_firm import example_sheets_firm
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer
from tpsqbo_engine.sync.session import Session

TWINS = (
    "SMITHH003,2026-11-05,100.00,EFT,,,retainer,\n",
    "SMITHH003,2026-11-05,100.00,EFT,,,,\n",
)


@pytest.fixture
def firm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Session, Path, QboEmulatorServer]]:
    with example_sheets_firm(tmp_path, monkeypatch, TWINS) as (session, sheets, qbo):
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
