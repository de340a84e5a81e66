"""Untrusted rule packs stay in their folder: a symlink leading out is refused."""

from __future__ import annotations

from pathlib import Path

from tpsqbo_engine.ruleset.validate import validate_paths

LOOKUP = "kind: lookup\nid: {id}\nkey: tps.WorkCode.code\nvalues: {{}}\n"


def test_links_leading_out_of_a_pack_are_refused(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "pack.yaml").write_text("kind: pack\nid: linked\nversion: 0.1.0\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "stolen.yaml").write_text(LOOKUP.format(id="stolen"))
    (outside / "nested.yaml").write_text(LOOKUP.format(id="nested"))
    (pack / "own.yaml").write_text(LOOKUP.format(id="own"))
    (pack / "stolen.yaml").symlink_to(outside / "stolen.yaml")
    (pack / "shared").symlink_to(outside, target_is_directory=True)
    (pack / "alias.yaml").symlink_to(pack / "own.yaml")  # inside: fine
    problems = validate_paths([pack]).problems
    escapes = sorted(Path(p.file).name for p in problems if p.code == "pack.symlink-escape")
    assert escapes == ["shared", "stolen.yaml"]
    assert all(p.is_error for p in problems if p.code == "pack.symlink-escape")
    assert not [p for p in problems if "own.yaml" in p.file and p.code == "pack.symlink-escape"]
