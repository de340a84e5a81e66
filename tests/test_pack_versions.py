"""Versioned packs: extends with a version range, requires.engine, installed packs found
through their entry point from any folder, the changelog, and `pack info`."""

from __future__ import annotations

import json
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from tpsqbo_engine import __version__
from tpsqbo_engine.cli import main
from tpsqbo_engine.ruleset import packs
from tpsqbo_engine.ruleset.validate import validate_pack
from tpsqbo_engine.ruleset.versions import BadVersion, satisfies


@pytest.mark.parametrize(
    ("version", "constraint", "fits"),
    [
        ("1.2.0", "^1.2", True),
        ("1.9.3", "^1.2", True),
        ("2.0.0", "^1.2", False),
        ("1.1.9", "^1.2", False),
        ("0.2.5", "^0.2.3", True),
        ("0.3.0", "^0.2.3", False),
        ("1.2.9", "~1.2.3", True),
        ("1.3.0", "~1.2.3", False),
        ("1.2.7", "1.2.x", True),
        ("1.3.0", "1.2", False),
        ("1.5.0", ">=1.0, <2", True),
        ("2.0.0", ">=1.0,<2", False),
        ("1.2.1", "==1.2.0", False),
        ("1.2.1", "!=1.2.0", True),
    ],
)
def test_version_constraints(version: str, constraint: str, fits: bool) -> None:
    assert satisfies(version, constraint) is fits


def test_a_bad_constraint_is_refused() -> None:
    with pytest.raises(BadVersion):
        satisfies("1.0.0", "^banana")


def _pack(root: Path, body: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pack.yaml").write_text("kind: pack\nid: firm\nversion: 1.0.0\n" + body)
    return root


def _codes(root: Path) -> list[str]:
    return [p.code for p in validate_pack(root).problems]


def test_extends_with_a_version_range(tmp_path: Path) -> None:
    ok = _pack(tmp_path / "ok", "extends: [{pack: tps-qbo-standard, version: '^1.0'}]\n")
    assert _codes(ok) == []
    too_new = _pack(tmp_path / "new", "extends: [{pack: tps-qbo-standard, version: '^2.0'}]\n")
    loaded = validate_pack(too_new)
    (problem,) = loaded.problems
    assert len(loaded.documents) > 10  # still loaded, so the rest is checked against it
    assert problem.code == "pack.version-mismatch" and problem.line == 4
    assert "1.1.0" in problem.message and "^2.0" in problem.message


def test_requires_engine_is_enforced(tmp_path: Path) -> None:
    fits = _pack(tmp_path / "fits", f"requires: {{engine: '>={__version__}'}}\n")
    assert _codes(fits) == []
    future = _pack(tmp_path / "future", "requires: {engine: '>=99.0'}\n")
    (problem,) = validate_pack(future).problems
    assert problem.code == "pack.engine-version"
    assert __version__ in problem.message


def test_a_changelog_without_the_pack_version_is_a_warning(tmp_path: Path) -> None:
    root = _pack(tmp_path / "p", "")
    (root / "CHANGELOG.md").write_text("# changes\n\n## 0.9.0\n- first\n")
    (problem,) = validate_pack(root).problems
    assert (problem.code, problem.level.value) == ("pack.changelog", "warning")
    (root / "CHANGELOG.md").write_text("# changes\n\n## 1.0.0\n- now\n\n## 0.9.0\n- first\n")
    assert _codes(root) == []


def test_an_installed_pack_is_found_through_its_entry_point_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "site" / "acme_rules"
    _pack(package / "pack", "").joinpath("pack.yaml").write_text(
        "kind: pack\nid: acme\nversion: 1.3.0\nextends: [tps-qbo-standard]\n"
    )
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    entry = EntryPoint("acme", "acme_rules:pack", packs.ENTRY_POINT_GROUP)
    monkeypatch.setattr(packs, "entry_points", lambda group: [entry])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    firm = _pack(tmp_path / "firm", "extends: [{pack: acme, version: '^1.2'}]\n")
    loaded = validate_pack(firm)
    assert loaded.problems == []
    assert [(p.id, p.version, p.depth) for p in loaded.chain] == [
        ("firm", "1.0.0", 0),
        ("acme", "1.3.0", 1),
        ("tps-qbo-standard", "1.1.0", 2),
    ]
    assert "entry point acme_rules:pack" in loaded.chain[1].source
    sys.modules.pop("acme_rules", None)


def test_pack_info_shows_the_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _pack(tmp_path / "p", "extends: [tps-qbo-standard]\ndisable: [finance-charges]\n")
    assert main(["pack", "info", str(root)]) == 0
    out = capsys.readouterr().out
    assert "firm 1.0.0" in out and "  tps-qbo-standard 1.1.0" in out
    assert "shipped with the engine" in out and "changelog: CHANGELOG.md" in out
    assert "disabled: mapping 'finance-charges' is disabled by pack firm" in out
    assert main(["pack", "info", str(root), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["id"] for p in data["chain"]] == ["firm", "tps-qbo-standard"]
    assert "mapping/finance-charges" not in data["documents"]
