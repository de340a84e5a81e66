"""`undo` says a record is back only once QBO shows it back: fields the run added are
cleared (a sparse update ignores a null), history whose lines the initial sync read without
them gets those lines back from the backup, each write is read back, and the summary's
"complete" and "back to the backup" compare the fields the run changed, not only Ids."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer
from tpsqbo_engine.sync.demo import demo_firm, november_invoice
from tpsqbo_engine.sync.session import Session
from tpsqbo_engine.sync.undo import plan_undo
from tpsqbo_engine.sync.undo_apply import apply_undo

ADDED = ("CompanyName", "Notes", "PrimaryEmailAddr", "PrimaryPhone", "BillAddr")


def _history(session: Session, run: int, record: str) -> list[tuple[str, str]]:
    return [(i["status"], i["message"]) for i in session.state.items(run) if i["record"] == record]


def _undone(session: Session, run: int) -> str:
    (row,) = session.state.db.table("runs").rows_where("id = ?", [run])
    return str(row["status"])


def test_fields_a_matched_customer_got_in_the_initial_sync_are_removed(tmp_path: Path) -> None:
    with demo_firm(tmp_path) as (session, qbo, tps):
        name = tps.firm.table("clients")["c-1002"]["name"]
        bare = qbo.company.create("Customer", {"DisplayName": name})
        assert not any(field in bare for field in ADDED)
        session.backup()
        run = session.sync().run_id
        filled = qbo.company.get("Customer", bare["Id"])
        assert filled["Notes"] and filled["BillAddr"]["City"]  # the run filled them in

        undo = plan_undo(session, run)
        target = f"qbo.Customer:{bare['Id']}"
        (op,) = [op for op in undo.plan.operations if op.target == target]
        assert "clearing" in op.message and "Notes" in op.message
        summary = apply_undo(session, undo, "test")
        now = qbo.company.get("Customer", bare["Id"])
        assert [f for f in ADDED if now.get(f) not in (None, {}, "")] == []
        assert now["DisplayName"] == name and now["Active"] is True
        assert [s for s, _ in _history(session, summary.run_id, target)] == ["Undone"]
        assert summary.complete and _undone(session, run) == "undone"
        assert summary.backup_check[0].startswith("QBO is back to the backup")


def test_a_restore_qbo_does_not_take_is_a_warning_naming_the_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read-back decides, not the write's 200: QBO answering an update without making
    it leaves the run not undone, the fields named, and the backup check says so."""
    with demo_firm(tmp_path) as (session, qbo, tps):
        name = tps.firm.table("clients")["c-1002"]["name"]
        bare = qbo.company.create("Customer", {"DisplayName": name})
        session.backup()
        run = session.sync().run_id
        undo = plan_undo(session, run)
        ignored = session.qbo.read  # an update answered with the record as it was
        monkeypatch.setattr(
            session.qbo, "update", lambda entity, ident, *a, **k: ignored(entity, ident)
        )
        summary = apply_undo(session, undo, "test")

        target = f"qbo.Customer:{bare['Id']}"
        ((status, message),) = _history(session, summary.run_id, target)
        assert status == "Warning" and "Notes" in message and "CompanyName" in message
        assert not summary.complete and _undone(session, run) != "undone"
        check = "\n".join(summary.backup_check)
        assert summary.backup_check[0].startswith("QBO differs from the backup")
        assert f"Customer {bare['Id']}" in check and "Notes" in check


def _old_walk_in(qbo: QboEmulatorServer) -> dict[str, Any]:
    """A 2021 invoice HP-1002 of a QBO-only customer, paid in full in 2021: history the
    initial sync reads without its lines."""
    company = qbo.company
    walk_in = company.create("Customer", {"DisplayName": "Old Walk-in"})
    item = company.find_by("Item", "Name", "Consulting")
    assert item is not None
    line = {
        "Amount": Decimal("99.00"),
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
    }
    old = company.create(
        "Invoice",
        {
            "CustomerRef": {"value": walk_in["Id"]},
            "DocNumber": "HP-1002",
            "TxnDate": "2021-03-01",
            "Line": [line],
        },
    )
    bank = next(a for a in company.table("Account").values() if a.get("AccountType") == "Bank")
    company.create(
        "Payment",
        {
            "CustomerRef": {"value": walk_in["Id"]},
            "TotalAmt": Decimal("99.00"),
            "TxnDate": "2021-03-05",
            "DepositToAccountRef": {"value": bank["Id"]},
            "Line": [
                {
                    "Amount": Decimal("99.00"),
                    "LinkedTxn": [{"TxnId": old["Id"], "TxnType": "Invoice"}],
                }
            ],
        },
    )
    return company.get("Invoice", old["Id"])


def _amounts(invoice: dict[str, Any]) -> list[Decimal]:
    return [
        Decimal(str(line["Amount"]))
        for line in invoice["Line"]
        if line.get("DetailType") == "SalesItemLineDetail"
    ]


