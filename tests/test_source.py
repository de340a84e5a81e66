"""Rule files are untrusted: the loader refuses what could hurt and locates what is wrong."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

from tpsqbo_engine.ruleset import source
from tpsqbo_engine.ruleset.source import load_file, load_text


def _load(text: str):
    return load_text(text, Path("rules.yaml"), "rules.yaml")


def _codes(text: str) -> list[tuple[str, int, int]]:
    _, problems = _load(text)
    return [(p.code, p.line, p.column) for p in problems]


def test_billion_laughs_is_refused_quickly_with_a_location() -> None:
    levels = ["a: &a [" + ", ".join(['"lol"'] * 10) + "]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    started = time.perf_counter()
    documents, problems = _load("\n".join(levels))
    elapsed = time.perf_counter() - started
    assert documents == []
    assert problems[0].code == "yaml.alias-expansion"
    assert problems[0].line > 1
    assert elapsed < 1.0


def test_ordinary_aliases_are_fine() -> None:
    documents, problems = _load("base: &b {x: 1}\nk:\n  <<: *b\n  y: 2\nz: *b\n")
    assert problems == []
    assert documents[0].data == {"base": {"x": 1}, "k": {"x": 1, "y": 2}, "z": {"x": 1}}


def test_python_tags_never_construct_anything() -> None:
    for tag in ("!!python/object/apply:os.system ['true']", "!!python/name:os.system", "!custom x"):
        assert _codes(f"a: {tag}\n")[0][0] == "yaml.unsafe-tag"


def test_duplicate_keys_are_reported_at_the_second_key() -> None:
    assert _codes("a: 1\nb: 2\na: 3\n") == [("yaml.duplicate-key", 3, 1)]


def test_floats_load_as_decimal_and_dates_as_text() -> None:
    documents, _ = _load("amount: 0.10\nwhen: 2026-01-31\n")
    assert documents[0].data == {"amount": Decimal("0.10"), "when": "2026-01-31"}


def test_positions_of_values_and_keys() -> None:
    documents, _ = _load("kind: mapping\nfields:\n  Notes: x\n")
    doc = documents[0]
    assert doc.locate("/fields/Notes") == source.Position(3, 10)
    assert doc.locate("/fields/Notes", key=True) == source.Position(3, 3)
    assert doc.locate("/fields/Notes/missing") == source.Position(3, 10)


def test_deep_nesting_is_refused() -> None:
    deep = "a: " + "[" * 100 + "]" * 100 + "\n"
    assert _codes(deep)[0][0] == "yaml.too-deep"


def test_syntax_errors_are_located() -> None:
    code, line, _ = _codes("a: [1, 2\nb: 3\n")[0]
    assert (code, line) == ("yaml.syntax", 2)


def test_oversized_files_are_not_read(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(source, "MAX_FILE_BYTES", 1000)
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * 2000 + "\n")
    documents, problems = load_file(big)
    assert documents == []
    assert problems[0].code == "yaml.too-large"


def test_non_utf8_files_are_reported(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: Côté\n".encode("latin-1"))
    _, problems = load_file(latin)
    assert problems[0].code == "yaml.encoding"


def test_several_documents_in_one_file() -> None:
    documents, problems = _load("kind: lookup\n---\nkind: mapping\n")
    assert problems == []
    assert [d.data["kind"] for d in documents] == ["lookup", "mapping"]
    assert documents[1].locate("/kind").line == 3
