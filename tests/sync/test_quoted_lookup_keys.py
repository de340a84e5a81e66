"""A lookup key keeps the type YAML gives it: `"1":` and `"true":` (quoted) are texts, found
by the text alone; `1:` and `true:` are the number and the boolean (and the text written the
same way, as before). `validate` reports keys a table's declared key type never finds."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tpsqbo_engine.expr import ExpressionError
from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.ruleset.source import UnquotedKey, load_text
from tpsqbo_engine.ruleset.validate import validate_pack
from tpsqbo_engine.sync.links import Links
from tpsqbo_engine.sync.runtime import Resolver
from tpsqbo_engine.sync.snapshot import Snapshot

TABLE = (
    'kind: lookup\nid: codes\nentries:\n  "1": quoted one\n  2: two\n  "3.50": quoted rate\n'
    '  "true": quoted true\n  false: off-value\n'
)


def _pack(tmp_path: Path, tables: str, patches: str = "") -> Path:
    (tmp_path / "pack.yaml").write_text(
        "kind: pack\nid: firm\nversion: 1.0.0\nextends: [tps-qbo-standard]\n" + patches
    )
    (tmp_path / "codes.yaml").write_text(tables)
    return tmp_path


def _resolver(root: Path) -> Resolver:
    return Resolver(load_ruleset(root), Snapshot(), Links())


def _missing(resolver: Resolver, key: object) -> None:
    with pytest.raises(ExpressionError, match="no entry for"):
        resolver.lookup("codes", key)


def test_a_quoted_key_is_found_by_the_text_only(tmp_path: Path) -> None:
    resolver = _resolver(_pack(tmp_path, TABLE))
    assert resolver.lookup("codes", "1") == "quoted one"
    assert resolver.lookup("codes", "3.50") == "quoted rate"
    assert resolver.lookup("codes", "true") == "quoted true"
    for key in (1, Decimal(1), Decimal("3.5"), Decimal("3.50"), True):
        _missing(resolver, key)


def test_an_unquoted_key_is_found_by_its_value_and_its_text(tmp_path: Path) -> None:
    resolver = _resolver(_pack(tmp_path, TABLE))
    assert resolver.lookup("codes", 2) == "two"
    assert resolver.lookup("codes", Decimal("2.00")) == "two"
    assert resolver.lookup("codes", "2") == "two"  # the text written the same way, as ever
    assert resolver.lookup("codes", False) == "off-value"
    assert resolver.lookup("codes", "false") == "off-value"
    _missing(resolver, "2.0")  # texts are not read as numbers
    _missing(resolver, 0)  # nor false as the number 0


def test_a_patch_setting_the_entries_keeps_their_types(tmp_path: Path) -> None:
    patches = (
        'patches:\n  - document: codes\n    set:\n      entries: {"7": quoted seven, 8: eight}\n'
    )
    resolver = _resolver(_pack(tmp_path, TABLE, patches))
    assert resolver.lookup("codes", "7") == "quoted seven"
    _missing(resolver, 7)
    assert resolver.lookup("codes", 8) == "eight"


def test_a_patch_setting_one_entry_by_its_path_reads_a_new_key_as_yaml_would(
    tmp_path: Path,
) -> None:
    patches = (
        "patches:\n  - document: codes\n    set:\n"
        "      entries/9: nine\n      entries/2: new two\n      entries/1: new one\n"
        "      entries/Audit: audit\n"
    )
    resolver = _resolver(_pack(tmp_path, TABLE, patches))
    assert resolver.lookup("codes", 9) == "nine"  # a new key in a path: unquoted, as YAML
    assert resolver.lookup("codes", "9") == "nine"
    assert resolver.lookup("codes", 2) == "new two"  # an existing key keeps its type
    assert resolver.lookup("codes", "1") == "new one"
    _missing(resolver, 1)
    assert resolver.lookup("codes", "Audit") == "audit"


def test_a_key_over_a_merged_one_is_spelt_as_written_over_it(tmp_path: Path) -> None:
    tables = 'kind: lookup\nid: codes\nentries:\n  <<: {1: merged, 5: five}\n  "1": quoted\n'
    resolver = _resolver(_pack(tmp_path, tables))
    assert resolver.lookup("codes", "1") == "quoted"
    _missing(resolver, 1)
    assert resolver.lookup("codes", 5) == "five"


def _problems(root: Path) -> list[tuple[str, int, str, str, str]]:
    return [
        (Path(p.file).name, p.line, p.level, p.code, p.message)
        for p in validate_pack(root).problems
    ]


def test_quoted_keys_a_declared_boolean_or_number_key_never_finds_are_warned_of(
    tmp_path: Path,
) -> None:
    tables = (
        "kind: lookup\nid: taxed\nkey: tps.WorkCode.tax1\ndefault: NON\nentries:\n"
        '  "true": TAX\n  false: NON\n---\n'
        "kind: lookup\nid: levels\nkey: tps.WorkCode.rate_level\ndefault: A\nentries:\n"
        '  1: A\n  "2": B\n'
    )
    assert _problems(_pack(tmp_path, tables)) == [
        (
            "codes.yaml",
            6,
            "warning",
            "rules.lookup-key-type",
            "'true' is never found: tps.WorkCode.tax1 is true or false",
        ),
        (
            "codes.yaml",
            15,
            "warning",
            "rules.lookup-key-type",
            "'2' is never found: tps.WorkCode.rate_level is a number",
        ),
    ]


def test_unquoted_keys_of_the_declared_type_validate_clean(tmp_path: Path) -> None:
    tables = (
        "kind: lookup\nid: taxed\nkey: tps.WorkCode.tax1\nentries:\n  true: TAX\n  false: NON\n"
        "---\nkind: lookup\nid: levels\nkey: tps.WorkCode.rate_level\nentries:\n  1: A\n  2: B\n"
    )
    assert _problems(_pack(tmp_path, tables)) == []


def test_a_constant_number_never_finds_a_quoted_key(tmp_path: Path) -> None:
    (problem,) = validate_pack(
        _pack(
            tmp_path,
            TABLE,
            "patches:\n  - document: invoices\n    set:\n"
            "      fields/PrivateNote: \"{{ lookup('codes', 1) }}\"\n",
        )
    ).problems
    assert (problem.code, problem.level) == ("expr.unknown-lookup-key", "error")
    assert problem.message == "the lookup 'codes' has no key '1'"
    assert problem.hint == "the key '1' is quoted, a text: write it unquoted in the table"


def test_a_number_key_and_only_quoted_keys_is_reported(tmp_path: Path) -> None:
    tables = 'kind: lookup\nid: codes\nentries:\n  "1": A\n  "2": B\n'
    patches = (
        "patches:\n  - document: invoices\n    set:\n"
        "      fields/PrivateNote: \"{{ lookup('codes', number) }}\"\n"
    )
    (problem,) = validate_pack(_pack(tmp_path, tables, patches)).problems
    assert (problem.code, problem.level) == ("expr.lookup-key-type", "error")
    assert problem.message == "the key is a number, but no key of the lookup 'codes' is a number"


def test_a_quoted_number_and_the_same_number_unquoted_are_two_keys(tmp_path: Path) -> None:
    tables = 'kind: lookup\nid: codes\nentries:\n  "1.5": A\n  1.50: B\n  1.500: C\n'
    problems = validate_pack(_pack(tmp_path, tables)).problems
    assert [(p.line, p.code, p.message) for p in problems] == [
        (6, "rules.same-lookup-key", "'1.500' is the same key as '1.50': a value finds only '1.50'")
    ]
    resolver = _resolver(_pack(tmp_path, tables.replace("  1.500: C\n", "")))
    assert resolver.lookup("codes", "1.5") == "A"
    assert resolver.lookup("codes", Decimal("1.5")) == "B"


def test_only_a_tables_keys_keep_their_yaml_type() -> None:
    def keys(text: str, *path: str | int) -> list[tuple[str, type]]:
        (document,), _ = load_text(text, Path("t.yaml"), "t.yaml")
        value = document.data
        for step in path:
            value = value[step]
        return [(key, type(key)) for key in value]

    assert keys('entries: {1: a, "2": b, x: c}', "entries") == [
        ("1", UnquotedKey),
        ("2", str),
        ("x", str),
    ]
    assert keys("patches: [{set: {entries: {1: a}}}]", "patches", 0, "set", "entries") == [
        ("1", UnquotedKey)
    ]
    # elsewhere (a test case's records, a field map) a key is its text, as YAML dumps it
    assert keys("records: [{entries: {1: a}}]", "records", 0, "entries") == [("1", str)]
    assert keys("fields: {1: a}", "fields") == [("1", str)]
