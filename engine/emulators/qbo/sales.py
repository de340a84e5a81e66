"""Server-side arithmetic of QBO transactions: line checks, tax, totals, balances.

Clients never set TotalAmt, Balance, UnappliedAmt or RemainingCredit: QBO computes them and
overwrites whatever was sent. Payments lower the balances of what they are applied to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from tpsqbo_engine.emulators.qbo import faults
from tpsqbo_engine.emulators.qbo.money import ZERO, amount, cents

US_TAX_CODES = ("TAX", "NON")
Record = dict[str, Any]


def _item_line(
    line: Record,
    index: int,
    check_ref: Callable[[str, Any, str], Record],
    tax_rate: Callable[[Any], Decimal | None],
    us: bool,
    inclusive: bool = False,
) -> tuple[Decimal, Decimal]:
    """(amount, tax) of one SalesItemLineDetail line, after QBO's checks; with tax-inclusive
    amounts the tax is the part of the amount the rate accounts for."""
    element = f"Line[{index}]"
    if "Amount" not in line:
        raise faults.required(f"{element}.Amount")
    value = amount(line["Amount"], f"{element}.Amount")
    detail = line.get("SalesItemLineDetail") or {}
    if "ItemRef" in detail:
        item = check_ref("Item", detail["ItemRef"], f"{element}.ItemRef")
        detail["ItemRef"] = {"value": item["Id"], "name": item["Name"]}  # QBO fills in names
    qty, price = detail.get("Qty"), detail.get("UnitPrice")
    # Libraries send Qty 0 and UnitPrice 0 for "not given" (python-quickbooks does), and QBO
    # then goes by Amount; only a real quantity and price must multiply out to it.
    if qty and price:
        expected = cents(amount(qty, "Qty") * amount(price, "UnitPrice"))
        if expected != cents(value):
            raise faults.Fault(
                "6070",
                "Amount is not equal to UnitPrice * Qty",
                f"Amount is not equal to UnitPrice * Qty. Supplied value:{value}",
                element=f"{element}.Amount",
            )
    code = (detail.get("TaxCodeRef") or {}).get("value")
    if us:  # the line's tax is the taxable amount here: the transaction's tax code taxes it
        if code is not None and code not in US_TAX_CODES:
            raise faults.invalid_reference(f"{element}.TaxCodeRef")
        return value, value if code == "TAX" else ZERO
    if code is None:
        raise faults.business(
            "Make sure all your transactions have a GST/HST rate before you save."
        )
    rate = tax_rate(code)
    if rate is None:
        raise faults.invalid_reference(f"{element}.TaxCodeRef")
    return value, value * rate / (100 + rate if inclusive else 100)


def compute_sales(
    record: Record,
    check_ref: Callable[[str, Any, str], Record],
    tax_rate: Callable[[Any], Decimal | None],
    us: bool,
) -> None:
    """Checks the lines of an Invoice/CreditMemo/SalesReceipt and fills in its totals."""
    lines = [line for line in record.get("Line") or [] if isinstance(line, dict)]
    if not lines:
        raise faults.required("Line")
    kept: list[Record] = []
    subtotal = discount = tax = ZERO
    inclusive = record.get("GlobalTaxCalculation") == "TaxInclusive"
    for index, line in enumerate(lines):
        kind = line.get("DetailType")
        if kind == "SubTotalLineDetail":
            continue  # QBO adds its own
        if kind == "SalesItemLineDetail":
            value, line_tax = _item_line(line, index, check_ref, tax_rate, us, inclusive)
            subtotal += value
            tax += line_tax
        elif kind == "DiscountLineDetail":
            discount += amount(line.get("Amount", 0), f"Line[{index}].Amount")
        elif kind not in ("DescriptionOnly", "GroupLineDetail"):
            raise faults.Fault(
                "2170",
                "Invalid Enumeration",
                f"Invalid DetailType: {kind}",
                element=f"Line[{index}].DetailType",
            )
        kept.append(line)
    if us:
        tax = _us_tax(record, tax, tax_rate)
    elif record.get("GlobalTaxCalculation") == "NotApplicable":
        tax = ZERO
    record.setdefault("GlobalTaxCalculation", None if us else "TaxExcluded")
    if record["GlobalTaxCalculation"] is None:
        del record["GlobalTaxCalculation"]
    total = subtotal - discount + (ZERO if inclusive else tax)
    for number, line in enumerate(kept, start=1):
        line.setdefault("Id", str(number))
        line["LineNum"] = number
    kept.append(
        {"Amount": cents(subtotal), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    )
    record["Line"] = kept
    record["TxnTaxDetail"] = {**(record.get("TxnTaxDetail") or {}), "TotalTax": cents(tax)}
    record["TotalAmt"] = cents(total)
    if total < 0:
        raise faults.business("Enter a transaction amount that is 0 or greater.")


def _us_tax(record: Record, taxable: Decimal, tax_rate: Callable[[Any], Decimal | None]) -> Decimal:
    """US companies without Automated Sales Tax: the caller's TotalTax override, else the
    rate of the transaction's tax code (`TxnTaxCodeRef`) on the lines marked TAX, else 0."""
    detail = record.get("TxnTaxDetail") or {}
    if detail.get("TotalTax") is not None:
        return amount(detail["TotalTax"], "TxnTaxDetail.TotalTax")
    code = (detail.get("TxnTaxCodeRef") or {}).get("value")
    if code is None:
        return ZERO
    rate = tax_rate(code)
    if rate is None:
        raise faults.invalid_reference("TxnTaxDetail.TxnTaxCodeRef")
    return taxable * rate / 100


