"""The shipped Canadian example against a Canadian QBO company: nothing fails."""

from __future__ import annotations

from pathlib import Path

from tpsqbo_engine.sync.demo import demo_firm

# The examples live in the checkout, not in the installed wheel.
PACK = Path(__file__).parents[2] / "examples" / "canadian-firm" / "rules"


def test_the_canadian_example_syncs_the_demo_firm_with_nothing_failed(tmp_path: Path) -> None:
    with demo_firm(tmp_path, qbo_seed="sandbox-ca", rules=str(PACK)) as (session, qbo, _):
        session.backup()
        plan = session.plan()[0].operations
        blocked = [op for op in plan if op.action == "block"]
        assert blocked  # the sandbox's own history: the firm looks at each and ignores it
        for op in blocked:
            session.state.ignore(op.record, "sandbox history, settled in QBO")
        # The sandbox's customers have other contact addresses than the firm's clients of
        # the same name: each is a review; the firm finds them the same and pins them.
        pins = []
        for op in plan:
            if op.mapping == "clients" and op.action == "review":
                client = op.record.split(":", 1)[1]
                name = session.tps.get("clients", client)["name"]
                customer = qbo.company.find_by("Customer", "DisplayName", name)
                pins.append(
                    f"  - {{mapping: clients, source: {client}, target: '{customer['Id']}'}}"
                )
        assert pins
        (tmp_path / "pins.yaml").write_text("pins:\n" + "\n".join(pins) + "\n", encoding="utf-8")
        first = session.sync()
        assert first.counts["Failed"] == 0 and first.counts["Successful"] > 100
        adjustments = [
            i
            for i in qbo.company.table("Invoice").values()
            if str(i.get("PrivateNote", "")).startswith(("sync:tps:adjustment", "sync:tps:finance"))
        ]
        assert adjustments and all(
            line["SalesItemLineDetail"]["TaxCodeRef"]["value"]
            for i in adjustments
            for line in i["Line"]
            if line["DetailType"] == "SalesItemLineDetail"
        )
        assert session.sync().counts["Failed"] == 0
