"""QBO's display names are one namespace compared without case and surrounding spaces: two
TPS clients "Smith & Co" and "smith & co " get names QBO takes (`unique` compares as QBO
does), and the emulator refuses such a duplicate with 6240 as QBO does."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tpsqbo_engine.emulators.qbo.faults import Fault
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer, QboOptions
from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.links import Links
from tpsqbo_engine.sync.runtime import Resolver
from tpsqbo_engine.sync.session import Session
from tpsqbo_engine.sync.snapshot import Snapshot

SEED = """\
clients:
  - {id: c-1, code: SMI01, name: Smith & Co, email: ap@smith.example}
  - {id: c-2, code: SMI02, name: "smith & co ", email: office@smithco.example}
"""

# The name as TPS gives it, not through `qbo_display_name` (which trims it): `unique` alone
# must tell the two apart.
PACK = """\
kind: pack
id: raw-names
version: 1.0.0
extends: [tps-qbo-standard]
patches:
  - document: clients
    set:
      fields/DisplayName/value: "{{ unique(name, ' (' ~ code ~ ')') }}"
"""


@pytest.mark.parametrize("taken", ["smith & co", "SMITH & CO", " Smith & Co", "Smith & Co  "])
def test_the_emulator_refuses_a_name_that_differs_in_case_or_surrounding_spaces(
    tmp_path: Path, taken: str
) -> None:
    with QboEmulatorServer(QboOptions(seed="starter", state=tmp_path / "q.json")) as qbo:
        qbo.company.create("Customer", {"DisplayName": "Smith & Co"})
        with pytest.raises(Fault) as refused:
            qbo.company.create("Vendor", {"DisplayName": taken})
        assert refused.value.code == "6240"
        made = qbo.company.create("Customer", {"DisplayName": "Smith & Co (SMI02)"})
        assert made["DisplayName"] == "Smith & Co (SMI02)"


def test_unique_compares_names_as_qbo_does(tmp_path: Path) -> None:
    snapshot = Snapshot()
    snapshot.records("qbo.Customer")["7"] = {"Id": "7", "DisplayName": "Smith & Co"}
    resolver = Resolver(load_ruleset(Path("rules")), snapshot, Links())
    resolver.writing("qbo.Customer", None)
    assert resolver.unique("smith & co ", " (SMI02)") == "smith & co (SMI02)"
    assert resolver.unique(" SMITH & CO", " (SMI03)") == " SMITH & CO (SMI03)"
    assert resolver.unique("Smith & Co.", " (SMI04)") == "Smith & Co."  # another name
    resolver.writing("qbo.Customer", "7")
    assert resolver.unique("Smith & Co ", " (SMI01)") == "Smith & Co "  # its own name


@pytest.mark.parametrize("raw", [True, False], ids=["unique(name)", "standard rules"])
def test_two_clients_whose_names_differ_in_case_and_spaces_sync(tmp_path: Path, raw: bool) -> None:
    (tmp_path / "pack").mkdir()
    (tmp_path / "pack" / "pack.yaml").write_text(PACK)
    (tmp_path / "firm.yaml").write_text(SEED)
    rules = str(tmp_path / "pack") if raw else "tps-qbo-standard"
    with demo_firm(tmp_path / "run", tps_seed=str(tmp_path / "firm.yaml"), rules=rules) as (
        session,
        qbo,
        _,
    ):
        session.backup()
        summary = session.sync()
        run_id = session.state.runs(1)[-1]["id"]
        assert [i["message"] for i in session.state.items(run_id, status="Failed")] == []
        assert summary.counts.get("Failed", 0) == 0
        names = sorted(
            c["DisplayName"]
            for c in qbo.company.table("Customer").values()
            if c["DisplayName"].strip().casefold().startswith("smith & co")
        )
        assert len(names) == 2
        assert len({n.strip().casefold() for n in names}) == 2
        assert any(n.endswith(("(SMI01)", "(SMI02)")) for n in names)
        # A run after the first, which reads the unchanged clients and customers a new name
        # folds to, with their partners (not as if those were gone), sees them too.
        time.sleep(1.1)
        third = {"code": "SMI03", "name": " SMITH & CO", "email": "ap@smith3.example"}
        session.tps.create("clients", third, key="smith-3")
        time.sleep(1.1)
        again = Session(session.config)
        assert again.phase == "ongoing"
        again.sync()
        run_id = again.state.runs(1)[-1]["id"]
        assert [i["message"] for i in again.state.items(run_id, status="Failed")] == []
        folded = {
            c["DisplayName"].strip().casefold()
            for c in qbo.company.table("Customer").values()
            if c["DisplayName"].strip().casefold().startswith("smith & co")
        }
        assert folded == {"smith & co", "smith & co (smi02)", "smith & co (smi03)"} or folded == {
            "smith & co",
            "smith & co (smi01)",
            "smith & co (smi03)",
        }
