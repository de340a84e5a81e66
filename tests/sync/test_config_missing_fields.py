"""A firm config missing several required fields names each of them, once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tpsqbo_engine.cli import main
from tpsqbo_engine.errors import ConfigError
from tpsqbo_engine.ruleset.schema_check import check_document
from tpsqbo_engine.ruleset.source import load_file
from tpsqbo_engine.sync.config import load_config


def test_sync_names_tps_and_qbo_once_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "t.yaml"
    config.write_text("kind: firm\nfirm: acme\n", encoding="utf-8")
    assert main(["sync", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "(2 problem(s))" in err
    assert err.count("missing required field 'tps'") == 1
    assert err.count("missing required field 'qbo'") == 1
    assert "How to reach QuickBooks Online." in err  # each with its own field's hint


def test_every_missing_field_is_a_problem_of_its_own(tmp_path: Path) -> None:
    config = tmp_path / "tpsqbo.yaml"
    config.write_text("kind: firm\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    messages = [p.message for p in raised.value.problems]
    assert messages == [f"missing required field '{n}'" for n in ("firm", "tps", "qbo")]


def test_a_missing_nested_field_beside_a_missing_top_one(tmp_path: Path) -> None:
    config = tmp_path / "tpsqbo.yaml"
    config.write_text("kind: firm\nfirm: acme\ntps: {base_url: 'http://x'}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    found = [(p.pointer, p.message) for p in raised.value.problems]
    assert found == [
        ("", "missing required field 'qbo'"),
        ("/tps", "missing required field 'connection'"),
    ]


def test_a_rule_document_missing_several_fields_names_each(tmp_path: Path) -> None:
    rules = tmp_path / "clients.yaml"
    rules.write_text("kind: mapping\nid: clients\nsource: tps.Client\n", encoding="utf-8")
    documents, problems = load_file(rules)
    assert problems == []
    messages = sorted(p.message for p in check_document(documents[0]))
    assert messages == [f"missing required field '{n}'" for n in ("direction", "fields", "target")]


def test_a_misspelt_field_is_said_once_and_the_other_missing_one_still_named(
    tmp_path: Path,
) -> None:
    config = tmp_path / "tpsqbo.yaml"
    config.write_text("kind: firm\nfirm: acme\ntsp: {connection: http}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    found = [(p.message, p.hint) for p in raised.value.problems]
    assert found[1] == ("unknown field 'tsp'", "did you mean 'tps'?")
    assert found[0][0] == "missing required field 'qbo'" and len(found) == 2
