"""Per-field conflict policies: a field's `conflict:` next to its `value:`, the mapping's
policy as the default, decided in the planner for records changed in both systems."""

from __future__ import annotations

from pathlib import Path

from tpsqbo_engine.packtest import run_pack_tests
from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.ruleset.validate import validate_pack

CASE = """phase: ongoing
today: 2026-12-05
tps:
  Client:
    - {id: c-1, code: A1, name: Acme Ltd, email: new@acme.example, phone: "416 555 0100",
       active: true, version: 4}
qbo:
  Customer:
    - {Id: "31", SyncToken: "7", DisplayName: Acme Ltd, CompanyName: Acme Ltd,
       PrimaryEmailAddr: {Address: old@acme.example},
       PrimaryPhone: {FreeFormNumber: "416 555 0199"}, Notes: TPS client A1}
links:
  - {mapping: clients, tps: c-1, qbo: "31", tps_version: "3", qbo_version: "6"}
expect: {}
"""


def _plan(tmp_path: Path, patch: str) -> dict[str, list[dict[str, object]]]:
    (tmp_path / "tests").mkdir()
    (tmp_path / "pack.yaml").write_text(
        "kind: pack\nid: f\nversion: 1.0.0\nextends: [tps-qbo-standard]\n" + patch
    )
    (tmp_path / "tests" / "both.yaml").write_text(CASE)
    assert validate_pack(tmp_path).problems == []
    (result,) = run_pack_tests(tmp_path, load_ruleset(tmp_path), update=True)
    return result.actual  # type: ignore[no-any-return]


def _patch(**fields: str) -> str:
    lines = "".join(
        f"      fields/{path}: {{value: '{{{{ {source} }}}}', conflict: {policy}}}\n"
        for path, (source, policy) in ((p, v.split("|")) for p, v in fields.items())
    )
    return "patches:\n  - document: clients\n    set:\n" + lines


def test_the_mapping_policy_is_the_default(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "")
    (review,) = plan["other"]
    assert review["action"] == "review" and "(conflict: flag)" in str(review["message"])
    assert plan["writes"] == []


def test_fields_that_all_say_source_wins_write_the_target(tmp_path: Path) -> None:
    plan = _plan(
        tmp_path,
        _patch(
            **{
                "PrimaryEmailAddr.Address": "email|source_wins",
                "PrimaryPhone.FreeFormNumber": "phone|source_wins",
            }
        ),
    )
    (write,) = plan["writes"]
    assert write["action"] == "update" and write["target"] == "qbo.Customer:31"
    assert plan["other"] == []


def test_a_field_that_says_target_wins_flows_back(tmp_path: Path) -> None:
    plan = _plan(
        tmp_path,
        _patch(
            **{
                "PrimaryEmailAddr.Address": "email|target_wins",
                "PrimaryPhone.FreeFormNumber": "phone|target_wins",
            }
        ),
    )
    (write,) = plan["writes"]
    assert write["record"] == "tps.Client:c-1" and write["target"] == "qbo.Customer:31"
    assert write["fields"] == {"email": "old@acme.example", "phone": "416 555 0199"}


def test_fields_naming_different_sides_go_to_review(tmp_path: Path) -> None:
    plan = _plan(
        tmp_path,
        _patch(
            **{
                "PrimaryEmailAddr.Address": "email|source_wins",
                "PrimaryPhone.FreeFormNumber": "phone|target_wins",
            }
        ),
    )
    (review,) = plan["other"]
    message = str(review["message"])
    assert "fields disagree on who wins" in message
    assert "source wins PrimaryEmailAddr.Address (source_wins)" in message
    assert plan["writes"] == []


def test_a_policy_on_a_one_way_mapping_does_nothing_and_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pack.yaml").write_text(
        "kind: pack\nid: f\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"
        "patches:\n  - document: work-codes\n"
        "    set: {fields/Name: {value: '{{ name }}', conflict: source_wins}}\n"
    )
    (problem,) = validate_pack(tmp_path).problems
    assert problem.code == "mapping.conflict-one-way" and problem.line == 7


def test_newest_with_a_qbo_record_whose_metadata_is_not_an_object_is_a_review() -> None:
    from tpsqbo_engine.resources import rules_dir
    from tpsqbo_engine.sync.planned_writes import _newer

    (clients,) = [m for m in load_ruleset(rules_dir()).mappings if m.id == "clients"]
    record = {"id": "c-1", "updated_at": "2026-12-04T15:00:00Z"}
    for meta in ("2026-12-04T09:00:00-05:00", None, ["x"]):
        assert _newer(clients, record, {"Id": "7", "MetaData": meta}) == "flag"
    dated = {"Id": "7", "MetaData": {"LastUpdatedTime": "2026-12-04T09:00:00-05:00"}}
    assert _newer(clients, record, dated) == "source"  # 15:00Z is after 14:00Z
