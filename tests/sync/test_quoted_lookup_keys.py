"""Whether a lookup key is quoted never changes what it finds: `"15":` is found by 15 and by
the text "15", `"true":` by true, as `15:` and `true:` are, so packs written in either style
(or both) keep the values they always looked up. `validate` reports keys a table's declared
key type never finds, and a constant key no key spells."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tpsqbo_engine.expr import ExpressionError
from tpsqbo_engine.ruleset.lookup_keys import KeyIndex
from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.ruleset.source import load_text
from tpsqbo_engine.ruleset.validate import validate_pack
from tpsqbo_engine.sync.links import Links
from tpsqbo_engine.sync.runtime import Resolver
from tpsqbo_engine.sync.snapshot import Snapshot

TABLE = (
    'kind: lookup\nid: codes\nentries:\n  "1": quoted one\n  2: two\n  "3.50": quoted rate\n'
    '  "true": quoted true\n  false: off-value\n'
)
PACK = "kind: pack\nid: firm\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"
# A firm's terms, looked up by the TPS client's terms_days (an integer), its keys quoted
# (all, or one of two): a common YAML style.
TERMS = (
    "kind: lookup\nid: terms\ndefault: Due on receipt\n"
    'entries:\n  "30": Net 30\n  "15": Net 15\n---\n'
    "kind: lookup\nid: terms-mixed\ndefault: Due on receipt\n"
    'entries:\n  30: Net 30\n  "15": Net 15\n'
)
TERMS_PATCH = (
    "patches:\n  - document: clients\n"
    "    set: {fields/Notes: {value: \"{{ lookup('terms', terms_days) }}\", one_way: true}}\n"
)
# A tax table looked up by the TPS work code's tax1 (a yes/no field), `true` quoted.
TAXED = 'kind: lookup\nid: taxed\ndefault: NON\nentries:\n  "true": TAX\n  false: NON\n'
TAXED_PATCH = (
    "patches:\n  - document: work-codes\n"
    "    set: {fields/Description: {value: \"{{ lookup('taxed', tax1) }}\", one_way: true}}\n"
)


def _pack(tmp_path: Path, tables: str, patches: str = "") -> Path:
    (tmp_path / "pack.yaml").write_text(PACK + patches)
    (tmp_path / "codes.yaml").write_text(tables)
    return tmp_path


def _resolver(root: Path) -> Resolver:
    return Resolver(load_ruleset(root), Snapshot(), Links())


def _missing(resolver: Resolver, key: object) -> None:
    with pytest.raises(ExpressionError, match="no entry for"):
        resolver.lookup("codes", key)


def _problems(root: Path) -> list[tuple[str, int, str, str, str]]:
    return [
        (Path(p.file).name, p.line, p.level, p.code, p.message)
        for p in validate_pack(root).problems
    ]


def test_quoted_number_keys_are_found_by_the_number(tmp_path: Path) -> None:
    root = _pack(tmp_path, TERMS, TERMS_PATCH)
    assert _problems(root) == []
    resolver = _resolver(root)
    for table in ("terms", "terms-mixed"):
        assert resolver.lookup(table, 15) == "Net 15"
        assert resolver.lookup(table, 30) == "Net 30"
        assert resolver.lookup(table, Decimal("15.00")) == "Net 15"
        assert resolver.lookup(table, "15") == "Net 15"
        assert resolver.lookup(table, 45) == "Due on receipt"


def test_a_quoted_boolean_key_is_found_by_the_boolean(tmp_path: Path) -> None:
    root = _pack(tmp_path, TAXED, TAXED_PATCH)
    assert _problems(root) == []
    resolver = _resolver(root)
    assert resolver.lookup("taxed", True) == "TAX"
    assert resolver.lookup("taxed", False) == "NON"


def test_a_quoted_key_is_found_by_its_text_and_its_value(tmp_path: Path) -> None:
    resolver = _resolver(_pack(tmp_path, TABLE))
    assert resolver.lookup("codes", "1") == "quoted one"
    assert resolver.lookup("codes", "3.50") == "quoted rate"
    assert resolver.lookup("codes", "true") == "quoted true"
    assert resolver.lookup("codes", 1) == "quoted one"
    assert resolver.lookup("codes", Decimal("3.5")) == "quoted rate"
    assert resolver.lookup("codes", True) == "quoted true"
    _missing(resolver, "3.5")  # texts are not read as numbers
    _missing(resolver, "True")


def test_an_unquoted_key_is_found_by_its_value_and_its_text(tmp_path: Path) -> None:
    resolver = _resolver(_pack(tmp_path, TABLE))
    assert resolver.lookup("codes", 2) == "two"
    assert resolver.lookup("codes", Decimal("2.00")) == "two"
    assert resolver.lookup("codes", "2") == "two"
    assert resolver.lookup("codes", False) == "off-value"
    assert resolver.lookup("codes", "false") == "off-value"
    _missing(resolver, "2.0")
    _missing(resolver, 0)  # nor false as the number 0


def test_patched_entries_are_found_quoted_or_not(tmp_path: Path) -> None:
    patches = (
        "patches:\n  - document: codes\n    set:\n"
        '      entries/9: nine\n      entries/1: new one\n      entries: {"7": seven}\n'
    )
    resolver = _resolver(_pack(tmp_path, TABLE, patches))
    assert resolver.lookup("codes", 7) == "seven"
    assert resolver.lookup("codes", "7") == "seven"
    patches = "patches:\n  - document: codes\n    set:\n      entries/9: nine\n"
    resolver = _resolver(_pack(tmp_path, TABLE, patches))
    assert resolver.lookup("codes", 9) == "nine"
    assert resolver.lookup("codes", "9") == "nine"
    assert resolver.lookup("codes", 1) == "quoted one"


def test_keys_a_declared_boolean_or_number_key_never_finds_are_warned_of(
    tmp_path: Path,
) -> None:
    tables = (
        "kind: lookup\nid: taxed\nkey: tps.WorkCode.tax1\ndefault: NON\nentries:\n"
        '  "true": TAX\n  false: NON\n  Y: TAX\n---\n'
        "kind: lookup\nid: levels\nkey: tps.WorkCode.rate_level\ndefault: A\nentries:\n"
        '  1: A\n  "2": B\n  two: B\n'
    )
    assert _problems(_pack(tmp_path, tables)) == [
        (
            "codes.yaml",
            8,
            "warning",
            "rules.lookup-key-type",
            "'Y' is never found: tps.WorkCode.tax1 is true or false",
        ),
        (
            "codes.yaml",
            17,
            "warning",
            "rules.lookup-key-type",
            "'two' is never found: tps.WorkCode.rate_level is a number",
        ),
    ]


def test_constant_keys_a_quoted_key_spells_are_found(tmp_path: Path) -> None:
    tables = 'kind: lookup\nid: codes\nentries:\n  "true": TAX\n  "1.50": rate\n  false: NON\n'
    patches = (
        "patches:\n  - document: invoices\n    set:\n"
        "      fields/PrivateNote: \"{{ lookup('codes', true) }} {{ lookup('codes', 1.5) }}\"\n"
    )
    root = _pack(tmp_path, tables, patches)
    assert _problems(root) == []
    resolver = _resolver(root)
    assert (resolver.lookup("codes", True), resolver.lookup("codes", Decimal("1.5"))) == (
        "TAX",
        "rate",
    )


def test_a_constant_boolean_no_key_spells_is_named_as_written(tmp_path: Path) -> None:
    tables = "kind: lookup\nid: codes\nentries:\n  Y: TAX\n  N: NON\n"
    patches = (
        "patches:\n  - document: invoices\n    set:\n"
        "      fields/PrivateNote: \"{{ lookup('codes', true) }}\"\n"
    )
    (problem,) = validate_pack(_pack(tmp_path, tables, patches)).problems
    assert (problem.code, problem.level) == ("expr.unknown-lookup-key", "error")
    assert problem.message == "the lookup 'codes' has no key 'true'"
    assert problem.hint == "add the key `true:` to the table"


def test_a_number_key_and_no_number_key_is_reported(tmp_path: Path) -> None:
    tables = "kind: lookup\nid: codes\nentries:\n  one: A\n  two: B\n"
    patches = (
        "patches:\n  - document: invoices\n    set:\n"
        "      fields/PrivateNote: \"{{ lookup('codes', number) }}\"\n"
    )
    (problem,) = validate_pack(_pack(tmp_path, tables, patches)).problems
    assert (problem.code, problem.level) == ("expr.lookup-key-type", "error")
    assert problem.message == "the key is a number, but no key of the lookup 'codes' is a number"
    assert problem.hint == "write the keys as numbers: `1.5: ...`"


def test_a_quoted_number_and_the_same_number_unquoted_are_one_key(tmp_path: Path) -> None:
    tables = 'kind: lookup\nid: codes\nentries:\n  "1.5": A\n  1.50: B\n'
    problems = validate_pack(_pack(tmp_path, tables)).problems
    assert [(p.line, p.code, p.message) for p in problems] == [
        (5, "rules.same-lookup-key", "'1.50' is the same key as '1.5': a value finds only '1.5'")
    ]
    index = KeyIndex.of(["1.5", "1.50"])  # as they are read: texts, once quoted or not
    assert index.key_for(Decimal("1.5")) == "1.5"
    assert index.key_for(Decimal("1.500")) == "1.5"
    assert index.key_for(Decimal("1.50")) == "1.50"  # the key written the same way


def test_keys_stay_the_texts_written() -> None:
    (document,), _ = load_text('entries: {1: a, "2": b, x: c}', Path("t.yaml"), "t.yaml")
    assert [(k, type(k)) for k in document.data["entries"]] == [
        ("1", str),
        ("2", str),
        ("x", str),
    ]
