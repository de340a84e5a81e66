"""QBO's own A/R per customer: the CustomerBalance report.

`reconcile` takes QBO's side from this report when the company answers it, so a difference
QBO's own report would show is never hidden by the engine's arithmetic over transactions.
A company (or an emulator) that does not serve reports answers with an error, and QBO's
side is then summed from its transactions. An answer that is a report but not one this
module can read is an error, never "no A/R".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.errors import ConnectorError, EngineError, FatalConnectorError

REPORT = "CustomerBalance"


class UnreadableReport(EngineError):
    def __init__(self, detail: str) -> None:
        super().__init__(
            f"QBO's {REPORT} report came back in a shape the engine cannot read: {detail}",
            hint="run `tpsqbo-engine reconcile --format json` again; if it persists, report it "
            "with the answer QBO gave",
        )


def customer_balances(qbo: QboClient, as_of: dt.date) -> dict[str, Decimal] | None:
    """Customer id -> open balance (net of credits) as QBO reports it as of `as_of`, or None
    when the company does not answer the report. Without a date QBO reports as of its today,
    leaving out what is dated later (a year-end entry, a postdated cheque) while the credits
    and TPS's side count every transaction: `as_of` is the latest date those cover."""
    # One attempt: a company without reports answers with an error every time, and
    # transactions are a sound second source, named in the output.
    patient, qbo.retry = qbo.retry, replace(qbo.retry, attempts=1)
    try:
        params = {"accounting_method": "Accrual", "report_date": as_of.isoformat()}
        body = qbo.call("GET", f"reports/{REPORT}", params=params)
    except FatalConnectorError:
        raise
    except ConnectorError:
        return None
    finally:
        qbo.retry = patient
    return parse_customer_balance(body)


def _rows(section: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    rows = section.get("Rows", {})
    if not isinstance(rows, Mapping):
        raise UnreadableReport("Rows is not an object")
    for row in rows.get("Row", []) or []:
        if not isinstance(row, Mapping):
            raise UnreadableReport("a row is not an object")
        if row.get("type") == "Section" or "Rows" in row:
            yield from _rows(row)  # customers with sub-customers
        elif "ColData" in row:
            yield row


def parse_customer_balance(body: Mapping[str, Any]) -> dict[str, Decimal]:
    if not isinstance(body.get("Header"), Mapping) or "Rows" not in body:
        raise UnreadableReport("no Header or no Rows")
    balances: dict[str, Decimal] = {}
    for row in _rows(body):
        cells = row["ColData"]
        if not isinstance(cells, list) or len(cells) < 2:
            raise UnreadableReport("a customer row without its balance")
        customer, amount = cells[0], cells[-1]
        if not isinstance(customer, Mapping) or not customer.get("id"):
            continue  # a total line names no customer
        try:
            value = Decimal(str(amount.get("value") or "0"))
        except (InvalidOperation, AttributeError):
            raise UnreadableReport(
                f"the balance of customer {customer['id']} is not a number"
            ) from None
        balances[str(customer["id"])] = balances.get(str(customer["id"]), Decimal(0)) + value
    return balances
