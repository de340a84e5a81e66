"""A patch changes only the node it names, even where the patched document shares a node
through a YAML anchor and alias (`PrintOnCheckName: *cut`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tpsqbo_engine.ruleset.patches import Patch, apply_patch
from tpsqbo_engine.ruleset.source import load_text

BASE = """\
kind: mapping
id: clients
fields:
  CompanyName: &cut {value: "{{ name[:100] }}", one_way: true}
  PrintOnCheckName: *cut
  BillAddr: &addr
    Line1: "{{ address.line1 }}"
    Lines: &lines ["a", "b"]
  ShipAddr: *addr
  Other: *lines
"""


def _patched(operations: str) -> Any:
    base, problems = load_text(BASE, Path("clients.yaml"), "clients.yaml")
    assert problems == []
    text = f"kind: pack\nid: p\npatches:\n  - document: clients\n{operations}"
    pack, problems = load_text(text, Path("pack.yaml"), "pack.yaml")
    assert problems == []
    patched = base[0]
    for i, entry in enumerate(pack[0].data["patches"]):
        patched, problems = apply_patch(patched, Patch(pack[0], f"/patches/{i}", entry))
        assert problems == []
    return patched.data["fields"], base[0].data["fields"]


def test_set_through_an_alias_changes_only_the_path_it_names() -> None:
    fields, original = _patched('    set:\n      fields/PrintOnCheckName/value: "{{ code }}"\n')
    assert fields["PrintOnCheckName"]["value"] == "{{ code }}"
    assert fields["CompanyName"] == {"value": "{{ name[:100] }}", "one_way": True}
    assert original["PrintOnCheckName"]["value"] == "{{ name[:100] }}"  # the source is untouched


def test_remove_and_add_through_an_alias_change_only_their_path() -> None:
    fields, _ = _patched(
        "    remove: [fields/ShipAddr/Line1]\n    add:\n      fields/ShipAddr/Lines: c\n"
    )
    assert fields["ShipAddr"] == {"Lines": ["a", "b", "c"]}
    assert fields["BillAddr"] == {"Line1": "{{ address.line1 }}", "Lines": ["a", "b"]}
    assert fields["Other"] == ["a", "b"]


def test_values_set_from_one_anchor_of_the_pack_are_patched_apart() -> None:
    fields, _ = _patched(
        "    set:\n"
        "      fields/A: {first: &v {value: x}, second: *v}\n"
        "  - document: clients\n"
        "    set: {fields/A/first/value: y}\n"
    )
    assert fields["A"] == {"first": {"value": "y"}, "second": {"value": "x"}}
