"""Amounts are read exactly or refused with where and why: a decimal comma ("12,50" is not
1250), NaN, Infinity or an exponent, in the sheets, the rules' filters and the TPS API."""

from __future__ import annotations

import json
import random
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from markupsafe import Markup

from tpsqbo_engine import amounts
from tpsqbo_engine.amounts import NotAnAmount, in_cents, read_amount, unreadable
from tpsqbo_engine.connectors.tps import sheetreading
from tpsqbo_engine.connectors.tps.client import (
    TpsClient,
    TpsRejected,
    TpsRetriableError,
)
from tpsqbo_engine.connectors.tps.sheetreading import FileBridgeError
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer
from tpsqbo_engine.filters import ExpressionError, money, to_decimal

from .conftest import FAST

PAYMENTS = "Client Code,Date,Amount,Method,Reference,Applied To,Description,Bank Account\n"
DECIMAL_COMMAS = ["12,50", "1.250,00", "1,25", "-0,5", "1.250.000,00"]
NOT_AMOUNTS = ["NaN", "-Infinity", "inf", "sNaN", "1e3", "1.5E+2", "1,2345", "12 50", "1.2.3"]


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("1250.00", "1250.00"),
        ("1,250.00", "1250.00"),
        ("1,250,000.5", "1250000.5"),
        ("12,500", "12500"),
        (" -3.10 ", "-3.10"),
        (".5", "0.5"),
    ],
)
def test_a_point_separates_decimals_and_a_comma_only_thousands(text: str, amount: str) -> None:
    assert read_amount(text) == Decimal(amount)
    assert str(read_amount(text)) == amount


@pytest.mark.parametrize("text", DECIMAL_COMMAS + NOT_AMOUNTS)
def test_anything_else_is_refused_with_what_to_write(text: str) -> None:
    with pytest.raises(NotAnAmount, match=r"expected an amount like 1250\.00") as refused:
        read_amount(text)
    with pytest.raises(NotAnAmount) as other:  # the same shape, other digits
        read_amount(re.sub(r"[0-9]", "7", text))
    assert refused.value.why == other.value.why  # says why without repeating the data


@pytest.mark.parametrize("text", DECIMAL_COMMAS)
def test_a_decimal_comma_is_named_as_such(text: str) -> None:
    with pytest.raises(NotAnAmount, match=r"decimal comma.*write 12\.50, not 12,50"):
        read_amount(text)


def test_the_quick_way_reads_exactly_what_the_pattern_allows() -> None:
    """read_amount tries Decimal() first; it must agree with the pattern on every text."""
    pattern = amounts._AMOUNT
    alphabet = "0123456789.,-+_eE naNIf\u00a0\u0661\t"
    chosen = random.Random(20261127)
    for _ in range(20_000):
        text = "".join(chosen.choice(alphabet) for _ in range(chosen.randint(0, 8)))
        plain = text.strip()
        expected = Decimal(plain.replace(",", "")) if pattern.fullmatch(plain) else None
        try:
            read: Decimal | None = read_amount(text)
        except NotAnAmount:
            read = None
        assert str(read) == str(expected), repr(text)


def test_in_cents_means_finite_with_two_places_as_written() -> None:
    assert in_cents(Decimal("1250.00")) and in_cents(Decimal("5")) and in_cents(Decimal("0.5"))
    for amount in ("1.250", "1250.001", "NaN", "Infinity", "-Infinity"):
        assert not in_cents(Decimal(amount)), amount


# The sheets ---------------------------------------------------------------------------------
def _payments(tmp_path: Path, amount: str, applied: str = "") -> Path:
    sheet = tmp_path / "payments.csv"
    sheet.write_text(
        PAYMENTS + f'A1,2026-10-05,"{amount}",cheque,CHQ1,"{applied}",,\n', encoding="utf-8"
    )
    return sheet


@pytest.mark.parametrize("amount", [*DECIMAL_COMMAS, "NaN", "1e3", "1.250", "12.345"])
def test_a_sheet_amount_not_written_with_a_decimal_point_is_located(
    tmp_path: Path, amount: str
) -> None:
    with pytest.raises(FileBridgeError) as failure:
        sheetreading.read_payments(_payments(tmp_path, amount))
    [problem] = failure.value.problems
    assert (problem.file.endswith("payments.csv"), problem.line, problem.column) == (True, 2, 3)
    assert problem.message.startswith("Amount: expected")
    assert "nothing was imported" in failure.value.message


