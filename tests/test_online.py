"""`validate --online`: names rules use in QBO are checked against the connected company."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tpsqbo_engine.cli import main
from tpsqbo_engine.sync.demo import demo_firm


def _pack(root: Path, lookups: str) -> Path:
    root.mkdir(parents=True)
    (root / "pack.yaml").write_text(
        "kind: pack\nid: firm\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"
    )
    (root / "lookups.yaml").write_text(lookups)
    return root


TYPO = """kind: lookup
id: income-accounts
default: Fees Income
entries:
  Tax: Tax Preperation Fees
  Bookkeeping: Bookkeeping Fees
"""


def test_names_in_lookups_are_checked_against_the_company(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with demo_firm(tmp_path / "run") as (session, _, _):
        config = tmp_path / "run" / "tpsqbo.yaml"  # written by demo_firm, with its tokens
        accounts = {a["Name"] for a in session.qbo.query_all("Account")}
        assert "Tax Preparation Fees" in accounts  # the starter company's chart
        clean = _pack(tmp_path / "clean", TYPO.replace("Preperation", "Preparation"))
        assert main(["validate", str(clean), "--online", "--config", str(config)]) == 0
        typo = _pack(tmp_path / "typo", TYPO)
        capsys.readouterr()
        assert main(["validate", str(typo), "--online", "-c", str(config), "-f", "json"]) == 1
    (problem,) = json.loads(capsys.readouterr().out)
    assert problem["code"] == "online.unknown-name"
    assert (Path(problem["file"]).name, problem["line"]) == ("lookups.yaml", 5)
    assert "no Account named 'Tax Preperation Fees'" in problem["message"]
    assert problem["hint"] == "did you mean 'Tax Preparation Fees'?"


def test_without_a_connection_it_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "--online"]) == 1
    assert "online.not-connected" in capsys.readouterr().out
    (tmp_path / "tpsqbo.yaml").write_text(
        "kind: firm\nfirm: F\nrules: [tps-qbo-standard]\ntps: {connection: http}\n"
        "qbo: {environment: sandbox, client_secret_env: TPSQBO_NO_SUCH_SECRET}\n"
    )
    monkeypatch.delenv("TPSQBO_NO_SUCH_SECRET", raising=False)
    assert main(["validate", "--online"]) == 1
    assert "no QBO client secret in TPSQBO_NO_SUCH_SECRET" in capsys.readouterr().out