def test_the_lines_of_paid_history_linked_in_the_initial_sync_are_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with demo_firm(tmp_path) as (session, qbo, _tps):
        old = _old_walk_in(qbo)
        # Linked on purpose (a pin), so the write to history happens whatever matching does.
        monkeypatch.setattr(session, "pins", lambda: {("invoices", "inv-1002"): old["Id"]})
        session.backup()
        run = session.sync().run_id
        written = qbo.company.get("Invoice", old["Id"])
        assert _amounts(written) == [Decimal("760.00")]  # the run rewrote the 2021 invoice

        summary = apply_undo(session, plan_undo(session, run), "test")
        now = qbo.company.get("Invoice", old["Id"])
        assert _amounts(now) == [Decimal("99.00")]
        assert not [line for line in now["Line"] if isinstance(line["Amount"], str)]
        assert Decimal(str(now["TotalAmt"])) == Decimal("99.00")
        assert Decimal(str(now["Balance"])) == 0
        assert now["CustomerRef"]["value"] == old["CustomerRef"]["value"]
        assert now["TxnDate"] == "2021-03-01"
        target = f"qbo.Invoice:{old['Id']}"
        assert [s for s, _ in _history(session, summary.run_id, target)] == ["Undone"]
        assert summary.complete, session.state.items(summary.run_id, "Warning")
        assert summary.backup_check[0].startswith("QBO is back to the backup")


def _paid_after_the_undo_was_planned(
    session: Session, qbo: QboEmulatorServer, tps: Any, key: str
) -> tuple[int, dict[str, Any], Any, dict[str, Any]]:
    """A run that created an invoice, the plan to undo it, then a payment of the invoice made
    in QBO: (the run, the invoice, the undo plan, the payment)."""
    assert session.sync().counts["Failed"] == 0
    client = tps.firm.table("clients")["c-1002"]
    number = session.tps.create("invoices", november_invoice(client["id"]), key=key)
    run = session.sync().run_id
    made = qbo.company.find_by("Invoice", "DocNumber", number["doc_number"])
    assert made is not None
    undo = plan_undo(session, run)
    value = Decimal("10.00")
    line = {"Amount": value, "LinkedTxn": [{"TxnId": made["Id"], "TxnType": "Invoice"}]}
    body = {"CustomerRef": made["CustomerRef"], "TotalAmt": value, "Line": [line]}
    return run, made, undo, qbo.company.create("Payment", body)


def test_an_invoice_paid_between_plan_and_apply_is_a_warning_saying_what_to_do(
    tmp_path: Path,
) -> None:
    with demo_firm(tmp_path) as (session, qbo, tps):
        session.backup()
        run, made, undo, payment = _paid_after_the_undo_was_planned(session, qbo, tps, "late")
        summary = apply_undo(session, undo, "test")

        target = f"qbo.Invoice:{made['Id']}"
        ((status, message),) = _history(session, summary.run_id, target)
        assert status == "Warning"
        assert f"Payment {payment['Id']}" in message and "undo --run" in message
        assert "Business Validation Error" not in message
        assert qbo.company.get("Invoice", made["Id"])["TotalAmt"] > 0  # neither deleted nor voided
        assert not summary.complete and _undone(session, run) != "undone"