def test_a_decimal_comma_in_applied_to_is_located(tmp_path: Path) -> None:
    with pytest.raises(FileBridgeError) as failure:
        sheetreading.read_payments(_payments(tmp_path, "100.00", "HP-1001=12,50"))
    [problem] = failure.value.problems
    assert (problem.line, problem.column) == (2, 6)
    assert "Applied To" in problem.message and "decimal comma" in problem.message


def test_applications_separated_by_commas_are_refused_not_misread(tmp_path: Path) -> None:
    with pytest.raises(FileBridgeError) as failure:
        sheetreading.read_payments(_payments(tmp_path, "150.00", "HP-1=1,000.00, HP-2=50.00"))
    [problem] = failure.value.problems
    assert (problem.line, problem.column) == (2, 6)
    assert problem.message.endswith("separated by semicolons")


@pytest.mark.parametrize(
    ("cell", "read"),
    [("1,250.00", "1250.00"), ("$1,250.00", "1250.00"), ("-$5", "-5.00"), ("12.5 $", "12.50")],
)
def test_thousands_commas_and_dollar_signs_still_read(tmp_path: Path, cell: str, read: str) -> None:
    [payment] = sheetreading.read_payments(_payments(tmp_path, cell, f"HP-1001={cell}"))
    assert payment["amount"] == read
    assert payment["applications"] == [{"invoice_id": "HP-1001", "amount": read}]


def test_an_xlsx_number_reads_and_decimal_comma_text_is_refused(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    book.worksheets[0].append(PAYMENTS.strip().split(","))
    book.worksheets[0].append(["A1", "2026-10-05", 12.5, "cheque", "CHQ1"])
    book.worksheets[0].append(["A1", "2026-10-06", "12,50", "cheque", "CHQ2"])
    book.save(tmp_path / "payments.xlsx")
    with pytest.raises(FileBridgeError) as failure:
        sheetreading.read_payments(tmp_path / "payments.xlsx")
    assert [(p.line, p.column) for p in failure.value.problems] == [(3, 3)]
    book.worksheets[0].delete_rows(3)
    book.save(tmp_path / "payments.xlsx")
    [payment] = sheetreading.read_payments(tmp_path / "payments.xlsx")
    assert payment["amount"] == "12.50"


def test_every_bad_amount_of_an_invoice_sheet_is_reported(tmp_path: Path) -> None:
    sheet = tmp_path / "invoices.csv"
    sheet.write_text(
        "Client Code,Invoice Number,Amount,Taxes,Date,Description\n"
        'A1,HP-1,"1,250.00",0.00,2026-10-01,\n'
        'A1,HP-2,"12,50",0.00,2026-10-01,\n'
        "A1,HP-3,100.00,NaN,2026-10-01,\n",
        encoding="utf-8",
    )
    with pytest.raises(FileBridgeError) as failure:
        sheetreading.read_invoices(sheet)
    assert [(p.line, p.column) for p in failure.value.problems] == [(3, 3), (4, 4)]


# The rules' filters -------------------------------------------------------------------------
@pytest.mark.parametrize("text", DECIMAL_COMMAS + NOT_AMOUNTS)
def test_the_money_and_decimal_filters_refuse_what_is_not_an_amount(text: str) -> None:
    for read in (money, to_decimal):
        with pytest.raises(ExpressionError, match=r"expected an amount like 1250\.00"):
            read(text)


def test_the_filters_still_read_thousands_and_refuse_non_finite_numbers() -> None:
    assert to_decimal("1,250.00") == Decimal("1250.00") == money("1,250.00")
    assert to_decimal(Markup("1,250.00")) == Decimal("1250.00")  # what autoescaping gives
    with pytest.raises(ExpressionError, match="decimal comma"):
        to_decimal(Markup("12,50"))
    for value in (Decimal("NaN"), Decimal("-Infinity"), float("nan"), float("inf")):
        for read in (money, to_decimal):
            with pytest.raises(ExpressionError, match=r"NaN or Infinity"):
                read(value)


def test_the_filters_give_the_reason_a_reader_kept_with_an_unreadable_amount() -> None:
    kept = unreadable("TPS sent invoices inv-9 whose total is not money: why")
    for read in (money, to_decimal):
        with pytest.raises(ExpressionError, match=r"^TPS sent invoices inv-9 whose total"):
            read(kept)


# The TPS API --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sent", "why"),
    [
        ("NaN", "NaN or Infinity"),
        ("Infinity", "NaN or Infinity"),
        ("1e3", "exponent"),
        ("12,50", "decimal comma"),
        ("1.250", "at most two decimals"),
        (True, "got true or false"),
        ({"value": "1.00"}, "got an object"),
    ],
)
def test_money_tps_sends_that_is_not_money_is_kept_unreadable_with_where(
    tps_server: TpsEmulatorServer, tps: TpsClient, sent: Any, why: str
) -> None:
    invoice = tps_server.firm.table("invoices")["inv-1002"]
    invoice["lines"][0]["amount"] = sent
    read = tps.get("invoices", "inv-1002")
    [kept] = read["lines"][0]["amount"].values()
    assert kept.startswith("TPS sent invoices inv-1002 whose lines[0].amount is not money")
    assert why in kept and kept.endswith("correct it in TPS")
    assert isinstance(read["total"], Decimal) and isinstance(read["tax_total"], Decimal)
    with pytest.raises(ExpressionError, match=r"inv-1002 whose lines\[0\]\.amount"):
        money(read["lines"][0]["amount"])
    # Listed, the record comes with the others (it fails alone, in the rules reading it).
    listed = {r["id"]: r for r in tps.records("invoices")}
    assert listed["inv-1002"]["lines"][0]["amount"] == read["lines"][0]["amount"]
    assert all(isinstance(r["total"], Decimal) for r in listed.values())


