"""Adjustments, finance charges, voids and deletions on TPS sheets, in and out."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tpsqbo_engine.connectors.tps.filebooks import FileBooks
from tpsqbo_engine.connectors.tps.paymentids import payment_ids
from tpsqbo_engine.connectors.tps.sheetreading import FileBridgeError


def _folder(tmp_path: Path, **sheets: str) -> Path:
    base = {
        "clients": "Client Code,Client Name\nA1,Alder\n",
        "invoices": "Client Code,Invoice Number,Amount,Taxes,Date\n"
        "A1,AA-1,300.00,0.00,2026-10-01\nA1,AA-2,200.00,0.00,2026-10-02\n",
        "payments": "Client Code,Date,Amount,Applied To\nA1,2026-10-05,100.00,AA-2=100.00\n",
    }
    for name, text in {**base, **sheets}.items():
        (tmp_path / f"{name}.csv").write_text(text)
    return tmp_path


def test_adjustments_charges_and_voids_come_in(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        adjustments="Reference,Client Code,Direction,Date,Amount,Applied To\n"
        "ADJ-1,A1,Decrease,2026-10-06,40.00,AA-1\nADJ-2,A1,increase,2026-10-07,15.00,\n",
        **{
            "finance-charges": "Reference,Client Code,Date,Amount\nFC-1,A1,2026-11-01,4.50\n",
            "voids": "Kind,Number,What\npayment,pay-A1-2026-10-05-100.00,void\n"
            "invoice,AA-1,deleted\n",
        },
    )
    books = FileBooks(folder, "Alder & Ash")
    invoices = {i["id"]: i for i in books.records("invoices")}
    assert invoices["AA-1"]["status"] == "void" and invoices["AA-1"]["balance"] == Decimal(0)
    assert invoices["AA-2"]["balance"] == Decimal("200.00")  # the voided payment gave it back
    adjustments = {a["id"]: a for a in books.records("adjustments")}
    assert adjustments["ADJ-1"]["direction"] == "decrease"
    assert [c["balance"] for c in books.records("finance-charges")] == [Decimal("4.50")]
    assert [p["status"] for p in books.records("payments")] == ["void"]


def test_adjustments_and_voids_go_out_one_sheet_per_kind(tmp_path: Path) -> None:
    books = FileBooks(_folder(tmp_path), "Alder & Ash")
    books.create(
        "adjustments",
        {"client_id": "A1", "direction": "decrease", "date": "2026-11-01", "amount": "80.00"},
        key="qbo-cm-9",
    )
    invoice = books.get("invoices", "AA-1")
    books.update("invoices", "AA-1", {"status": "void"}, version=invoice["version"])
    outbox = tmp_path / "outbox"
    (sent,) = [a["id"] for a in books.records("adjustments")]
    assert sent.startswith("QBO-")  # TPS numbers it; the Description's first word is ours
    assert (outbox / "adjustments-to-enter.csv").read_text().splitlines() == [
        "Reference,Client Code,Direction,Date,Amount,Applied To,Description",
        f"{sent},A1,decrease,2026-11-01,80.00,,{sent}",
    ]
    assert (outbox / "voids-to-enter.csv").read_text().splitlines()[1] == "invoice,AA-1,void"


@pytest.mark.parametrize(
    ("sheet", "text", "said"),
    [
        (
            "adjustments",
            "Reference,Client Code,Direction,Date,Amount\nX,A1,sideways,2026-10-01,1\n",
            "Direction: expected increase or decrease",
        ),
        (
            "adjustments",
            "Reference,Client Code,Direction,Date,Amount,Applied To\n"
            "X,A1,increase,2026-10-01,1,AA-1\n",
            "only a decrease is applied",
        ),
        ("voids", "Kind,Number\ncheque,7\n", "Kind: expected one of"),
        ("voids", "Kind,Number,What\ninvoice,AA-1,shredded\n", "What: expected void or deleted"),
    ],
)
def test_a_bad_row_is_located(tmp_path: Path, sheet: str, text: str, said: str) -> None:
    books = FileBooks(_folder(tmp_path, **{sheet: text}), "Alder & Ash")
    with pytest.raises(FileBridgeError) as refused:
        list(books.records("invoices"))
    first = refused.value.problems[0]
    assert first.line == 2 and said in first.message and first.file.endswith(f"{sheet}.csv")


def test_a_payment_entered_from_the_outbox_comes_back_as_the_same_payment(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path)
    books = FileBooks(folder, "Alder & Ash")
    made = books.create(
        "payments",
        {
            "client_id": "A1",
            "date": "2026-11-02",
            "amount": "300.00",
            "reference": "CHQ 881",
            "source": "qbo",
            "applications": [{"invoice_id": "AA-1", "amount": "300.00"}],
        },
        key="qbo-payments:qbo.Payment:181:create",
    )
    out = (folder / "outbox" / "payments-to-enter.csv").read_text().splitlines()
    assert made["id"].startswith("QBO-") and "CHQ 881" in out[1]
    assert f",{made['id']}" in out[1]  # the Description starts with it
    # The bookkeeper enters it in TPS as given; the next export carries it.
    text = (
        (folder / "payments.csv")
        .read_text()
        .replace(
            "Client Code,Date,Amount,Applied To",
            "Client Code,Date,Amount,Applied To,Reference,Description",
            1,
        )
    )
    text += f"A1,2026-11-02,300.00,AA-1=300.00,CHQ 881,{made['id']}\n"
    (folder / "payments.csv").write_text(text)
    again = FileBooks(folder, "Alder & Ash")
    payments = {p["id"]: p for p in again.records("payments")}
    assert sorted(payments) == sorted(["pay-A1-2026-10-05-100.00", made["id"]])
    entered = payments[made["id"]]
    assert entered["source"] == "qbo" and entered["reference"] == "CHQ 881"
    assert again.get("invoices", "AA-1")["balance"] == Decimal(0)
    assert entered["description"] is None  # the id in front is ours, not the firm's text


def test_a_payment_s_id_is_what_it_is_not_where_its_row_sits(tmp_path: Path) -> None:
    rows = [
        "A1,2026-10-05,100.00,AA-2=100.00,CHQ 1,",
        "A1,2026-10-06,50.00,AA-1=50.00,,cash",
        "A1,2026-10-06,50.00,AA-1=50.00,,cash",  # the same payment twice: told apart by order
        "A1,2026-10-06,50.00,AA-2=50.00,,cash",  # alike but in what it pays: by it, in order
    ]
    header = "Client Code,Date,Amount,Applied To,Reference,Description\n"
    ids = []
    for order in (rows, list(reversed(rows))):
        (tmp_path / str(len(ids))).mkdir()
        folder = _folder(tmp_path / str(len(ids)), payments=header + "\n".join(order) + "\n")
        ids.append(
            sorted(
                (p["id"], tuple(a["invoice_id"] for a in p["applications"]))
                for p in FileBooks(folder, "Alder & Ash").records("payments")
            )
        )
    assert ids[0] == ids[1]
    assert [i for i, _ in ids[0]] == [
        "pay-A1-2026-10-05-100.00-CHQ1",
        "pay-A1-2026-10-06-50.00~03de96",
        "pay-A1-2026-10-06-50.00~03de96~2",
        "pay-A1-2026-10-06-50.00~03de96~3",
    ]
    assert dict(ids[0])["pay-A1-2026-10-06-50.00~03de96~3"] == ("AA-2",)


def test_a_payment_like_others_appearing_keeps_every_existing_id() -> None:
    def pay(method: str, description: str = "") -> dict[str, str]:
        return {
            "client_id": "A1",
            "date": "2026-10-05",
            "amount": "100.00",
            "reference": "",
            "method": method,
            "description": description,
        }

    week = [pay("Cheque"), pay("Cheque", "second"), pay("Cheque", "second")]
    before = payment_ids(week)
    assert len(set(before)) == 3
    for new in (pay("Cash"), pay("Amex"), pay("Cheque", "a"), pay("Zelle")):
        assert payment_ids([*week, new])[:3] == before
        assert payment_ids([new, *week])[1:] == before  # wherever the row sits


def test_payments_to_enter_keep_their_applications_as_more_are_added(tmp_path: Path) -> None:
    books = FileBooks(_folder(tmp_path), "Alder & Ash")
    for number, invoice in enumerate(("AA-1", "AA-2")):
        books.create(
            "payments",
            {
                "client_id": "A1",
                "date": "2026-11-02",
                "amount": "10.00",
                "applications": [{"invoice_id": invoice, "amount": "10.00"}],
            },
            key=f"qbo-payments:qbo.Payment:{number}:create",
        )
    rows = (tmp_path / "outbox" / "payments-to-enter.csv").read_text().splitlines()[1:]
    assert [row.split(",")[5] for row in rows] == ["AA-1=10.00", "AA-2=10.00"]


def test_an_invoice_is_due_by_its_client_s_terms(tmp_path: Path) -> None:
    folder = _folder(tmp_path, clients="Client Code,Client Name,Terms\nA1,Alder,15\n")
    books = FileBooks(folder, "Alder & Ash")
    assert books.get("invoices", "AA-1")["due_date"] == "2026-10-16"
    (folder / "clients.csv").write_text("Client Code,Client Name\nA1,Alder\n")
    assert "due_date" not in FileBooks(folder, "Alder & Ash").get("invoices", "AA-1")


def test_a_change_to_an_invoice_tps_has_goes_to_be_made_by_hand_not_imported(
    tmp_path: Path,
) -> None:
    books = FileBooks(_folder(tmp_path), "Alder & Ash")
    invoice = books.get("invoices", "AA-1")
    books.update("invoices", "AA-1", {"total": Decimal("320.00")}, version=invoice["version"])
    outbox = tmp_path / "outbox"
    assert not (outbox / "import-invoices.csv").exists()  # Import Invoices only adds
    (row,) = (outbox / "invoice-changes.csv").read_text().splitlines()[1:]
    assert row.startswith("A1,AA-1,320.00,")
