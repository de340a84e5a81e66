"""`GET /reports/<name>`: QBO's report JSON (Header, Columns, Rows with Summary) computed
from the company's transactions through the ledger, honouring the common parameters.

Amounts are Decimal to the end and written as QBO writes them, as text with two decimals.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from tpsqbo_engine.emulators.qbo.company import Company
from tpsqbo_engine.emulators.qbo.faults import Fault, now_text
from tpsqbo_engine.emulators.qbo.money import ZERO

Record = dict[str, Any]
METHODS = ("Accrual", "Cash")


def invalid(name: str, detail: str) -> Fault:
    return Fault("2010", "Request has invalid or unsupported property", detail, element=name)


@dataclass(frozen=True)
class Params:
    start: date
    end: date
    report_date: date
    method: str
    customers: frozenset[str]
    macro: str | None
    today: date
    fiscal_month: int  # the first month of the company's fiscal year

    @property
    def cash(self) -> bool:
        return self.method == "Cash"


def _parse_date(args: Mapping[str, str], name: str) -> date | None:
    text = args.get(name)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise invalid(name, f"{name} must be a date as YYYY-MM-DD, not {text!r}") from None


def fiscal_start(today: date, first_month: int) -> date:
    year = today.year if today.month >= first_month else today.year - 1
    return date(year, first_month, 1)


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _shift(start: date, unit: tuple[int, int], n: int) -> date:
    """The start of the period `n` periods after the one starting at `start`."""
    months, days = unit
    return _add_months(start, n * months) if months else start + timedelta(days=n * days)


def _spans(today: date, first_month: int) -> dict[str, tuple[date, tuple[int, int]]]:
    """Each period kind: the start of the current one and its length (months, days)."""
    fiscal = fiscal_start(today, first_month)
    into = (today.year * 12 + today.month) - (fiscal.year * 12 + fiscal.month)
    return {
        "week": (today - timedelta(days=(today.weekday() + 1) % 7), (0, 7)),  # from Sunday
        "month": (today.replace(day=1), (1, 0)),
        "fiscalquarter": (_add_months(fiscal, into // 3 * 3), (3, 0)),
        "fiscalyear": (fiscal, (12, 0)),
        "calendaryear": (date(today.year, 1, 1), (12, 0)),
        "year": (date(today.year, 1, 1), (12, 0)),
    }


def macro_period(macro: str, today: date, first_month: int) -> tuple[date, date]:
    """The dates a `date_macro` names, as QBO reads it (case, spaces and dashes do not
    matter): Today, Yesterday, and This/Last/Next Week, Month, Fiscal Quarter, Fiscal Year,
    Calendar Year, each also `-to-date` (This and Last), and Next 4 Weeks."""
    key = macro.lower().replace(" ", "").replace("-", "")
    periods = {"today": (today, today), "yesterday": (today - timedelta(days=1),) * 2}
    for name, (start, unit) in _spans(today, first_month).items():
        last, following = _shift(start, unit, -1), _shift(start, unit, 1)
        periods[f"this{name}"] = (start, following - timedelta(days=1))
        periods[f"this{name}todate"] = (start, today)
        periods[f"last{name}"] = (last, start - timedelta(days=1))
        periods[f"last{name}todate"] = (
            last,
            min(last + (today - start), start - timedelta(days=1)),
        )
        periods[f"next{name}"] = (following, _shift(following, unit, 1) - timedelta(days=1))
    week = _spans(today, first_month)["week"][0] + timedelta(days=7)
    periods["next4weeks"] = (week, week + timedelta(days=27))
    if key not in periods:
        raise invalid("date_macro", f"date_macro {macro!r} is not one QBO knows")
    return periods[key]


def parse_params(company: Company, args: Mapping[str, str]) -> Params:
    today = date.fromisoformat(company.timestamp()[:10])
    months = list(calendar.month_name)
    info = company.singleton("CompanyInfo")
    first = months.index(info.get("FiscalYearStartMonth", "January")) or 1
    start, end = fiscal_start(today, first), today  # QBO's default: this fiscal year to date
    macro = args.get("date_macro")
    if macro:
        start, end = macro_period(macro, today, first)
    start = _parse_date(args, "start_date") or start
    end = _parse_date(args, "end_date") or end
    if start > end:
        raise invalid("start_date", "start_date is after end_date")
    method = args.get("accounting_method", "Accrual")
    if method not in METHODS:
        raise invalid("accounting_method", "accounting_method must be Accrual or Cash")
    customers = frozenset(c.strip() for c in args.get("customer", "").split(",") if c.strip())
    report_date = _parse_date(args, "report_date") or _parse_date(args, "end_date") or today
    return Params(start, end, report_date, method, customers, macro, today, first)


# The report JSON -----------------------------------------------------------------------
def money(value: Decimal) -> str:
    return f"{value.copy_abs() if value == 0 else value:.2f}"  # never "-0.00"


def cols(*values: Any, ids: Mapping[int, str] | None = None) -> list[Record]:
    out = []
    for index, value in enumerate(values):
        cell: Record = {"value": money(value) if isinstance(value, Decimal) else str(value)}
        if ids and index in ids:
            cell["id"] = ids[index]
        out.append(cell)
    return out


def data_row(*values: Any, ids: Mapping[int, str] | None = None) -> Record:
    return {"ColData": cols(*values, ids=ids), "type": "Data"}


def section(
    title: str, rows: list[Record], summary: list[Any] | None, group: str | None = None
) -> Record:
    found: Record = {"Header": {"ColData": cols(title, *[""] * (len(summary or [""]) - 1))}}
    found["Rows"] = {"Row": rows}
    if summary is not None:
        found["Summary"] = {"ColData": cols(*summary)}
    found["type"] = "Section"
    if group:
        found["group"] = group
    return found


def summary_only(values: list[Any], group: str) -> Record:
    return {"Summary": {"ColData": cols(*values)}, "type": "Section", "group": group}


def columns(*spec: tuple[str, str]) -> Record:
    return {
        "Column": [
            {"ColTitle": title, "ColType": kind, "MetaData": [{"Name": "ColKey", "Value": key}]}
            for key, (title, kind) in ((_key(t), (t, k)) for t, k in spec)
        ]
    }


def _key(title: str) -> str:
    return title.lower().replace(" ", "_").replace("/", "_") or "name"


def header(company: Company, name: str, params: Params, *, as_of: bool, empty: bool) -> Record:
    prefs = company.singleton("Preferences").get("CurrencyPrefs", {})
    currency = (prefs.get("HomeCurrency") or {}).get("value", "USD")
    found: Record = {
        "Time": now_text(),
        "ReportName": name,
        "ReportBasis": params.method,
        "StartPeriod": (params.report_date if as_of else params.start).isoformat(),
        "EndPeriod": (params.report_date if as_of else params.end).isoformat(),
        "SummarizeColumnsBy": "Total",
        "Currency": currency,
        "Option": [
            {"Name": "AccountingStandard", "Value": "GAAP"},
            {"Name": "NoReportData", "Value": "true" if empty else "false"},
        ],
    }
    if params.macro:
        found["DateMacro"] = params.macro.lower()
    if as_of:
        found["Option"].insert(0, {"Name": "report_date", "Value": params.report_date.isoformat()})
    if params.customers:
        found["Customer"] = ",".join(sorted(params.customers))
    return found


ReportFn = Callable[[Company, Params], Record]


def run(company: Company, name: str, args: Mapping[str, str]) -> Record:
    from tpsqbo_engine.emulators.qbo import books, receivables

    reports: dict[str, ReportFn] = {**receivables.REPORTS, **books.REPORTS}
    report = next((fn for key, fn in reports.items() if key.lower() == name.lower()), None)
    if report is None:
        raise Fault(
            "2010",
            "Request has invalid or unsupported property",
            f"Report {name} is not supported; the emulator serves {', '.join(sorted(reports))}",
            element="reportName",
        )
    with company.lock:
        params = parse_params(company, args)
        return report(company, params)


def total(values: list[Decimal]) -> Decimal:
    return sum(values, ZERO)
