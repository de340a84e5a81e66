"""A lookup's keys find the values rules look up as a bookkeeper means them: `true:` finds a
boolean field that is true, `1.50:` the number 1.5; and `validate` reports a table whose keys
can never be found by the key expression's type."""

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

TAX_CODE = "{{ ref('TaxCode', lookup('taxed-codes', record('work-codes', line.work_code).tax1)) }}"


def _pack(tmp_path: Path, entries: str, *, default: bool = True) -> Path:
    (tmp_path / "pack.yaml").write_text(
        "kind: pack\nid: firm\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"
        "patches:\n"
        "  - document: invoices\n"
        "    set:\n"
        f'      fields/Line/fields/SalesItemLineDetail.TaxCodeRef: "{TAX_CODE}"\n'
    )
    (tmp_path / "taxed.yaml").write_text(
        "kind: lookup\nid: taxed-codes\n"
        + ("default: NON\n" if default else "")
        + f"entries:\n{entries}"
        + "---\nkind: lookup\nid: rates\nentries:\n  1.50: A\n  3: B\n"
    )
    return tmp_path


def _resolver(root: Path) -> Resolver:
    return Resolver(load_ruleset(root), Snapshot(), Links())


def test_true_and_false_keys_find_boolean_values(tmp_path: Path) -> None:
    resolver = _resolver(_pack(tmp_path, "  true: TAX\n  false: EXEMPT\n"))
    assert resolver.lookup("taxed-codes", True) == "TAX"
    assert resolver.lookup("taxed-codes", False) == "EXEMPT"
    assert resolver.lookup("taxed-codes", "true") == "TAX"  # a text written the same way
    assert resolver.lookup("taxed-codes", "True") == "NON"  # texts are not read as booleans


def test_number_keys_find_the_same_number(tmp_path: Path) -> None:
    resolver = _resolver(_pack(tmp_path, "  true: TAX\n"))
    assert resolver.lookup("rates", Decimal("1.5")) == "A"
    assert resolver.lookup("rates", Decimal("1.50")) == "A"
    assert resolver.lookup("rates", 3) == "B"
    assert resolver.lookup("rates", Decimal("3.00")) == "B"
    assert resolver.lookup("rates", "1.50") == "A"  # a text written the same way
    with pytest.raises(ExpressionError, match=r"no entry for '1\.5'"):
        resolver.lookup("rates", "1.5")  # texts are not read as numbers
    with pytest.raises(ExpressionError, match="no entry for 'True'"):
        resolver.lookup("rates", True)  # True is not the number 1


def _keys(*written: str) -> KeyIndex:
    """The index of a table whose keys are written as given, read as the loader reads them."""
    text = "entries:\n" + "".join(f"  {key}: x\n" for key in written)
    (document,), _ = load_text(text, Path("t.yaml"), "t.yaml")
    return KeyIndex.of(document.data["entries"])


def test_yaml_spellings_of_a_boolean_are_one_key() -> None:
    index = _keys("Yes", "off", "1_000", "0x10", "taxable")
    assert index.key_for(True) == "Yes"
    assert index.key_for(False) == "off"
    assert index.key_for(1000) == "1_000"
    assert index.key_for(16) == "0x10"
    assert index.key_for(1) is None
    assert _keys("true", "yes", "1.5", "1.50", "x").same_keys() == [
        ("1.5", "1.50"),
        ("true", "yes"),
    ]


def _problems(root: Path) -> list[tuple[str, int, str, str]]:
    return [(Path(p.file).name, p.line, p.level, p.code) for p in validate_pack(root).problems]


def test_boolean_keys_validate_clean(tmp_path: Path) -> None:
    assert _problems(_pack(tmp_path, "  true: TAX\n  false: NON\n")) == []


def test_a_table_a_boolean_key_never_finds_is_reported(tmp_path: Path) -> None:
    assert _problems(_pack(tmp_path, "  Y: TAX\n  N: NON\n")) == [
        ("pack.yaml", 8, "warning", "expr.lookup-key-type")  # with a default: always used
    ]
    assert _problems(_pack(tmp_path, "  Y: TAX\n  N: NON\n", default=False)) == [
        ("pack.yaml", 8, "error", "expr.lookup-key-type")
    ]
    # true alone fails every record that is not taxed, unless a default takes them
    assert _problems(_pack(tmp_path, "  true: TAX\n", default=False)) == [
        ("pack.yaml", 8, "error", "expr.lookup-key-type")
    ]
    assert _problems(_pack(tmp_path, "  true: TAX\n")) == []


def test_two_keys_that_are_the_same_boolean_are_an_error(tmp_path: Path) -> None:
    problems = validate_pack(_pack(tmp_path, "  true: TAX\n  yes: NON\n")).problems
    assert [(p.line, p.code, p.message) for p in problems] == [
        (6, "rules.same-lookup-key", "'yes' is the same key as 'true': a value finds only 'true'")
    ]


def test_keys_a_declared_boolean_key_never_finds_are_warned_of(tmp_path: Path) -> None:
    root = _pack(tmp_path, "  true: TAX\n  N: NON\n")
    text = (root / "taxed.yaml").read_text()
    (root / "taxed.yaml").write_text(
        text.replace("id: taxed-codes\n", "id: taxed-codes\nkey: tps.WorkCode.tax1\n", 1)
    )
    problems = validate_pack(root).problems
    assert [(Path(p.file).name, p.line, p.level, p.code, p.message) for p in problems] == [
        (
            "taxed.yaml",
            7,
            "warning",
            "rules.lookup-key-type",
            "'N' is never found: tps.WorkCode.tax1 is true or false",
        )
    ]
