"""An amount typed as Python writes numbers ("1_000") or with digits other than 0-9
(Arabic-Indic, full-width) is refused, with what was found and what to write, by the one reader of
typed money: the sheets, the rules' `money` and `decimal` filters and the TPS API. Decimal()
alone reads all of them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tpsqbo_engine.amounts import NotAnAmount, read_amount
from tpsqbo_engine.connectors.tps import sheetreading
from tpsqbo_engine.connectors.tps.client import TpsClient
from tpsqbo_engine.connectors.tps.sheetreading import FileBridgeError
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer
from tpsqbo_engine.filters import ExpressionError, money, to_decimal

UNDERSCORES = ["1_000", "1_000.00", "-1_250.5", "_1", "1_", "1_0.5"]
OTHER_DIGITS = [
    "\u0661\u0662\u0663",  # Arabic-Indic 123
    "\u06f1\u06f2\u06f3.\u06f5\u06f0",  # Extended Arabic-Indic (Persian) 123.50
    "\uff11\uff12\uff13",  # full-width 123
    "\uff11,\uff12\uff15\uff10.\uff10\uff10",  # full-width 1,250.00
    "12\u0663.50",  # one odd digit among 0-9
    "\u0967\u0968",  # Devanagari १२
]
PEOPLE_TYPE = [
    ("1250.00", "1250.00"),
    ("1,250.00", "1250.00"),
    (" -3.10 ", "-3.10"),
    ("\u00a012.50\u00a0", "12.50"),  # a no-break space copied from a web page
    (".5", "0.5"),
]


@pytest.mark.parametrize("text", UNDERSCORES)
def test_an_underscore_in_an_amount_is_a_typo_said_so(text: str) -> None:
    assert Decimal(text.strip("_") if text.endswith("_") else text)  # Decimal() would read it
    with pytest.raises(NotAnAmount) as refused:
        read_amount(text)
    assert refused.value.why.startswith("expected an amount like 1250.00 or 1,250.00")
    assert "underscore (1_000)" in refused.value.why
    assert refused.value.why.endswith("write 1000 or 1,000")


@pytest.mark.parametrize("text", OTHER_DIGITS)
def test_digits_other_than_0_to_9_are_refused_with_what_to_write(text: str) -> None:
    with pytest.raises(NotAnAmount) as refused:
        read_amount(text)
    assert refused.value.why.startswith("expected an amount like 1250.00 or 1,250.00")
    assert "digits other than 0-9" in refused.value.why
    assert refused.value.why.endswith("write the amount with the digits 0 to 9")


def test_decimal_alone_reads_those_digits() -> None:
    """What the refusal stops: Decimal() takes them as the amount they look like."""
    assert Decimal("\u0661\u0662\u0663") == Decimal("\uff11\uff12\uff13") == Decimal(123)
    assert Decimal("1_000") == Decimal(1000)


@pytest.mark.parametrize(("text", "amount"), PEOPLE_TYPE)
def test_what_people_type_still_reads(text: str, amount: str) -> None:
    assert str(read_amount(text)) == amount


@pytest.mark.parametrize("text", UNDERSCORES + OTHER_DIGITS)
def test_the_money_and_decimal_filters_refuse_them(text: str) -> None:
    for read in (money, to_decimal):
        with pytest.raises(ExpressionError, match=r"underscore|digits other than 0-9"):
            read(text)


# The sheets ---------------------------------------------------------------------------------
PAYMENTS = "Client Code,Date,Amount,Method,Reference,Applied To,Description,Bank Account\n"


@pytest.mark.parametrize("amount", ["1_000.00", "$1_000", "\uff11\uff12\uff10.\uff15\uff10"])
def test_a_sheet_amount_typed_so_is_located(tmp_path: Path, amount: str) -> None:
    sheet = tmp_path / "payments.csv"
    sheet.write_text(
        PAYMENTS + f'A1,2026-10-05,"{amount}",cheque,CHQ1,"HP-1001={amount}",,\n',
        encoding="utf-8",
    )
    with pytest.raises(FileBridgeError) as failure:
        sheetreading.read_payments(sheet)
    assert "nothing was imported" in failure.value.message
    amount_cell, applied = failure.value.problems
    assert (amount_cell.line, amount_cell.column, applied.line, applied.column) == (2, 3, 2, 6)
    assert amount_cell.message.startswith("Amount: expected an amount like 1250.00")
    assert "write 1000 or 1,000" in amount_cell.message or "digits 0 to 9" in amount_cell.message
    assert "Applied To" in applied.message


def test_whole_numbers_of_a_sheet_are_0_to_9_too(tmp_path: Path) -> None:
    """Work IDs and parents are whole numbers; int() would read Arabic-Indic 12 as 12."""
    sheet = tmp_path / "work-codes.csv"
    sheet.write_text(
        "Work ID,Work Type,Parent,Type,Rate Level,Work Code,Name,Tax1,Tax2,Tax3\n"
        "\u0661\u0662,TYPE,,CHARGEABLE,,AUD,Audit,FALSE,FALSE,FALSE\n",
        encoding="utf-8",
    )
    with pytest.raises(FileBridgeError) as failure:
        sheetreading.read_work_codes(sheet)
    [problem] = failure.value.problems
    assert (problem.line, problem.column) == (2, 1)
    assert "expected a whole number" in problem.message


# The TPS API --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sent", "why"), [("1_000.00", "underscore"), ("\uff11\uff10.00", "digits other than 0-9")]
)
def test_money_tps_sends_typed_so_is_kept_unreadable_with_where(
    tps_server: TpsEmulatorServer, tps: TpsClient, sent: str, why: str
) -> None:
    tps_server.firm.table("invoices")["inv-1002"]["lines"][0]["amount"] = sent
    read = tps.get("invoices", "inv-1002")
    [kept] = read["lines"][0]["amount"].values()
    assert kept.startswith("TPS sent invoices inv-1002 whose lines[0].amount is not money")
    assert why in kept
    with pytest.raises(ExpressionError, match=why):
        money(read["lines"][0]["amount"])
