"""A TPS client and a QBO customer whose names are alike once case, punctuation and company
suffixes are folded are linked only when nothing speaks against it: a name is weak
evidence, and linking renames the customer and replaces its contact. Both emails present and
different, or legal forms that mark another company ('Inc.' and 'Ltd.'), make it a review
naming both records; a name written without its suffix still finds the customer."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer
from tpsqbo_engine.filters import legal_forms, other_legal_forms
from tpsqbo_engine.sync.demo import demo_firm, november_invoice
from tpsqbo_engine.sync.plan import Operation
from tpsqbo_engine.sync.session import Session

Record = dict[str, Any]

# (QBO customer, its email, TPS client, its email, linked?)
PAIRS = [
    (
        "Harbour Lights Ltd.",
        "ar@harbour-ltd.example",
        "Harbour Lights Inc.",
        "office@harbour-inc.example",
        False,
    ),
    (
        "Quay Street Bakery",
        "orders@quay.example",
        "Quay Street Bakery",
        "owner@quay.example",
        False,
    ),
    ("Lantern Row Ltd.", None, "LANTERN ROW, INC.", "books@lanternrow.example", False),
    ("Birchwood Dental", None, "Birchwood Dental Ltd.", "ap@birchwood.example", True),
    ("Orchard Vale Limited", "ap@orchardvale.example", "Orchard Vale Ltd", None, True),
    ("Tern & Co", None, "Tern and Co. Ltd.", None, True),
    ("Kestrel Inc.", "ap@kestrel.example", "Kestrel Ltd.", "AP@Kestrel.example ", True),
    ("Wren Bookkeeping", "Wren@Example.com", "wren bookkeeping", "wren@example.com", True),
]


def _customer(qbo: QboEmulatorServer, name: str, email: str | None) -> str:
    body: Record = {"DisplayName": name, "CompanyName": name}
    if email:
        body["PrimaryEmailAddr"] = {"Address": email}
    return str(qbo.company.create("Customer", body)["Id"])


def _client(session: Session, index: int, name: str, email: str | None) -> str:
    body = {"code": f"LEG{index:02}", "name": name, "email": email}
    return str(session.tps.create("clients", body, key=f"legal-{index}")["id"])


def _ours(plan: list[Operation], client: str) -> Operation:
    (op,) = [o for o in plan if o.record == f"tps.Client:{client}"]
    return op


def test_legal_forms_fold_spellings_and_tell_companies_apart() -> None:
    assert legal_forms("Maple Leaf Limited") == legal_forms("MAPLE LEAF LTD.") == {"Ltd"}
    assert legal_forms("Abbott & O'Neil, LLP") == {"LLP"} and legal_forms("Wren") == set()
    assert other_legal_forms("Harbour Lights Inc.", "Harbour Lights Ltd.")
    assert other_legal_forms("Tern Co Inc", "Tern Co Ltd")
    assert not other_legal_forms("Birchwood Dental", "Birchwood Dental Ltd.")
    assert not other_legal_forms("Tern & Co", "Tern and Co. Ltd.")  # one written short
    assert not other_legal_forms("Orchard Vale Limited", "Orchard Vale Ltd")


def test_a_name_match_links_only_when_emails_and_legal_forms_agree(tmp_path: Path) -> None:
    with demo_firm(tmp_path) as (session, qbo, _):
        made = [
            (_customer(qbo, name, email), _client(session, i, tps_name, tps_email))
            for i, (name, email, tps_name, tps_email, _) in enumerate(PAIRS)
        ]
        invoice = session.tps.create("invoices", november_invoice(made[0][1]), key="legal")["id"]
        plan, _ = session.plan(session.snapshot())
        for (customer, client), (name, email, tps_name, tps_email, linked) in zip(
            made, PAIRS, strict=True
        ):
            op = _ours(plan.operations, client)
            if linked:
                assert (op.action, op.target) == ("link", f"qbo.Customer:{customer}"), op.message
                continue
            assert (op.action, op.level) == ("review", "Warning"), (tps_name, op.action)
            assert op.message.startswith(
                f"tps.Client:{client} and qbo.Customer:{customer} match by DisplayName, "
                "but another "
            )
            assert f". {tps_name} in TPS, {name} in QBO: not linked" in op.message
            assert f"pin {client} to {customer} in the pins file (mapping clients)" in op.message
            assert op.message.endswith(f"if not, pin {client} to new")
            if email and tps_email:
                assert f"({tps_email} in TPS, {email} in QBO)" in op.message
            if other_legal_forms(name, tps_name):
                forms = f"({' '.join(legal_forms(tps_name))} in TPS, "
                assert f"another legal form, so another company {forms}" in op.message
        assert "(Inc in TPS, Ltd in QBO)" in _ours(plan.operations, made[0][1]).message
        # What waits on the review repeats its reason whole (its first sentence).
        (waits,) = [o for o in plan.operations if o.record == f"tps.Invoice:{invoice}"]
        assert (
            waits.action == "fail"
            and (
                "but another PrimaryEmailAddr.Address (office@harbour-inc.example in TPS, "
                "ar@harbour-ltd.example in QBO) and another legal form, so another company "
                "(Inc in TPS, Ltd in QBO); settle the review"
            )
            in waits.message
        )


def test_a_new_client_of_another_legal_form_is_reviewed_then_created_when_pinned_new(
    tmp_path: Path,
) -> None:
    """The nightly case: the firm takes on Harbour Lights Inc. while QBO holds Harbour
    Lights Ltd., another company; the sync leaves that customer as it is."""
    with demo_firm(tmp_path) as (session, qbo, _):
        session.backup()
        session.sync()
        customer = _customer(qbo, "Harbour Lights Ltd.", "ar@harbourlights-ltd.example")
        before = qbo.company.get("Customer", customer)
        client = _client(session, 1, "Harbour Lights Inc.", "office@harbourlights-inc.example")
        time.sleep(1.1)  # the next run a second later, as scheduled runs are
        run = Session(session.config).sync().run_id
        (held,) = session.state.items(run, record=f"tps.Client:{client}")
        assert (held["action"], held["status"]) == ("review", "Warning")
        assert f"qbo.Customer:{customer}" in held["message"]
        assert qbo.company.get("Customer", customer) == before  # not renamed, email kept

        # The firm looks: two companies. Pinned to new, the client gets its own customer.
        (tmp_path / "pins.yaml").write_text(
            f"pins:\n  - {{mapping: clients, source: {client}, target: new}}\n", encoding="utf-8"
        )
        run = Session(session.config).sync().run_id
        (made,) = session.state.items(run, record=f"tps.Client:{client}")
        assert made["status"] == "Successful" and made["message"].startswith("created")
        assert qbo.company.get("Customer", customer) == before
        names = {c["DisplayName"] for c in qbo.company.table("Customer").values()}
        assert {"Harbour Lights Ltd.", "Harbour Lights Inc."} <= names
