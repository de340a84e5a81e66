"""Every output format carries file, line, column, code, level and message."""

from __future__ import annotations

import json

import jsonschema

from tpsqbo_engine.problems import REPORTERS, Level, Problem, has_errors

PROBLEMS = [
    Problem(
        "rules/clients.yaml",
        12,
        7,
        "expr.unknown-field",
        "'tps.Client' has no field 'emial'",
        hint="did you mean 'email'?",
    ),
    Problem(
        "rules/a,b:c.yaml",
        3,
        1,
        "mapping.not-invertible",
        "50% off\nnext line",
        level=Level.WARNING,
    ),
]

# The parts of SARIF 2.1.0 that code-scanning UIs rely on (OASIS sarif-schema-2.1.0).
_REGION = {
    "type": "object",
    "properties": {
        "startLine": {"type": "integer", "minimum": 1},
        "startColumn": {"type": "integer", "minimum": 1},
    },
}
_LOCATION = {
    "type": "object",
    "required": ["physicalLocation"],
    "properties": {
        "physicalLocation": {
            "type": "object",
            "required": ["artifactLocation", "region"],
            "properties": {
                "artifactLocation": {"type": "object", "required": ["uri"]},
                "region": _REGION,
            },
        }
    },
}
_RESULT = {
    "type": "object",
    "required": ["message", "ruleId", "locations"],
    "properties": {
        "level": {"enum": ["none", "note", "warning", "error"]},
        "message": {"type": "object", "required": ["text"]},
        "locations": {"type": "array", "items": _LOCATION},
    },
}
_DRIVER = {
    "type": "object",
    "required": ["name"],
    "properties": {"rules": {"type": "array", "items": {"type": "object", "required": ["id"]}}},
}
_RUN = {
    "type": "object",
    "required": ["tool", "results"],
    "properties": {
        "tool": {"type": "object", "required": ["driver"], "properties": {"driver": _DRIVER}},
        "results": {"type": "array", "items": _RESULT},
    },
}
SARIF_SHAPE = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {"type": "array", "minItems": 1, "items": _RUN},
    },
}


def test_json_has_the_documented_keys() -> None:
    rows = json.loads(REPORTERS["json"](PROBLEMS))
    assert rows[0]["file"] == "rules/clients.yaml"
    assert {"file", "line", "column", "code", "level", "message", "hint"} <= set(rows[0])
    assert rows[1]["level"] == "warning"


def test_github_annotations_escape_their_special_characters() -> None:
    lines = REPORTERS["github"](PROBLEMS).splitlines()
    assert lines[0] == (
        "::error file=rules/clients.yaml,line=12,col=7,title=expr.unknown-field::"
        "'tps.Client' has no field 'emial' Hint: did you mean 'email'?"
    )
    assert lines[1].startswith("::warning file=rules/a%2Cb%3Ac.yaml,line=3,col=1,")
    assert lines[1].endswith("::50%25 off%0Anext line")


def test_sarif_is_well_formed() -> None:
    log = json.loads(REPORTERS["sarif"](PROBLEMS))
    jsonschema.validate(log, SARIF_SHAPE)
    results = log["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["expr.unknown-field", "mapping.not-invertible"]
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)
    region = results[0]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 12, "startColumn": 7}


def test_text_lists_problems_with_hints_and_a_summary() -> None:
    text = REPORTERS["text"](PROBLEMS)
    assert "rules/clients.yaml:12:7: error [expr.unknown-field]" in text
    assert "    hint: did you mean 'email'?" in text
    assert text.endswith("1 error(s), 1 warning(s)")
    assert REPORTERS["text"]([]) == ""


def test_warnings_fail_only_when_strict() -> None:
    warning_only = [PROBLEMS[1]]
    assert not has_errors(warning_only)
    assert has_errors(warning_only, strict=True)
    assert has_errors(PROBLEMS)
