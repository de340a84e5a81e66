"""Documents read nothing but what the engine gives them, carry only https links, and are
written under names that stay inside their folder."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tpsqbo_engine.assets import AssetPolicy, refusal
from tpsqbo_engine.sync.documents import Document, safe_file_name, safe_link, write_document

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _pack(tmp_path: Path) -> Path:
    root = tmp_path / "pack"
    (root / "assets").mkdir(parents=True)
    (root / "pack.yaml").write_text("kind: pack\n")
    (root / "assets" / "logo.png").write_bytes(PNG)
    return root


def test_a_pdf_reads_only_data_urls_and_the_packs_assets(tmp_path: Path) -> None:
    from tpsqbo_engine.sync.documents import write_pdf

    root = _pack(tmp_path)
    secret = tmp_path / "qbo-tokens.json"
    secret.write_text('{"refresh_token": "RT-SECRET-123"}')
    inline = base64.b64encode(PNG).decode()
    html = (
        f'<html><head><link rel="attachment" href="{secret.as_uri()}">'
        '<link rel="stylesheet" href="http://127.0.0.1:9/x.css"></head><body>'
        f'<img src="assets/logo.png"><img src="data:image/png;base64,{inline}">'
        '<img src="../qbo-tokens.json">'
        '<a rel="attachment" href="assets/../../qbo-tokens.json">x</a>'
        "<p>Invoice</p></body></html>"
    )
    out, refused = write_pdf(Document("inv-1", html, None, (), root), tmp_path / "x.pdf")
    pdf = out.read_bytes()
    assert pdf.startswith(b"%PDF") and b"RT-SECRET-123" not in pdf
    assert b"qbo-tokens" not in pdf
    assert len(refused) == 4
    assert any("http:" in r and "network" in r for r in refused)
    assert sum("assets/ folder" in r for r in refused) == 3


def test_the_policy_on_its_own(tmp_path: Path) -> None:
    root = _pack(tmp_path)
    assert refusal("data:text/plain,hi", root) == ""
    assert refusal("assets/logo.png", root) == ""
    assert refusal((root / "assets" / "logo.png").as_uri(), root) == ""
    assert "assets/" in refusal((root / "pack.yaml").as_uri(), root)
    assert "assets/" in refusal("assets/../pack.yaml", root)
    assert "network" in refusal("https://example.com/a.css", root)
    assert "network" in refusal("//example.com/a.css", root)
    assert "ftp:" in refusal("ftp://example.com/a", root)
    policy = AssetPolicy(root)
    with pytest.raises(PermissionError):
        policy.check("file:///etc/passwd")
    assert policy.refused == [
        "file:///etc/passwd: only files inside the pack's assets/ folder may be read"
    ]


@pytest.mark.parametrize(
    ("link", "why"),
    [
        ("javascript:alert(1)", "javascript:"),
        ("http://pay.example.com/x", "http:"),
        ("data:text/html,<script>", "data:"),
        ("//pay.example.com/x", "no scheme"),
        ("https://", "https:"),
    ],
)
def test_a_payment_link_that_is_not_https_is_left_out_with_a_reason(link: str, why: str) -> None:
    kept, reason = safe_link(link)
    assert kept is None and reason.startswith("no payment link:") and why in reason


def test_https_links_and_the_local_emulator_are_kept() -> None:
    assert safe_link("https://connect.intuit.com/pay/x") == ("https://connect.intuit.com/pay/x", "")
    assert safe_link("http://127.0.0.1:5000/connect/pay/t") == (
        "http://127.0.0.1:5000/connect/pay/t",
        "",
    )
    assert safe_link(None) == (None, "")


HOSTILE_IDS = ["../../x", "/etc/passwd", "a\\b", "a/b", "nul\x00byte", "x" * 500, "..", "CON", ""]


def test_document_names_stay_inside_their_folder_and_apart(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    written = [
        write_document(Document(ident, f"doc {n}", None, ()), folder)
        for n, ident in enumerate(HOSTILE_IDS)
    ]
    assert all(path.parent == folder for path in written)
    assert len({path.name for path in written}) == len(HOSTILE_IDS)
    assert all(len(path.name) <= 100 for path in written)
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in written)
    assert [p.read_text() for p in written] == [f"doc {n}" for n in range(len(HOSTILE_IDS))]


def test_an_ordinary_invoice_id_keeps_its_name() -> None:
    assert safe_file_name("inv-1001") == "inv-1001"
    assert safe_file_name("INV_2026.04") == "INV_2026.04"


def test_a_template_over_budget_fails_its_documents_and_the_sync_goes_on(tmp_path: Path) -> None:
    from tpsqbo_engine.sync.demo import demo_firm

    pack = _pack(tmp_path)
    (pack / "pack.yaml").write_text(
        "kind: pack\nid: greedy-documents\nversion: 0.1.0\nextends: [tps-qbo-standard]\n"
    )
    (pack / "invoice.html").write_text(
        "{% for a in [0] * 10000 %}{% for line in invoice.lines * 100 %}{% endfor %}{% endfor %}"
    )
    (pack / "templates.yaml").write_text(
        "kind: template\nid: invoice-html\nfile: invoice.html\nformat: html\nfor: tps.Invoice\n"
        "context: {invoice: tps.Invoice, client: tps.Client, firm: tps.Firm, "
        "qbo_invoice_id: string?, payment_link: string?}\npayment_link: true\n"
    )
    with demo_firm(tmp_path / "firm", rules=str(pack)) as (session, _, _):
        session.backup()
        summary = session.sync(render_to=tmp_path / "documents")
        failed = [
            item
            for item in session.state.items(summary.run_id, "Failed")
            if item["action"] == "render"
        ]
    assert failed and all("templates.yaml:1" in item["message"] for item in failed)
    assert all("loop iterations" in item["message"] for item in failed)
    assert summary.counts["Successful"] > 0


def _linked_pack(tmp_path: Path, where: str) -> tuple[Path, bytes]:
    """A pack extending the standard one whose invoice template shows `assets/logo.png`,
    a link to the firm's token file: outside the pack, or inside it but outside assets/ (a
    pack kept at the firm's root), or through an assets/ folder that is itself a link."""
    secret = b'{"refresh_token": "RT-SECRET-123"}'
    root = tmp_path / "pack"
    (root / "templates").mkdir(parents=True)
    (root / "pack.yaml").write_text(
        "kind: pack\nid: linked\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"
    )
    (root / "templates.yaml").write_text(
        "kind: template\nid: invoice-html\nfile: templates/invoice.html\nformat: html\n"
        "for: tps.Invoice\ncontext:\n  invoice: tps.Invoice\n"
    )
    (root / "templates" / "invoice.html").write_text(
        "<img src=\"{{ assets['logo.png'] }}\">{{ invoice.doc_number }}"
    )
    tokens = tmp_path / ".tpsqbo" if where == "outside" else root / ".tpsqbo"
    tokens.mkdir()
    (tokens / "qbo-tokens.json").write_bytes(secret)
    if where == "folder":
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        (elsewhere / "logo.png").symlink_to(tokens / "qbo-tokens.json")
        (root / "assets").symlink_to(elsewhere, target_is_directory=True)
    else:
        (root / "assets").mkdir()
        (root / "assets" / "logo.png").symlink_to(tokens / "qbo-tokens.json")
    return root, secret


@pytest.mark.parametrize("where", ["outside", "inside", "folder"])
def test_an_asset_linked_out_of_assets_is_never_carried(tmp_path: Path, where: str) -> None:
    from tpsqbo_engine.ruleset.documents import assets
    from tpsqbo_engine.ruleset.validate import validate_pack

    root, secret = _linked_pack(tmp_path, where)
    problems = validate_pack(root).problems
    assert "pack.symlink-escape" in {p.code for p in problems}
    assert assets(root) == {}
    encoded = base64.b64encode(secret).decode()
    assert all(encoded not in p.message for p in problems)


def test_an_asset_inside_assets_is_carried(tmp_path: Path) -> None:
    from tpsqbo_engine.ruleset.documents import assets

    root = _pack(tmp_path)
    (root / "assets" / "mark.png").symlink_to(root / "assets" / "logo.png")
    carried = assets(root)
    assert sorted(carried) == ["logo.png", "mark.png"]
    assert carried["mark.png"] == carried["logo.png"]
