"""A payment made in QBO for an invoice and a finance charge together, under a pack whose
qbo-payments mapping applies every line (the standard one leaves the charge's part unapplied:
test_finance_charge_payment.py): TPS applies payments to invoices only, so it fails, saying
which TPS record the QBO invoice is and what to do."""

from __future__ import annotations

from pathlib import Path

from tpsqbo_engine.sync.demo import demo_firm

EVERY_LINE_APPLIED = """\
kind: pack
id: every-line-applied
version: 1.0.0
extends: [tps-qbo-standard]
patches:
  - document: qbo-payments
    set:
      fields/applications/each: "{{ Line | selectattr('LinkedTxn') | list }}"
"""


def test_the_failure_names_the_finance_charge_and_what_to_do(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "pack.yaml").write_text(EVERY_LINE_APPLIED)
    with demo_firm(tmp_path / "run", rules=str(pack)) as (session, qbo, _):
        session.backup()
        session.sync()
        company = qbo.company
        charge_link = next(iter(session.state.links("FinanceCharge|Invoice")))
        charge = company.table("Invoice")[charge_link["qbo_id"]]
        customer = charge["CustomerRef"]["value"]
        invoice = next(
            company.table("Invoice")[link["qbo_id"]]
            for link in session.state.links("Invoice|Invoice")
            if company.table("Invoice")[link["qbo_id"]]["CustomerRef"]["value"] == customer
            and company.table("Invoice")[link["qbo_id"]]["Balance"] > 0
        )
        bank = next(a for a in company.table("Account").values() if a["AccountType"] == "Bank")
        paid = company.create(
            "Payment",
            {
                "CustomerRef": {"value": customer},
                "TotalAmt": invoice["Balance"] + charge["Balance"],
                "DepositToAccountRef": {"value": bank["Id"]},
                "Line": [
                    {
                        "Amount": doc["Balance"],
                        "LinkedTxn": [{"TxnId": doc["Id"], "TxnType": "Invoice"}],
                    }
                    for doc in (invoice, charge)
                ],
            },
        )
        summary = session.sync()
        (item,) = [
            i
            for i in session.state.items(summary.run_id)
            if i["record"] == f"qbo.Payment:{paid['Id']}"
        ]
        assert item["status"] == "Failed"
        assert f"tps.FinanceCharge:{charge_link['tps_id']}" in item["message"]
        assert "mapping finance-charges" in item["message"]
        assert "by hand" in item["message"] and "tpsqbo-engine ignore" in item["message"]
        assert "lines_to_apply(Line)" in item["message"]
