"""Invoice documents: a TPS invoice rendered with its template, carrying QBO's payment link.

TPS keeps the invoice document and QBO gets only the lines, so the link to pay online comes
from QBO (`InvoiceLink`, read with `include=invoiceLink`) and goes into the document TPS
sends. QBO makes a link only when the invoice has a billing email, allows online payment, and
the company has QuickBooks Payments on; when one is missing the document says how to pay
otherwise, and the reason is reported.

Templates come from rule packs, so rendering is bounded like any rule evaluation (the budget
of engine/budget.py), a PDF reads only `data:` URLs and the pack's `assets/` (engine/assets.py),
the payment link goes in only when it is https, and the file name is made safe from the
invoice id whatever it holds.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tpsqbo_engine.assets import AssetPolicy
from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.expr import EVALUATION_ERRORS, ExpressionError, render_text
from tpsqbo_engine.private import private_dir, write_private
from tpsqbo_engine.ruleset.model import TemplateRule
from tpsqbo_engine.sync.bindings import compile_template, document_context
from tpsqbo_engine.sync.links import pair_of

if TYPE_CHECKING:
    from tpsqbo_engine.sync.session import Session

Record = dict[str, Any]


@dataclass(frozen=True)
class Document:
    invoice: str
    text: str
    payment_link: str | None
    warnings: tuple[str, ...]
    root: Path | None = None  # the pack folder whose assets/ the document may read


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
    link, unsafe = safe_link((qbo_invoice or {}).get("InvoiceLink"))
    warnings = [unsafe] if unsafe else [] if link else link_problems(qbo_invoice, payments_on)
    engine = {
        "qbo_invoice_id": link_row["qbo_id"] if link_row else None,
        "payment_link": link if template.payment_link else None,
    }
    context = document_context(session, template, invoice, engine)
    compiled = compile_template(template)
    try:
        text = render_text(compiled, context)
    except (ExpressionError, *EVALUATION_ERRORS) as exc:  # a filter's or operator's says why
        reason = getattr(exc, "message", "") or type(exc).__name__
        raise ExpressionError(
            f"{template.where}: template '{template.id}' failed for {invoice_id}: {reason}"
        ) from None
    return Document(invoice_id, text, link, tuple(warnings), _pack_root(template))


def _pack_root(template: TemplateRule) -> Path:
    """The folder the template's pack keeps `assets/` in: the template file's nearest
    ancestor holding a pack.yaml, else the template's own folder."""
    for folder in template.file.resolve().parents:
        if (folder / "pack.yaml").is_file():
            return folder
    return template.file.resolve().parent


LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def safe_link(link: Any) -> tuple[str | None, str]:
    """(the link, "") when it may go in a document, else (None, why not). Only https links
    are put before a client; plain http is allowed on loopback, where the emulator lives."""
    if not link:
        return None, ""
    parts = urlsplit(str(link))
    if parts.scheme == "https" and parts.hostname:
        return str(link), ""
    if parts.scheme == "http" and parts.hostname in LOOPBACK:
        return str(link), ""
    scheme = f"{parts.scheme}:" if parts.scheme else "no scheme"
    return None, f"no payment link: QBO's link is not https ({scheme}), so it was left out"


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(10)), *(f"LPT{n}" for n in range(10))}
)
MAX_NAME = 80


def safe_file_name(ident: str) -> str:
    """A file name made from a record id that stays inside its folder on every system. An id
    that is already safe is kept as it is; any other gets a short hash of the original, so
    two ids that clean up alike (`a/b`, `a\\b`) still get different names."""
    cleaned = _UNSAFE.sub("_", ident).strip("._")[:MAX_NAME]
    if cleaned == ident and cleaned.upper().split(".")[0] not in _RESERVED:
        return cleaned
    digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{cleaned or 'invoice'}-{digest}"


def write_document(document: Document, folder: Path, suffix: str = ".html") -> Path:
    private_dir(folder)
    return write_private(folder / f"{safe_file_name(document.invoice)}{suffix}", document.text)


def write_pdf(document: Document, out: Path) -> tuple[Path, list[str]]:
    """The HTML document as PDF, through WeasyPrint (the `pdf` extra); links stay links. The
    document reads only data: URLs and its pack's assets/; what it tried to read beyond them
    is refused and returned."""
    try:
        import weasyprint  # type: ignore[import-untyped, unused-ignore]
    except (ImportError, OSError):
        raise UsageError(
            "PDF output needs WeasyPrint", hint="pip install 'tpsqbo-engine[pdf]', or write .html"
        ) from None
    root = document.root or Path.cwd()
    policy = AssetPolicy(root)
    weasyprint.HTML(
        string=document.text, base_url=root.as_uri() + "/", url_fetcher=_fetcher(weasyprint, policy)
    ).write_pdf(out)
    return out, policy.refused


def _fetcher(weasyprint: Any, policy: AssetPolicy) -> Any:
    """WeasyPrint's own fetcher, behind the policy (the class API of 66+, else the function)."""
    base = getattr(weasyprint, "URLFetcher", None)
    if base is None:

        def fetch(url: str, *args: Any, **kwargs: Any) -> Any:
            policy.check(url)
            return weasyprint.default_url_fetcher(url, *args, **kwargs)

        return fetch

    class Guarded(base):  # type: ignore[misc, valid-type]
        def fetch(self, url: str, headers: Any = None) -> Any:
            policy.check(url)
            return super().fetch(url, headers)

    return Guarded()
