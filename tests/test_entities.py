"""The entity catalog comes from the schema folders: every entity schema is known, and a
pack may add fields (a firm's custom TPS field set) or an entity of its own."""

from __future__ import annotations

import json
from pathlib import Path

from tpsqbo_engine import resources
from tpsqbo_engine.packtest import run_pack_tests
from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.ruleset.shapes import entity_catalog
from tpsqbo_engine.ruleset.validate import validate_pack

CUSTOM = {
    "title": "TPS Client, Maple's custom fields",
    "properties": {
        "partner": {"type": ["string", "null"], "description": "Partner in charge."},
        "fee_cap": {"$ref": "common.json#/$defs/Money", "description": "Agreed fee cap."},
    },
}


def test_every_schema_file_is_an_entity() -> None:
    folder = resources.schemas_dir()
    files = {
        f"{system}.{p.stem}"
        for system in ("tps", "qbo")
        for p in (folder / system).glob("*.json")
        if p.stem != "common"
    }
    assert set(entity_catalog().names()) == files


def _pack(root: Path, schema: object | None = CUSTOM) -> Path:
    (root / "schemas" / "tps").mkdir(parents=True)
    if schema is not None:
        text = schema if isinstance(schema, str) else json.dumps(schema)
        (root / "schemas" / "tps" / "Client.json").write_text(text)
    (root / "pack.yaml").write_text(
        "kind: pack\nid: maple\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"
        "patches:\n  - document: clients\n"
        "    set: {fields/Notes: {value: 'Partner: {{ partner }}', one_way: true}}\n"
    )
    return root


def test_a_pack_adds_custom_fields_to_a_tps_entity(tmp_path: Path) -> None:
    root = _pack(tmp_path)
    assert validate_pack(root).problems == []
    rules = load_ruleset(root)
    client = rules.catalog().get("tps.Client")
    assert client is not None and {"partner", "fee_cap", "email"} <= set(client.properties())
    assert entity_catalog().get("tps.Client").attribute("partner") is None  # engine's own
    (root / "tests").mkdir()
    (root / "tests" / "c.yaml").write_text(
        "tps:\n  Client:\n    - {id: c-1, code: A, name: Acme, active: true}\nexpect: {}\n"
    )
    (result,) = run_pack_tests(root, rules, update=True)
    notes = result.actual["writes"][0]["fields"]["Notes"]
    assert notes == "Partner: None"  # an absent custom field reads as empty, as declared


def test_without_the_schema_the_field_is_unknown(tmp_path: Path) -> None:
    root = _pack(tmp_path, schema=None)
    (problem,) = validate_pack(root).problems
    assert problem.code == "expr.unknown-variable" and "partner" in problem.message


def test_a_broken_entity_schema_is_located(tmp_path: Path) -> None:
    root = _pack(tmp_path, schema='{"properties": {"partner": {"type": "strin"}}')
    problem = validate_pack(root).problems[0]
    assert problem.code == "schema.entity-json" and problem.line == 1
    assert Path(problem.file).name == "Client.json"
    (root / "schemas" / "tps" / "Client.json").write_text(
        json.dumps({"properties": {"partner": {"type": "strin"}}})
    )
    codes = [p.code for p in validate_pack(root).problems]
    assert "schema.entity-invalid" in codes


def test_a_pack_may_declare_an_entity(tmp_path: Path) -> None:
    root = _pack(tmp_path)
    (root / "schemas" / "qbo").mkdir()
    (root / "schemas" / "qbo" / "Bill.json").write_text(
        json.dumps({"properties": {"Id": {"type": "string"}, "TotalAmt": {"type": "number"}}})
    )
    (root / "exclusions.yaml").write_text(
        "kind: exclusions\nid: bills\nrules:\n  - id: no-bills\n    entity: qbo.Bill\n"
        "    when: '{{ TotalAmt > 0 }}'\n    initial: skip\n    reason: TPS keeps no bills.\n"
    )
    assert validate_pack(root).problems == []
