"""A `{% set x %}...{% endset %}` block in a rule value: `validate` knows `x` after the
block, and the block's loop variable inside its loop, as Jinja renders them; a name nothing
defines, or one used outside the scope that defines it, is still reported, located."""

from __future__ import annotations

from pathlib import Path

import pytest

from tpsqbo_engine.packtest import run_pack_tests
from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.ruleset.shapes import entity_catalog
from tpsqbo_engine.ruleset.typecheck import Scope, check_template_source, check_value
from tpsqbo_engine.ruleset.validate import validate_pack

NOTES = (
    "{% set tag %}{% for part in [code, name] %}{{ part | upper }}"
    "{% if not loop.last %}-{% endif %}{% endfor %}{% endset %}TPS client {{ tag }}"
)
CASE = """description: a new client
phase: initial
today: 2026-11-30
tps:
  Client:
    - {id: c-1, code: a1, name: Acme Ltd, email: a@acme.example, active: true}
expect:
  writes:
  - mapping: clients
    record: tps.Client:c-1
    action: create
    target: qbo.Customer
    fields:
      DisplayName: Acme Ltd
      CompanyName: Acme Ltd
      PrimaryEmailAddr:
        Address: a@acme.example
      Notes: TPS client A1-ACME LTD
  excluded: []
  other: []
"""


def _firm(tmp_path: Path, notes: str) -> Path:
    (tmp_path / "tests").mkdir()
    (tmp_path / "pack.yaml").write_text(
        "kind: pack\nid: firm\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"
        "patches:\n  - document: clients\n    set:\n      fields/Notes:\n"
        f"        value: '{notes}'\n        one_way: true\n"
    )
    (tmp_path / "tests" / "new-client.yaml").write_text(CASE)
    return tmp_path


def test_a_block_set_value_validates_clean_and_evaluates(tmp_path: Path) -> None:
    root = _firm(tmp_path, NOTES)
    assert validate_pack(root).problems == []
    (result,) = run_pack_tests(root, load_ruleset(root))
    assert result.passed, result.diff  # Notes: TPS client A1-ACME LTD


def test_a_typo_inside_or_after_the_block_is_still_reported_located(tmp_path: Path) -> None:
    notes = NOTES.replace("{{ part | upper }}", "{{ prat | upper }}").replace(
        "{{ tag }}", "{{ tga }}"
    )
    problems = validate_pack(_firm(tmp_path, notes)).problems
    assert [(Path(p.file).name, p.line, p.code) for p in problems] == [
        ("pack.yaml", 9, "expr.unknown-variable"),
        ("pack.yaml", 9, "expr.unknown-variable"),
    ]
    assert ["'prat'" in problems[0].message, "'tga'" in problems[1].message] == [True, True]
    assert "did you mean 'part'?" in problems[0].hint and "'tag'" in problems[1].hint


def _found(source: str) -> list[tuple[str, str, int]]:
    catalog = entity_catalog()
    scope = Scope(catalog, dict(catalog.shapes["tps.Invoice"].properties()), "tps")
    return [(f.code, f.message, f.lineno) for f in check_value(source, scope).findings]


LINES = "{% set codes %}{% for line in lines %}{{ line.work_code }};{% endfor %}{% endset %}"


@pytest.mark.parametrize(
    "source",
    [
        LINES + "{{ doc_number }}: {{ codes | trim }}",
        "{% set codes | upper %}{% for line in lines %}{{ loop.index }}{% endfor %}{% endset %}"
        "{{ codes }}",
        "{% with first = lines | first %}{{ first.work_code }}{% endwith %}",
        "{% autoescape false %}{% for line in lines %}{{ line.amount }}{% endfor %}"
        "{% endautoescape %}",
        # `if` is no scope: a name every branch sets is known after it
        "{% if lines %}{% set n %}{{ lines | length }}{% endset %}{% elif doc_number %}"
        "{% set n = 1 %}{% else %}{% set n = 0 %}{% endif %}{{ n }}",
    ],
)
def test_names_a_value_defines_are_known_in_their_scope(source: str) -> None:
    assert _found(source) == []


@pytest.mark.parametrize(
    ("source", "unknown"),
    [
        ("{{ codes }}" + LINES, "codes"),  # used before the block defines it
        (LINES + "{{ line }}", "line"),  # the loop variable outside its loop
        ("{% set codes %}{% set inner = 1 %}{% endset %}{{ inner }}", "inner"),  # the block's own
        ("{% with first = lines | first %}{% endwith %}{{ first }}", "first"),
        ("{% with first = frist %}{{ first }}{% endwith %}", "frist"),
        ("{% if lines %}{% set n = 1 %}{% endif %}{{ n }}", "n"),  # no value when not set
        (
            "{% if lines %}{% set n = 1 %}{% elif doc_number %}{% else %}{% set n = 0 %}{% endif %}"
            "{{ n }}",
            "n",
        ),
        ("{% if lines %}{% elif lnies %}{% endif %}", "lnies"),  # an elif's test is checked
        ("{% filter upper %}{% set q = 2 %}{% endfilter %}{{ q }}", "q"),  # a scope of its own
        ("{% autoescape false %}{% set q = 2 %}{% endautoescape %}{{ q }}", "q"),
        ("{% set codes %}\n{% for line in lines %}{{ lien }}{% endfor %}{% endset %}", "lien"),
    ],
)
def test_a_name_outside_its_scope_is_still_unknown(source: str, unknown: str) -> None:
    line = 2 if "\n" in source else 1
    assert _found(source) == [("expr.unknown-variable", f"unknown name '{unknown}'", line)]


def test_a_field_typo_on_the_loop_variable_is_now_caught() -> None:
    # before, the loop variable was unknown and nothing was checked of it
    found = _found(LINES.replace("line.work_code", "line.work_cod"))
    assert found == [("expr.unknown-field", "'lines[]' has no field 'work_cod'", 1)]


def test_a_document_template_knows_its_block_set_names_too() -> None:
    catalog = entity_catalog()
    scope = Scope(catalog, dict(catalog.shapes["tps.Invoice"].properties()), "tps")
    html = "{% set codes %}{% for line in lines %}{{ line.work_code }} {% endfor %}{% endset %}"
    assert check_template_source(html + "<p>{{ codes }}</p>", scope, autoescape=True) == ()
    (finding,) = check_template_source(html + "\n<p>{{ cdoes }}</p>", scope, autoescape=True)
    assert (finding.code, finding.message, finding.lineno) == (
        "expr.unknown-variable",
        "unknown name 'cdoes'",
        2,
    )
