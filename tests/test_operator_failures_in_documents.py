"""An operator failing in a document template on a record's value fails that document
located at the template, saying which operator and the kinds it was given."""

from __future__ import annotations

from pathlib import Path

import pytest

from tpsqbo_engine.expr import ExpressionError
from tpsqbo_engine.sync.bindings import render_record
from tpsqbo_engine.sync.demo import demo_firm

TEMPLATES = """kind: template
id: client-letter
file: templates/letter.html
format: html
for: tps.Client
context:
  client: tps.Client
"""


def test_an_operator_failing_in_a_template_fails_the_document_located(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    (pack / "templates").mkdir(parents=True)
    (pack / "pack.yaml").write_text(
        "kind: pack\nid: letters\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"
    )
    (pack / "templates.yaml").write_text(TEMPLATES)
    (pack / "templates" / "letter.html").write_text("No. {{ '%d' % client.name }}")
    with demo_firm(tmp_path / "run", rules=str(pack)) as (session, _, _):
        client = next(iter(session.tps.records("clients")))
        template = session.rules.templates["client-letter"]
        with pytest.raises(ExpressionError) as failed:
            render_record(session, template, client["id"])
    told = failed.value.told
    assert f"template 'client-letter' failed for {client['id']}: the `%` operator" in told
    assert "(a text and a text" in told and client["name"] not in told
