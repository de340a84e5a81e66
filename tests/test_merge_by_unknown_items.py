"""merge_by's field is checked against the fields of the items merged, as `line.work_code`
is: a name that is no field merges every line into one, silently. wip()'s entries are known
(tps.WipEntry), and lines_to_apply()'s are the payment's lines; where nothing says what the
items hold (what `map` or `batch` gives),
`validate` warns that the name is not checked, and merge_by of items that are not mappings
fails saying so, never with Python's AttributeError."""

from __future__ import annotations

from pathlib import Path

import pytest

from tpsqbo_engine.expr import ExpressionError, compile_value
from tpsqbo_engine.ruleset.shapes import entity_catalog
from tpsqbo_engine.ruleset.typecheck import Scope, check_value
from tpsqbo_engine.ruleset.validate import validate_pack

UNCHECKED = (
    "merge_by's field 'work_cod' is not checked: the fields of the items merged are not known "
    "here, and a name that is not one of them merges every item into one"
)


def _findings(source: str) -> list[tuple[str, str, str]]:
    catalog = entity_catalog()
    scope = Scope(catalog, dict(catalog.shapes["tps.Invoice"].properties()), "tps")
    return [(f.code, f.level, f.message) for f in check_value(source, scope).findings]


def test_the_fields_of_wip_entries_are_checked() -> None:
    assert _findings("{{ wip(lines | first) | merge_by('work_cod') }}") == [
        ("expr.unknown-field", "error", "'wip(line)[]' has no field 'work_cod'")
    ]
    assert _findings("{{ wip(lines | first) | map(attribute='hourz') | join(', ') }}") == [
        ("expr.unknown-field", "error", "'wip(line)[]' has no field 'hourz'")
    ]
    assert _findings("{{ wip(lines | first) | merge_by('work_code') | length }}") == []
    assert _findings("{{ (wip(lines | first) | first).hours }}") == []


def test_merge_by_of_items_whose_fields_are_unknown_is_a_warning() -> None:
    for source in (
        "{{ lines | map('upper') | merge_by('work_cod') }}",
        "{{ lines | batch(2) | first | merge_by('work_cod') }}",
    ):
        assert (source, _findings(source)) == (
            source,
            [("expr.unchecked-field", "warning", UNCHECKED)],
        )


def test_merge_by_of_known_items_is_still_an_error_or_clean() -> None:
    assert _findings("{{ lines | merge_by('work_cod') }}") == [
        ("expr.unknown-field", "error", "'lines[]' has no field 'work_cod'")
    ]
    assert _findings("{{ lines | selectattr('amount') | merge_by('work_code') }}") == []


def test_the_warning_does_not_stop_validate_running_constants() -> None:
    # a warning no longer skips what validate finds by running a value of constants
    assert _findings("{{ [1, 2] | merge_by('x') }}") == [
        (
            "expr.unchecked-field",
            "warning",
            UNCHECKED.replace("work_cod", "x"),
        ),
        (
            "expr.always-fails",
            "error",
            "this value fails for every record: the merge_by filter cannot take what it was "
            "given (the value a list; key: a text); it takes merge_by(key): the lines sharing "
            "`key` merged into one, amounts added",
        ),
    ]


def test_validate_reports_the_warning_where_the_value_is(tmp_path: Path) -> None:
    (tmp_path / "pack.yaml").write_text(
        "kind: pack\nid: firm\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"
        "patches:\n  - document: invoices\n    set:\n"
        "      fields/Line/each: \"{{ lines | map('upper') | merge_by('work_cod') }}\"\n"
    )
    (problem,) = validate_pack(tmp_path).problems
    assert (Path(problem.file).name, problem.line, problem.level, problem.code) == (
        "pack.yaml",
        8,
        "warning",
        "expr.unchecked-field",
    )
    assert problem.message == UNCHECKED


@pytest.mark.parametrize(
    "source",
    ["{{ lines | merge_by('work_code') }}", "{{ lines | map('upper') | merge_by('work_code') }}"],
)
def test_merge_by_of_items_that_are_not_mappings_fails_saying_so(source: str) -> None:
    value = compile_value(source, "rules/invoices.yaml:26")
    for evaluate in (value.evaluate, value.evaluate_slowly):
        with pytest.raises(ExpressionError) as failed:
            evaluate({"lines": ["Private a", "Private b"]})
        told = failed.value.told
        assert told.startswith("rules/invoices.yaml:26: the merge_by filter cannot take")
        assert "AttributeError" not in told and "Private" not in told


def test_the_lines_a_payment_applies_have_the_fields_of_its_lines(tmp_path: Path) -> None:
    catalog = entity_catalog()
    scope = Scope(catalog, dict(catalog.shapes["qbo.Payment"].properties()), "qbo")
    found = [
        (f.code, f.message)
        for source in (
            "{{ lines_to_apply(Line) | merge_by('Amountt') }}",
            "{{ lines_left_unapplied(Line) | sum(attribute='Amont') }}",
            "{{ lines_left_unapplied(Line) | sum(attribute='Amount') }}",
        )
        for f in check_value(source, scope).findings
    ]
    assert found == [
        ("expr.unknown-field", "'Line[]' has no field 'Amountt'"),
        ("expr.unknown-field", "'Line[]' has no field 'Amont'"),
    ]
    # and so does the line a mapping's `each: lines_to_apply(Line)` names
    (tmp_path / "pack.yaml").write_text(
        "kind: pack\nid: firm\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"
        "patches:\n  - document: qbo-payments\n    set:\n"
        '      fields/applications/fields/amount: "{{ line.Amont | money }}"\n'
    )
    (problem,) = validate_pack(tmp_path).problems
    assert (problem.line, problem.code, problem.message, problem.hint) == (
        8,
        "expr.unknown-field",
        "'Line[]' has no field 'Amont'",
        "did you mean 'Amount'?",
    )