def sum_lines(record: Record) -> Decimal:
    lines = record.get("Line") or []
    if not lines:
        raise faults.required("Line")
    return cents(sum((amount(line.get("Amount", 0), "Line.Amount") for line in lines), ZERO))


def journal_total(record: Record) -> Decimal:
    debits = credits = ZERO
    for line in record.get("Line") or []:
        posting = (line.get("JournalEntryLineDetail") or {}).get("PostingType")
        value = amount(line.get("Amount", 0), "Line.Amount")
        if posting == "Debit":
            debits += value
        elif posting == "Credit":
            credits += value
        else:
            raise faults.required("JournalEntryLineDetail.PostingType")
    if debits != credits:
        raise faults.business("Debits and credits must be equal.")
    if debits == 0:
        raise faults.required("Line")
    return cents(debits)


def payment_applications(
    record: Record, kinds: tuple[str, str] = ("Invoice", "CreditMemo")
) -> dict[str, tuple[str, Decimal]]:
    """What a payment applies: transaction id -> (type, amount). `kinds` are what it may
    pay and what it may use as a credit (a BillPayment's are Bill and VendorCredit)."""
    applied: dict[str, tuple[str, Decimal]] = {}
    for index, line in enumerate(record.get("Line") or []):
        links = line.get("LinkedTxn") or []
        if not links:
            continue
        link = links[0]
        kind = link.get("TxnType")
        if kind not in kinds:
            raise faults.Fault(
                "2170",
                "Invalid Enumeration",
                f"Invalid TxnType: {kind}",
                element=f"Line[{index}].LinkedTxn.TxnType",
            )
        value = amount(line.get("Amount"), f"Line[{index}].Amount")
        previous = applied.get(str(link.get("TxnId")), (kind, ZERO))[1]
        applied[str(link.get("TxnId"))] = (kind, previous + value)
    return applied


def unapplied(
    total: Decimal, applied: Mapping[str, tuple[str, Decimal]], owed: str = "Invoice"
) -> Decimal:
    used = sum((v if k == owed else -v for k, v in applied.values()), ZERO)
    left = total - used
    if left < 0:
        raise faults.business(
            f"The payment amount must be at least the amount applied to {owed.lower()}s, "
            "less credits."
        )
    return cents(left)
