"""`undo --run N`: creates taken back, updates restored from before-images, a payment
voided, a record changed since left alone and listed, crash-safe, and no undo of an undo."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer
from tpsqbo_engine.sync.demo import demo_firm, november_invoice
from tpsqbo_engine.sync.plan import Plan
from tpsqbo_engine.sync.session import Session
from tpsqbo_engine.sync.undo import UndoRefused, plan_undo
from tpsqbo_engine.sync.undo_apply import apply_undo
from tpsqbo_engine.watch.demo import payable_invoice

Firm = tuple[Session, QboEmulatorServer, TpsEmulatorServer]


@pytest.fixture
def firm(tmp_path: Path) -> Iterator[Firm]:
    with demo_firm(tmp_path) as started:
        started[0].backup()
        yield started


def _client(tps: TpsEmulatorServer, name: str) -> dict[str, Any]:
    return next(c for c in tps.firm.table("clients").values() if c["name"] == name)


def _customer(qbo: QboEmulatorServer, name: str) -> dict[str, Any]:
    found = qbo.company.find_by("Customer", "DisplayName", name)
    assert found is not None
    return found


def _week(session: Session, tps: TpsEmulatorServer, folder: Path) -> dict[str, str]:
    """A new TPS invoice (a QBO create), two client edits (QBO updates) and an online
    payment in QBO (a TPS create)."""
    garcia = _client(tps, "Garcia Landscaping")
    invoice = session.tps.create(
        "invoices", november_invoice(garcia["id"]), key="undo-test-invoice"
    )
    for name, email in (
        ("Juniper Hill Farm", "accounts@juniperhill.example"),
        ("Blue Heron Yoga", "office@blueheron.example"),
    ):
        client = _client(tps, name)
        session.tps.update("clients", client["id"], {"email": email}, version=client["version"])
    paid, link = payable_invoice(session, folder)
    requests.post(link, params={"format": "json"}, timeout=10).raise_for_status()
    diner = session.qbo.query("SELECT * FROM Customer WHERE DisplayName = 'Red Rock Diner'")[0]
    session.qbo.update("Customer", diner["Id"], {"PrimaryPhone": {"FreeFormNumber": "555-0142"}})
    return {"invoice": invoice["doc_number"], "paid": paid}


@pytest.fixture
def week(firm: Firm, tmp_path: Path) -> tuple[Firm, int, dict[str, str]]:
    session, _, tps = firm
    session.sync(render_to=tmp_path / "invoices")
    made = _week(session, tps, tmp_path / "invoices")
    run = session.sync()
    assert run.counts["Failed"] == 0
    return firm, run.run_id, made


def _by_target(plan: Any) -> dict[str, Any]:
    return {op.target: op for op in plan.operations}


def test_undo_takes_back_creates_updates_and_a_payment_and_lists_a_record_changed_since(
    week: tuple[Firm, int, dict[str, str]],
) -> None:
    (session, qbo, tps), run, made = week
    juniper, heron = _customer(qbo, "Juniper Hill Farm"), _customer(qbo, "Blue Heron Yoga")
    invoice = qbo.company.find_by("Invoice", "DocNumber", made["invoice"])
    assert juniper["PrimaryEmailAddr"]["Address"] == "accounts@juniperhill.example"
    assert invoice is not None
    payment = next(p for p in tps.firm.table("payments").values() if p["source"] == "qbo_online")
    # Someone edits Blue Heron Yoga in QBO after the run: it must be left alone.
    qbo.company.update(
        "Customer",
        {"Id": heron["Id"], "SyncToken": heron["SyncToken"], "Notes": "called on Monday"},
        sparse=True,
    )
    undo = plan_undo(session, run)
    ops = _by_target(undo.plan)
    assert ops[f"qbo.Invoice:{invoice['Id']}"].action == "void"
    assert ops[f"qbo.Invoice:{invoice['Id']}"].message.startswith("delete")
    restore = ops[f"qbo.Customer:{juniper['Id']}"]
    assert restore.action == "update"
    assert restore.diff["PrimaryEmailAddr.Address"][1] != "accounts@juniperhill.example"
    assert ops[f"tps.Payment:{payment['id']}"].message.startswith("void")
    diner = _client(tps, "Red Rock Diner")
    assert diner["phone"] == "555-0142"  # run N wrote QBO's change back to TPS
    back = ops[f"tps.Client:{diner['id']}"]
    assert back.action == "update" and back.diff["phone"] == ["555-0142", back.body["phone"]]
    listed = ops[f"qbo.Customer:{heron['Id']}"]
    assert listed.action == "review" and "changed since" in listed.message
    assert undo.plan.phase == "undo"

    summary = apply_undo(session, undo)
    assert not summary.complete and summary.counts["Undone"] >= 3
    assert qbo.company.table("Invoice").get(invoice["Id"]) is None
    assert tps.firm.table("payments")[payment["id"]]["status"] == "void"
    assert Decimal(tps.firm.table("invoices")[made["paid"]]["balance"]) > 0
    restored = _customer(qbo, "Juniper Hill Farm")["PrimaryEmailAddr"]["Address"]
    assert restored == restore.diff["PrimaryEmailAddr.Address"][1]
    assert _client(tps, "Red Rock Diner")["phone"] == back.body["phone"] != "555-0142"
    assert _customer(qbo, "Blue Heron Yoga")["Notes"] == "called on Monday"
    assert _customer(qbo, "Blue Heron Yoga")["PrimaryEmailAddr"]["Address"] == (
        "office@blueheron.example"
    )
    statuses = {i["record"]: i["status"] for i in session.state.items(summary.run_id)}
    assert statuses[f"qbo.Customer:{heron['Id']}"] == "Warning"
    assert statuses[f"qbo.Invoice:{invoice['Id']}"] == "Undone"
    links = session.state.links("Invoice|Invoice")
    assert links and all(link["qbo_id"] != invoice["Id"] for link in links)
    customers = {r["qbo_id"]: r for r in session.state.links("Client|Customer")}
    assert customers[juniper["Id"]]["content_hash"] == ""  # the next run decides it again

    # The firm decides: Blue Heron Yoga is taken back too, with a reason.
    forced = plan_undo(session, run, frozenset({f"qbo.Customer:{heron['Id']}"}))
    assert [op.target for op in forced.plan.writes()] == [f"qbo.Customer:{heron['Id']}"]
    second = apply_undo(session, forced, "the email change was a typo")
    assert second.complete
    assert _customer(qbo, "Blue Heron Yoga")["PrimaryEmailAddr"]["Address"] != (
        "office@blueheron.example"
    )
    assert _customer(qbo, "Blue Heron Yoga")["Notes"] == "called on Monday"
    assert session.state.runs(5)[0]["forced_reason"] == "the email change was a typo"
    with pytest.raises(UndoRefused, match="already undone"):
        plan_undo(session, run)
    with pytest.raises(UndoRefused, match="is itself an undo"):
        plan_undo(session, second.run_id)


class _Crash(BaseException):
    """The process dying mid-undo: nothing catches it."""


def test_an_undo_that_crashes_midway_is_finished_by_running_it_again(
    week: tuple[Firm, int, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    (session, qbo, tps), run, made = week
    undo = plan_undo(session, run)
    writes = len(undo.plan.writes())
    assert writes >= 3
    from tpsqbo_engine.sync import undo_apply

    real = undo_apply._relink
    calls = {"n": 0}

    def crash_after_the_write(*args: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise _Crash  # the second write happened; its state did not
        real(*args)

    monkeypatch.setattr(undo_apply, "_relink", crash_after_the_write)
    with pytest.raises(_Crash):
        apply_undo(session, undo)
    monkeypatch.setattr(undo_apply, "_relink", real)
    again = plan_undo(session, run)
    assert len(again.plan.writes()) == writes - 2  # one done, one found already done
    summary = apply_undo(session, again)
    assert summary.complete and summary.counts["Failed"] == 0
    invoice = qbo.company.find_by("Invoice", "DocNumber", made["invoice"])
    assert invoice is None
    voided = [p for p in tps.firm.table("payments").values() if p["source"] == "qbo_online"]
    assert [p["status"] for p in voided] == ["void"]


def test_undoing_the_initial_sync_brings_qbo_back_to_the_backup(firm: Firm) -> None:
    session, qbo, _ = firm
    first = session.sync()
    customers = len(qbo.company.table("Customer"))
    undo = plan_undo(session, first.run_id)
    assert undo.initial and undo.backup is not None
    summary = apply_undo(session, undo)
    assert summary.complete, session.state.items(summary.run_id, "Warning")
    assert summary.backup_check[0].startswith("QBO is back to the backup")
    assert qbo.company.table("Invoice") == {}
    active = [c for c in qbo.company.table("Customer").values() if c.get("Active") is not False]
    assert len(active) < customers
    assert session.phase == "initial"  # the next sync starts over


def test_unknown_runs_and_unknown_forced_records_are_refused(firm: Firm) -> None:
    session, _, _ = firm
    with pytest.raises(UndoRefused, match="no run 42"):
        plan_undo(session, 42)
    first = session.sync()
    with pytest.raises(UndoRefused, match="did not write"):
        plan_undo(session, first.run_id, frozenset({"qbo.Customer:99999"}))


def test_the_undo_command_plans_applies_and_refuses(
    firm: Firm, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from tpsqbo_engine.cli import main

    session, _, _ = firm
    first = session.sync()
    config = str(session.config.path)
    assert main(["undo", "--run", str(first.run_id), "--plan", "-c", config]) == 0
    text = capsys.readouterr().out
    assert "This is the initial sync: undoing it brings QBO back to the backup" in text
    assert "Plan for the undo sync:" in text and "void   tps.Invoice:" in text
    assert main(["undo", "--run", str(first.run_id), "--plan", "-c", config, "-f", "json"]) == 0
    planned = tmp_path / "undo-plan.json"
    planned.write_text(capsys.readouterr().out, encoding="utf-8")
    same = Plan.from_file(planned)  # the format `plan --out` writes and `sync --plan` reads
    assert same.phase == "undo" and same.writes()
    forced = ["--force", "qbo.Customer:1"]
    assert main(["undo", "--run", str(first.run_id), *forced, "-c", config]) == 2
    assert "--force needs --reason" in capsys.readouterr().err
    assert main(["undo", "--run", str(first.run_id), "-c", config, "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert '"complete": true' in out and "QBO is back to the backup" in out
    assert main(["undo", "--run", str(first.run_id + 1), "-c", config]) == 2
    assert "is itself an undo" in capsys.readouterr().err


def test_a_transaction_qbo_will_not_delete_is_voided_and_name_lists_made_inactive() -> None:
    from types import SimpleNamespace

    from tpsqbo_engine.connectors.qbo.errors import QboError, QboFault
    from tpsqbo_engine.sync.plan import Operation
    from tpsqbo_engine.sync.undo import Step
    from tpsqbo_engine.sync.undo_apply import _write

    calls: list[tuple[str, str, str, str]] = []

    def refuse(entity: str, ident: str, *, key: str) -> None:
        calls.append(("delete", entity, ident, key))
        raise QboError(QboFault(400, "6000", "linked", "has payments"))

    def record(kind: str) -> Any:
        def made(entity: str, ident: str, *, key: str) -> dict[str, str]:
            calls.append((kind, entity, ident, key))
            return {"Id": ident, "SyncToken": "7"}

        return made

    qbo = SimpleNamespace(delete=refuse, void=record("void"), deactivate=record("deactivate"))
    session = SimpleNamespace(qbo=qbo)
    invoice = Operation("invoices", "tps.Invoice:inv-1", "void", "qbo.Invoice:31")
    step = Step(1, "invoices", "tps.Invoice:inv-1", "", "delete")
    assert _write(session, invoice, step, "undo@11") == "7"
    customer = Operation("clients", "tps.Client:c-1", "void", "qbo.Customer:58")
    _write(session, customer, Step(2, "clients", "tps.Client:c-1", "", "deactivate"), "undo@12")
    # Each names its attempt: QBO answers a requestid it has seen with its first answer, so
    # an undo tried again after a refusal the firm put right must be a new request.
    assert calls == [
        ("delete", "Invoice", "31", "undo@11"),
        ("void", "Invoice", "31", "undo@11"),
        ("deactivate", "Customer", "58", "undo@12"),
    ]
