"""Invoice documents with QBO's payment link: snapshots, the link itself, and its absence."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.documents import link_problems, render_invoice
from tpsqbo_engine.sync.session import Session

Firm = tuple[Session, QboEmulatorServer, TpsEmulatorServer]


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Firm]:
    with demo_firm(tmp_path_factory.mktemp("documents")) as firm:
        firm[0].backup()
        firm[0].sync()
        yield firm


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.extend(value or "" for name, value in attrs if name == "href")


def _stable(text: str, qbo: QboEmulatorServer) -> str:
    return re.sub(r"scs-v1-[0-9a-f]+", "scs-v1-<token>", text.replace(qbo.base_url, "<qbo>"))


def _invoice(tps: TpsEmulatorServer, test) -> str:  # type: ignore[no-untyped-def]
    return next(
        i["id"]
        for i in sorted(tps.firm.table("invoices").values(), key=lambda i: i["id"])
        if test(i)
    )


def test_the_link_in_the_document_is_the_one_qbo_returned(synced: Firm) -> None:
    session, _, tps = synced
    ident = _invoice(tps, lambda i: i["status"] == "outstanding" and i["taxes"])
    document = render_invoice(session, ident)
    parser = _Links()
    parser.feed(document.text)
    assert document.payment_link is not None
    assert parser.links == [document.payment_link]
    link = session.qbo.find(
        "Invoice",
        __import__("tpsqbo_engine.connectors.qbo.queries", fromlist=["NaturalKey"]).NaturalKey(
            "DocNumber", tps.firm.get("invoices", ident)["doc_number"]
        ),
    )
    assert link is not None
    fresh = session.qbo.read("Invoice", link["Id"], include="invoiceLink")
    assert fresh["InvoiceLink"] == document.payment_link


def test_with_a_link_and_taxes(synced: Firm, snapshot) -> None:  # type: ignore[no-untyped-def]
    session, qbo, tps = synced
    ident = _invoice(tps, lambda i: i["status"] == "outstanding" and i["taxes"])
    assert _stable(render_invoice(session, ident).text, qbo) == snapshot


def test_without_a_link_says_why(synced: Firm, snapshot) -> None:  # type: ignore[no-untyped-def]
    session, qbo, tps = synced
    no_email = next(c["id"] for c in tps.firm.table("clients").values() if not c["email"])
    ident = _invoice(tps, lambda i: i["client_id"] == no_email and i["status"] == "outstanding")
    document = render_invoice(session, ident)
    assert document.payment_link is None
    assert document.warnings == (
        "no payment link: the client has no email, so the invoice has no BillEmail",
    )
    assert "Pay online" not in document.text and "quoting invoice" in document.text
    assert _stable(document.text, qbo) == snapshot


def test_a_long_client_name(synced: Firm, snapshot) -> None:  # type: ignore[no-untyped-def]
    session, qbo, tps = synced
    long_name = next(c["id"] for c in tps.firm.table("clients").values() if len(c["name"]) == 150)
    ident = _invoice(tps, lambda i: i["client_id"] == long_name)
    assert _stable(render_invoice(session, ident).text, qbo) == snapshot


def test_the_email_body(synced: Firm, snapshot) -> None:  # type: ignore[no-untyped-def]
    session, qbo, tps = synced
    ident = _invoice(tps, lambda i: i["status"] == "outstanding")
    assert _stable(render_invoice(session, ident, "invoice-email").text, qbo) == snapshot


def test_every_missing_prerequisite_is_named() -> None:
    assert link_problems(None, True) == [
        "no payment link: the invoice is not in QBO yet (sync it first)"
    ]
    assert link_problems({"BillEmail": {"Address": "a@b.example"}}, False) == [
        "no payment link: the invoice does not allow online payment",
        "no payment link: QuickBooks Payments is off for the company",
    ]


def test_markup_in_data_is_escaped(synced: Firm, tmp_path: Path) -> None:
    session, _, tps = synced
    client = next(
        c for c in tps.firm.table("clients").values() if c["name"] == "Zig Zag Ski School"
    )
    session.tps.update(
        "clients", client["id"], {"contact_name": "<script>x()</script>"}, version=client["version"]
    )
    ident = _invoice(tps, lambda i: i["client_id"] == client["id"])
    text = render_invoice(session, ident).text
    assert "<script>x()" not in text and "&lt;script&gt;" in text


def test_a_pdf_keeps_the_payment_link(synced: Firm, tmp_path: Path) -> None:
    from tpsqbo_engine.sync.documents import write_pdf

    session, _, tps = synced
    ident = _invoice(tps, lambda i: i["status"] == "outstanding" and i["taxes"])
    document = render_invoice(session, ident)
    pdf = write_pdf(document, tmp_path / "invoice.pdf")[0].read_bytes()
    assert pdf.startswith(b"%PDF") and document.payment_link is not None
    assert document.payment_link.encode() in _pdf_text(pdf)  # the link annotation's URI


def _pdf_text(pdf: bytes) -> bytes:
    """The PDF with its compressed streams inflated."""
    import zlib

    parts = [pdf]
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        try:
            parts.append(zlib.decompress(stream))
        except zlib.error:
            continue
    return b"".join(parts)
