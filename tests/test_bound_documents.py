"""Documents bound by declaration: `for:` picks the records, `context:` declares every
variable (computed ones as expressions), templates extend and include the pack's own
templates, and the pack's images come along as data: URIs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tpsqbo_engine.ruleset.validate import validate_pack
from tpsqbo_engine.sync.bindings import render_record
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.documents import render_invoice
from tpsqbo_engine.sync.session import Session

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
TEMPLATES = """kind: template
id: invoice-html
file: templates/invoice.html
format: html
for: tps.Invoice
context:
  invoice: tps.Invoice
  client: tps.Client
  firm: tps.Firm
  payment_link: string?
  office: {type: string?, value: "{{ record('clients', client_id).office }}"}
  due: {type: date?, value: "{{ due_by_terms(date, 30) }}"}
payment_link: true
---
kind: template
id: client-letter
file: templates/letter.html
format: html
for: tps.Client
context:
  client: tps.Client
  firm: tps.Firm
"""


def _pack(root: Path) -> Path:
    (root / "templates").mkdir(parents=True)
    (root / "assets").mkdir()
    (root / "assets" / "logo.png").write_bytes(PNG)
    (root / "pack.yaml").write_text(
        "kind: pack\nid: branded\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"
    )
    (root / "templates.yaml").write_text(TEMPLATES)
    (root / "templates" / "base.html").write_text(
        "<img src=\"{{ assets['logo.png'] }}\"><h1>{{ firm.name }}</h1>"
        "{% block body %}{% endblock %}"
    )
    (root / "templates" / "footer.html").write_text("<footer>Office: {{ office }}</footer>")
    (root / "templates" / "invoice.html").write_text(
        "{% extends 'templates/base.html' %}{% block body %}<p>{{ invoice.doc_number }} for "
        "{{ client.name }}, due {{ due }}</p>{% include 'templates/footer.html' %}"
        "{% endblock %}"
    )
    (root / "templates" / "letter.html").write_text(
        "{% extends 'templates/base.html' %}{% block body %}Dear {{ client.contact_name }}"
        "{% endblock %}"
    )
    return root


def test_a_branded_pack_validates(tmp_path: Path) -> None:
    assert validate_pack(_pack(tmp_path)).problems == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("  region: string?\n", "template.unbound-variable"),
        ("  phone: {type: string, value: '{{ phnoe }}'}\n", "expr.unknown-variable"),
    ],
)
def test_a_variable_nothing_fills_is_caught_at_validate(
    tmp_path: Path, change: str, code: str
) -> None:
    root = _pack(tmp_path)
    text = TEMPLATES.replace("payment_link: true\n", "payment_link: true\n", 1)
    text = text.replace("  payment_link: string?\n", "  payment_link: string?\n" + change, 1)
    (root / "templates.yaml").write_text(text)
    problems = validate_pack(root).problems
    assert [p.code for p in problems] == [code]
    assert (Path(problems[0].file).name, problems[0].line) == ("templates.yaml", 11)


def test_includes_stay_inside_the_pack_and_are_checked(tmp_path: Path) -> None:
    root = _pack(tmp_path)
    (root / "templates" / "footer.html").write_text(
        "{{ offcie }}{% include '../../outside.html' %}{% include 'templates/nope.html' %}"
    )
    found = sorted((p.code, p.line) for p in validate_pack(root).problems)
    codes = [c for c, _ in found]
    assert codes.count("expr.unknown-variable") == 1
    assert "template.path-escape" in codes and "template.missing-file" in codes


def test_unknown_assets_are_named(tmp_path: Path) -> None:
    root = _pack(tmp_path)
    (root / "templates" / "footer.html").write_text("<img src=\"{{ assets['logo.jpg'] }}\">")
    problems = validate_pack(root).problems
    assert {p.code for p in problems} == {"expr.unknown-field"}
    assert "did you mean 'logo.png'?" in problems[0].hint


@pytest.fixture(scope="module")
def branded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    pack = _pack(tmp_path_factory.mktemp("branded"))
    with demo_firm(tmp_path_factory.mktemp("run"), rules=str(pack)) as (session, _, _):
        yield session


def test_the_invoice_renders_with_its_declared_context(branded: Session) -> None:
    invoice = next(iter(branded.tps.records("invoices")))
    client = branded.tps.get("clients", invoice["client_id"])
    text = render_invoice(branded, invoice["id"]).text
    assert 'src="data:image/png;base64,' in text
    assert f"<footer>Office: {client['office']}</footer>" in text
    assert invoice["doc_number"] in text
    assert f"<h1>{branded.tps.firm()['name']}" in text.replace("&amp;", "&")


def test_a_template_for_clients_renders_for_a_client(branded: Session) -> None:
    client = next(iter(branded.tps.records("clients")))
    template = branded.rules.templates["client-letter"]
    text = render_record(branded, template, client["id"])
    assert f"Dear {client['contact_name'] or ''}" in text.replace("&#39;", "'")
    assert 'src="data:image/png;base64,' in text


def test_render_record_from_the_command_line(
    branded: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tpsqbo_engine.cli import main

    client = next(iter(branded.tps.records("clients")))
    config = str(branded.config.workdir.parent / "tpsqbo.yaml")
    out = tmp_path / "letter.html"
    args = ["render", "record", f"tps.Client:{client['id']}", "--template", "client-letter"]
    assert main([*args, "--out", str(out), "--config", config]) == 0
    assert "Dear " in out.read_text()
    assert main([*args[:3], "--template", "invoice-html", "--config", config]) == 2
    assert "templates for tps.Client: client-letter" in capsys.readouterr().err
