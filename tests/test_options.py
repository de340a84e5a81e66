"""Every schema option does something: on_ambiguous, and disable recorded in explain."""

from __future__ import annotations

from pathlib import Path

import pytest

from tpsqbo_engine.cli import main
from tpsqbo_engine.packtest import run_pack_tests
from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.sync.demo import demo_firm

AMBIGUOUS = """phase: initial
tps:
  Client:
    - {id: c-1, code: A1, name: Acme Ltd, email: ap@acme.example, active: true}
qbo:
  Customer:
    - {Id: "31", DisplayName: Acme Ltd, PrimaryEmailAddr: {Address: ap@acme.example}}
    - {Id: "32", DisplayName: Acme Limited, PrimaryEmailAddr: {Address: AP@acme.example}}
expect: {}
"""


@pytest.mark.parametrize(("policy", "level"), [("review", "Warning"), ("skip", "Excluded")])
def test_on_ambiguous_decides_what_a_double_match_becomes(
    tmp_path: Path, policy: str, level: str
) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "pack.yaml").write_text(
        "kind: pack\nid: f\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"
        f"patches:\n  - document: clients\n    set: {{on_ambiguous: {policy}}}\n"
    )
    (tmp_path / "tests" / "two.yaml").write_text(AMBIGUOUS)
    (result,) = run_pack_tests(tmp_path, load_ruleset(tmp_path), update=True)
    (decision,) = result.actual["other"]
    assert decision["action"] == "review" and decision["level"] == level
    assert "2 records match by PrimaryEmailAddr.Address" in str(decision["message"])
    assert result.actual["writes"] == []


def test_explain_says_which_pack_disabled_a_mapping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "pack.yaml").write_text(
        "kind: pack\nid: no-charges\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"
        "disable: [finance-charges]\n"
    )
    with demo_firm(tmp_path / "run", rules=str(pack)) as (session, _, _):
        charge = next(iter(session.tps.records("finance-charges")))
        capsys.readouterr()
        config = str(tmp_path / "run" / "tpsqbo.yaml")
        assert main(["explain", f"tps.FinanceCharge:{charge['id']}", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "rules: mapping 'finance-charges' is disabled by pack no-charges (" in out
    assert "pack/pack.yaml:5)" in out
    assert "next: nothing to do for it" in out
