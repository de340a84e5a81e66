"""`tpsqbo-engine init`: a firm's folder that validates, tests and runs in CI as written;
`demo --rules` runs the demo with a given pack."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tpsqbo_engine import resources
from tpsqbo_engine.cli import main
from tpsqbo_engine.sync.config import load_config

ROOT = Path(__file__).parent.parent


def test_init_scaffolds_a_firm_that_validates_and_passes_its_test(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", str(tmp_path), "--name", 'Lee & "Partners"']) == 0
    for name in (
        "tpsqbo.yaml",
        "rules/pack.yaml",
        "rules/CHANGELOG.md",
        "rules/tests/new-client.yaml",
        ".github/workflows/rules.yml",
    ):
        assert (tmp_path / name).is_file(), name
    config = load_config(tmp_path / "tpsqbo.yaml")
    assert config.firm == 'Lee & "Partners"'
    assert config.rules == ((tmp_path / "rules"),)
    capsys.readouterr()
    assert main(["validate", str(tmp_path / "rules")]) == 0
    assert main(["test", str(tmp_path / "rules")]) == 0
    assert "ok       new-client" in capsys.readouterr().out
    case = yaml.safe_load((tmp_path / "rules/tests/new-client.yaml").read_text())
    assert case["expect"]["writes"][0]["target"] == "qbo.Customer"
    assert main(["pack", "info", str(tmp_path / "rules")]) == 0
    assert "tps-qbo-standard 1." in capsys.readouterr().out


def test_init_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "tpsqbo.yaml").write_text("kind: firm\n")
    assert main(["init", str(tmp_path)]) == 2
    assert (tmp_path / "tpsqbo.yaml").read_text() == "kind: firm\n"
    assert not (tmp_path / "rules").exists()


def test_init_never_writes_through_a_dangling_link(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.yaml"
    firm = tmp_path / "firm"
    firm.mkdir()
    (firm / "tpsqbo.yaml").symlink_to(elsewhere)
    assert main(["init", str(firm)]) == 2
    assert not elsewhere.exists() and not (firm / "rules").exists()


def test_the_scaffolded_workflow_is_the_documented_one() -> None:
    shipped = resources.templates_dir() / "scaffold" / "github-workflow.yml"
    assert shipped.read_text() == (ROOT / "examples/ci/github-workflow.yml").read_text()
    steps = yaml.safe_load(shipped.read_text())["jobs"]["rules"]["steps"]
    runs = [s.get("run", "") for s in steps]
    assert "tpsqbo-engine validate rules --format github" in runs
    assert any(r.startswith("tpsqbo-engine test rules --format junit") for r in runs)


def test_demo_runs_with_a_given_pack(tmp_path: Path) -> None:
    from tpsqbo_engine.sync.demo import demo_firm

    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "pack.yaml").write_text(
        "kind: pack\nid: watched\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"
        "disable: [finance-charges]\n"
    )
    with demo_firm(tmp_path / "run", rules=str(pack)) as (session, _qbo, _tps):
        assert session.rules.pack_id == "watched"
        assert "finance-charges" not in {m.id for m in session.rules.mappings}


def test_demo_refuses_a_folder_that_is_not_a_pack(tmp_path: Path) -> None:
    assert main(["demo", "--workdir", str(tmp_path / "run"), "--rules", str(tmp_path)]) == 2
