"""Invoice documents: a TPS invoice rendered with its template, carrying QBO's payment link.

TPS keeps the invoice document and QBO gets only the lines, so the link to pay online comes
from QBO (`InvoiceLink`, read with `include=invoiceLink`) and goes into the document TPS
sends. QBO makes a link only when the invoice has a billing email, allows online payment, and
the company has QuickBooks Payments on; when one is missing the document says how to pay
otherwise, and the reason is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.ruleset.model import TemplateRule
from tpsqbo_engine.sync.bindings import compile_template, document_context
from tpsqbo_engine.sync.runtime import pair_of

if TYPE_CHECKING:
    from tpsqbo_engine.sync.session import Session

Record = dict[str, Any]


@dataclass(frozen=True)
class Document:
    invoice: str
    text: str
    payment_link: str | None
    warnings: tuple[str, ...]


def link_problems(qbo_invoice: Record | None, payments_on: bool) -> list[str]:
    """Why QBO will not give this invoice a payment link, if it will not."""
    if qbo_invoice is None:
        return ["no payment link: the invoice is not in QBO yet (sync it first)"]
    problems = []
    if not (qbo_invoice.get("BillEmail") or {}).get("Address"):
        problems.append("no payment link: the client has no email, so the invoice has no BillEmail")
    if not (
        qbo_invoice.get("AllowOnlineCreditCardPayment") or qbo_invoice.get("AllowOnlineACHPayment")
    ):
        problems.append("no payment link: the invoice does not allow online payment")
    if not payments_on:
        problems.append("no payment link: QuickBooks Payments is off for the company")
    return problems


def _template(session: Session, template_id: str) -> TemplateRule:
    template = session.rules.templates.get(template_id)
    if template is None:
        raise UsageError(
            f"the pack has no template '{template_id}'",
            hint=f"templates: {', '.join(session.rules.templates)}",
        )
    return template


def render_invoice(
    session: Session,
    invoice_id: str,
    template_id: str = "invoice-html",
    payments_on: bool | None = None,
) -> Document:
    template = _template(session, template_id)
    invoice = session.tps.get("invoices", invoice_id)
    mapping = next(
        m for m in session.rules.mappings if m.source == "tps.Invoice" and m.target == "qbo.Invoice"
    )
    link_row = next(
        (r for r in session.state.links(pair_of(mapping)) if r["tps_id"] == invoice_id), None
    )
    qbo_invoice = (
        session.qbo.read("Invoice", link_row["qbo_id"], include="invoiceLink") if link_row else None
    )
    if payments_on is None:
        prefs = session.qbo.preferences().get("SalesFormsPrefs", {})
        payments_on = bool(prefs.get("ETransactionPaymentEnabled"))
    link = (qbo_invoice or {}).get("InvoiceLink") or None
    warnings = [] if link else link_problems(qbo_invoice, payments_on)
    engine = {
        "qbo_invoice_id": link_row["qbo_id"] if link_row else None,
        "payment_link": link if template.payment_link else None,
    }
    context = document_context(session, template, invoice, engine)
    return Document(invoice_id, compile_template(template).render(**context), link, tuple(warnings))


def write_document(document: Document, folder: Path, suffix: str = ".html") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{document.invoice}{suffix}"
    path.write_text(document.text, encoding="utf-8")
    return path


def write_pdf(html: str, out: Path) -> Path:
    """The HTML document as PDF, through WeasyPrint (the `pdf` extra); links stay links."""
    try:
        import weasyprint  # type: ignore[import-untyped, unused-ignore]
    except (ImportError, OSError):
        raise UsageError(
            "PDF output needs WeasyPrint", hint="pip install 'tpsqbo-engine[pdf]', or write .html"
        ) from None
    weasyprint.HTML(string=html).write_pdf(out)
    return out