def test_history_lines_neither_the_run_nor_the_backup_saw_are_listed_not_guessed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backup was taken before the 2021 invoice was entered: nothing holds its lines as
    they were, so the undo leaves the invoice alone and says why."""
    with demo_firm(tmp_path) as (session, qbo, _tps):
        session.backup()
        old = _old_walk_in(qbo)
        monkeypatch.setattr(session, "pins", lambda: {("invoices", "inv-1002"): old["Id"]})
        run = session.sync().run_id
        written = qbo.company.get("Invoice", old["Id"])

        undo = plan_undo(session, run)
        target = f"qbo.Invoice:{old['Id']}"
        (op,) = [op for op in undo.plan.operations if op.target == target]
        assert op.action == "review" and op.level == "Warning"
        assert "without its Line" in op.message and "cannot be restored" in op.message
        summary = apply_undo(session, undo, "test")
        assert qbo.company.get("Invoice", old["Id"])["Line"] == written["Line"]
        assert not summary.complete and _undone(session, run) != "undone"
        assert summary.backup_check[0].startswith("QBO differs from the backup")


def test_values_compare_as_qbo_and_a_backup_give_them() -> None:
    from tpsqbo_engine.sync.undo_compare import differing, same

    assert same("99.00", Decimal("99.0")) and not same("99.00", Decimal("99.01"))
    assert not same("0012", "12")  # text stays text: a DocNumber is not an amount
    assert same(None, "") and same(None, {"Address": None}) and not same(None, {"Id": "9"})
    lines = [{"Id": "1", "LineNum": 1, "Amount": "99.00", "Description": "Filing"}]
    assert same(
        lines, [{"Id": "7", "LineNum": 1, "Amount": Decimal("99.0"), "Description": "Filing"}]
    )
    assert not same(lines, [{"Id": "1", "LineNum": 1, "Amount": Decimal("760.00")}])
    record = {"Notes": "TPS client COTEFI002", "BillAddr": {"Id": "4", "City": "Eugene"}}
    wanted = {"Notes": None, "BillAddr.City": None, "BillAddr.Id": "4"}
    assert differing(wanted, record) == ["Notes", "BillAddr.City"]


def test_a_delete_and_void_qbo_refuses_for_another_reason_fails_saying_so() -> None:
    from types import SimpleNamespace

    from tpsqbo_engine.connectors.qbo.errors import QboError, QboFault
    from tpsqbo_engine.sync.plan import Operation
    from tpsqbo_engine.sync.undo import Step
    from tpsqbo_engine.sync.undo_apply import UndoBlocked, _write

    def refuse(code: str) -> Any:
        def refused(entity: str, ident: str, *, key: str) -> None:
            raise QboError(QboFault(400, code, "refused", f"raw detail {code}"))

        return refused

    def read(entity: str, ident: str) -> dict[str, Any]:
        return {"Id": ident, "LinkedTxn": []}

    op = Operation("payments", "tps.Payment:p-1", "void", "qbo.Payment:40")
    step = Step(1, "payments", "tps.Payment:p-1", "qbo.Payment:40", "delete")
    deposited = SimpleNamespace(delete=refuse("6540"), void=refuse("6540"), read=read)
    with pytest.raises(UndoBlocked) as blocked:
        _write(SimpleNamespace(qbo=deposited), op, step, "undo@1")
    assert (
        blocked.value.level == "Warning" and "remove it from the deposit" in blocked.value.message
    )
    other = SimpleNamespace(delete=refuse("6000"), void=refuse("610"), read=read)
    with pytest.raises(UndoBlocked) as failed:
        _write(SimpleNamespace(qbo=other), op, step, "undo@1")
    assert failed.value.level == "Failed"
    assert "refused to delete qbo.Payment:40 (6000" in failed.value.message
    assert "to void it (610" in failed.value.message


def test_a_customer_qbo_keeps_active_for_its_balance_is_a_warning_saying_why() -> None:
    from types import SimpleNamespace

    from tpsqbo_engine.connectors.qbo.errors import QboError, QboFault
    from tpsqbo_engine.sync.plan import Operation
    from tpsqbo_engine.sync.undo import Step
    from tpsqbo_engine.sync.undo_apply import UndoBlocked, _write

    def refuse(entity: str, ident: str, *, key: str) -> None:
        raise QboError(QboFault(400, "6000", "Business", "Delete List Has Balance Error"))

    op = Operation("clients", "tps.Client:c-1", "void", "qbo.Customer:58")
    step = Step(1, "clients", "tps.Client:c-1", "qbo.Customer:58", "deactivate")
    with pytest.raises(UndoBlocked) as blocked:
        _write(SimpleNamespace(qbo=SimpleNamespace(deactivate=refuse)), op, step, "undo@1")
    assert blocked.value.level == "Warning"
    assert "inactive while it has a balance" in blocked.value.message


def test_text_that_is_not_a_finite_number_compares_as_text() -> None:
    from tpsqbo_engine.sync.undo_compare import same

    assert same("NaN", "NaN") and not same("sNaN", Decimal("1")) and not same("Infinity", 1)
    assert same(Decimal("5"), 5.0) and not same(True, 1)


def test_an_undo_tried_again_is_a_new_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QBO answers a requestid it has seen with its first answer: the undo of an invoice
    refused while a payment was applied, tried again once the payment is gone, must send
    a new request, or QBO would answer it with the old refusal."""
    with demo_firm(tmp_path) as (session, qbo, tps):
        session.backup()
        run, made, undo, payment = _paid_after_the_undo_was_planned(session, qbo, tps, "again")
        named: list[str] = []
        real = type(session.qbo).requestid
        monkeypatch.setattr(
            type(session.qbo), "requestid", lambda self, key: named.append(key) or real(self, key)
        )
        first = apply_undo(session, undo, "test")
        assert not first.complete
        qbo.company.delete("Payment", {"Id": payment["Id"], "SyncToken": payment["SyncToken"]})
        second = apply_undo(session, plan_undo(session, run), "test")
        assert second.complete, session.state.items(second.run_id)
        deletes = [k for k in named if k.startswith(f"delete:Invoice:{made['Id']}:")]
        assert len(deletes) == 2
        attempts = [k.split(":")[4] for k in deletes]
        assert attempts[0] != attempts[1] and all(a.startswith("undo@") for a in attempts)
