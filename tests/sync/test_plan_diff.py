"""A create's diff is made when it is read, and reads, compares and is written out as the
field-by-field dict it stands for."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tpsqbo_engine import cli
from tpsqbo_engine.sync import plan as plan_module
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.plan import NewRecordDiff, Operation, Plan

BODY: dict[str, Any] = {
    "DisplayName": "Alder Creek Dental",
    "BillAddr": {"Line1": "1 Main St", "City": "Bend"},
    "Line": [{"Amount": Decimal("12.50")}],
    "Balance": Decimal("0"),
}
FIELDS = {
    "DisplayName": [None, "Alder Creek Dental"],
    "BillAddr.Line1": [None, "1 Main St"],
    "BillAddr.City": [None, "Bend"],
    "Line": [None, [{"Amount": Decimal("12.50")}]],
    "Balance": [None, Decimal("0")],
}


def _create(body: dict[str, Any]) -> Operation:
    return Operation(
        "clients", "tps.Client:c-1", "create", "qbo.Customer", body=body, diff=NewRecordDiff(body)
    )


def test_a_create_diff_is_every_field_from_nothing() -> None:
    diff = _create(BODY).diff
    assert diff == FIELDS
    expected = dict(FIELDS)
    assert expected == diff  # the dict on the left too
    assert diff != {**FIELDS, "Balance": [None, Decimal("1")]}
    assert list(diff) == list(FIELDS) and len(diff) == 5
    assert diff["BillAddr.City"] == [None, "Bend"] and diff.get("Active") is None
    assert "Line" in diff and "BillAddr" not in diff
    assert dict(diff.items()) == FIELDS
    assert repr(diff) == repr(FIELDS)
    assert NewRecordDiff({}) == {} and not NewRecordDiff({})


def test_it_is_made_only_when_read(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    flatten = plan_module.flatten

    def counted(record: Any, prefix: str = "") -> dict[str, Any]:
        calls.append(record)
        return flatten(record, prefix)

    monkeypatch.setattr(plan_module, "flatten", counted)
    op = replace(_create(BODY), message="reactivates nothing")
    assert calls == []
    assert op.diff["DisplayName"] == [None, "Alder Creek Dental"] and len(op.diff) == 5
    assert calls == [BODY]  # once, then kept


def test_operations_with_it_equal_those_with_the_dict() -> None:
    assert _create(BODY) == replace(_create(BODY), diff=FIELDS)
    assert _create(BODY) != replace(_create(BODY), diff={})


def test_written_out_as_the_dict(tmp_path: Path) -> None:
    op = _create(BODY)
    copied = asdict(op)["diff"]
    assert type(copied) is dict and copied == FIELDS
    assert copied["Line"][1] is not BODY["Line"]  # a copy, as asdict makes of a dict
    plan = Plan("initial", [op], "2026-01-01T00:00:00+00:00")
    path = tmp_path / "plan.json"
    path.write_text(plan.to_json(), encoding="utf-8")
    assert json.loads(path.read_text())["operations"][0]["diff"]["BillAddr.City"] == [None, "Bend"]
    (read,) = Plan.from_file(path).operations
    assert read.diff == FIELDS and read == op


def test_explain_shows_a_planned_create_diff_as_fields(tmp_path: Path) -> None:
    with demo_firm(tmp_path) as (session, _, _):
        config = str(session.config.path)
        result = CliRunner().invoke(
            cli.app, ["explain", "-c", config, "tps.Client:c-1001", "--format", "json"]
        )
    assert result.exit_code == 0, result.output
    (create,) = json.loads(result.output)["next"]
    assert create["action"] == "create"
    assert create["diff"]["DisplayName"] == [None, create["body"]["DisplayName"]]


@pytest.mark.parametrize(
    ("amount", "as_number"),
    [
        ("12.34", True),
        ("0.125", True),
        ("1234567890123.45", True),
        ("-7", True),
        ("12345678901234567.89", False),  # past what a JSON number holds exactly
        ("0.1000000000000000055511", False),
        ("Infinity", False),  # `hours | decimal` of the text "inf": valid JSON all the same
        ("-Infinity", False),
    ],
)
def test_amounts_read_back_from_a_plan_file_digit_for_digit(
    tmp_path: Path, amount: str, as_number: bool
) -> None:
    exact = Decimal(amount)
    body = {"Line": [{"Amount": exact, "Description": "Tax return"}], "TotalAmt": exact}
    plan = Plan("initial", [_create(body)], "2026-01-01T00:00:00+00:00")
    path = tmp_path / "plan.json"
    path.write_text(plan.to_json(), encoding="utf-8")
    written = json.loads(path.read_text())["operations"][0]["body"]["TotalAmt"]
    assert written == (float(amount) if as_number else {"$decimal": amount})
    (read,) = Plan.from_file(path).operations
    assert read.body == body and read.diff == _create(body).diff
    total = read.body["TotalAmt"]
    assert type(total) is Decimal and total == exact
    if not as_number:
        assert total.as_tuple() == exact.as_tuple()  # every digit, as planned


def test_a_body_object_that_only_looks_like_an_amount_stays_as_it_is(tmp_path: Path) -> None:
    body = {"Custom": {"decimal": "12.5"}, "Other": {"$decimal": "1", "and": "more"}}
    path = tmp_path / "plan.json"
    path.write_text(Plan("initial", [_create(body)], "x").to_json(), encoding="utf-8")
    (read,) = Plan.from_file(path).operations
    assert read.body == body


@pytest.mark.parametrize(
    ("amount", "said"),
    [('{"$decimal": "n/a"}', "'n/a'"), ("Infinity", "Infinity"), ("NaN", "NaN")],
)
def test_a_plan_file_with_an_amount_that_is_not_one_is_refused_clearly(
    tmp_path: Path, amount: str, said: str
) -> None:
    from tpsqbo_engine.errors import UsageError

    path = tmp_path / "plan.json"
    path.write_text(Plan("initial", [_create({"TotalAmt": Decimal(1)})], "x").to_json())
    path.write_text(path.read_text().replace('"TotalAmt": 1.0', f'"TotalAmt": {amount}'))
    assert amount in path.read_text()
    with pytest.raises(UsageError, match=said) as refused:
        Plan.from_file(path)
    assert "plan --out" in (refused.value.hint or "")