@pytest.mark.parametrize(("sent", "read"), [("1,250.00", "1250.00"), (12.5, "12.5"), (7, "7")])
def test_money_tps_sends_exactly_is_read(
    tps_server: TpsEmulatorServer, tps: TpsClient, sent: Any, read: str
) -> None:
    tps_server.firm.table("invoices")["inv-1002"]["lines"][0]["amount"] = sent
    amount = tps.get("invoices", "inv-1002")["lines"][0]["amount"]
    assert isinstance(amount, Decimal) and str(amount) == read


def test_money_that_is_not_an_amount_is_not_written_to_tps(
    tps_server: TpsEmulatorServer, tps: TpsClient
) -> None:
    before = tps.calls
    with pytest.raises(
        TpsRejected, match=r"amount of payments pay-1001 for TPS is NaN or Infinity, not money"
    ):
        tps.update("payments", "pay-1001", {"amount": Decimal("NaN")}, version=1)
    with pytest.raises(TpsRejected, match=r"^TPS sent invoices x"):
        tps.create("payments", {"amount": unreadable("TPS sent invoices x")}, key="k")
    assert tps.calls == before  # refused before any request


# Answers that are not the record asked for ------------------------------------------------------
class _Answering(requests.Session):
    """A TPS that answers every request with `body` and `status`."""

    def __init__(self, body: Any, status: int = 200) -> None:
        super().__init__()
        self.body, self.status, self.sent = body, status, 0

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        self.sent += 1
        response = requests.Response()
        response.status_code = self.status
        response._content = json.dumps(self.body).encode()
        response.headers["Content-Type"] = "application/json"
        return response


def _client(body: Any, status: int = 200) -> tuple[TpsClient, _Answering]:
    session = _Answering(body, status)
    return TpsClient("http://127.0.0.1:9", "token", retry=FAST, session=session), session


@pytest.mark.parametrize(
    "body", [{"status": "queued"}, {"id": ""}, {"id": 42}, {"data": [{"id": "inv-1"}]}]
)
def test_a_create_answered_without_a_record_is_an_error_for_that_write(body: Any) -> None:
    client, _ = _client(body, 201)
    with pytest.raises(TpsRetriableError, match=r"a new invoices record with no record id"):
        client.create("invoices", {"doc_number": "Q-77"}, key="intent-1")


def test_a_get_or_update_answered_with_another_record_is_an_error() -> None:
    client, _ = _client({"id": "inv-2", "version": 3, "total": "1.00"})
    with pytest.raises(TpsRetriableError, match=r"invoices inv-1 with another record \(invoices"):
        client.get("invoices", "inv-1")
    with pytest.raises(TpsRetriableError, match=r"another record"):
        client.update("invoices", "inv-1", {"status": "void"}, version=2)


def test_a_listed_record_without_an_id_is_an_error_not_a_record() -> None:
    client, _ = _client({"data": [{"id": "c-1"}, {"name": "no id"}]})
    with pytest.raises(TpsRetriableError, match=r"the clients list with no record id"):
        list(client.records("clients"))
