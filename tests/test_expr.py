"""Rule expressions at run time: native values, the sandbox, and errors that leak nothing."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from tpsqbo_engine.expr import (
    ExpressionError,
    compile_value,
    merge_by,
    money,
    normalize_name,
    qbo_display_name,
    single_expression,
)
from tpsqbo_engine.filters import to_decimal

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ self.__init__.__globals__ }}",
    "{{ lipsum.__globals__ }}",
    "{{ name.__class__.__base__.__subclasses__() }}",
    "{{ name.upper() }}",
    "{{ 9 ** 9 ** 9 }}",
    "{{ 'x' * 100000000 }}",
    "{{ range(10) | list }}",
    "{% for x in namespace() %}{% endfor %}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_sandbox_escapes_never_run(source: str) -> None:
    value = compile_value(source, "rules.yaml:3")
    with pytest.raises(ExpressionError) as failure:
        value.evaluate({"name": "Acme"})
    assert "rules.yaml:3" in str(failure.value)


def test_single_expression_returns_native_values() -> None:
    value = compile_value("{{ amount | money }}", "here")
    assert value.evaluate({"amount": "12.345"}) == Decimal("12.35")
    flag = compile_value("{{ tax1 or tax2 }}", "here")
    assert flag.evaluate({"tax1": False, "tax2": True}) is True


def test_text_templates_render_strings_and_literals_stay_literal() -> None:
    assert (
        compile_value("TPS client {{ code }}", "here").evaluate({"code": "A1"}) == "TPS client A1"
    )
    assert compile_value(1, "here").evaluate({}) == 1
    assert compile_value("Service", "here").evaluate({}) == "Service"


def test_an_undefined_result_is_an_error_not_an_empty_value() -> None:
    with pytest.raises(ExpressionError, match="has no value"):
        compile_value("{{ nmae }}", "here").evaluate({"name": "x"})


def test_errors_never_quote_record_values() -> None:
    secret = "s3cr3t-token-value"
    failing = ["{{ token | int + name }}", "{{ token | money }}", "{{ token.missing.deeper }}"]
    for source in failing:
        with pytest.raises(ExpressionError) as failure:
            compile_value(source, "here").evaluate({"token": secret, "name": secret})
        assert secret not in str(failure.value)


def test_single_expression_detection() -> None:
    assert single_expression("{{ name }}") == "name"
    assert single_expression("  {{ a | b }} ") == "a | b"
    assert single_expression("x {{ name }}") is None
    assert single_expression("{{ a }}{{ b }}") is None


def test_money_rounds_half_up_to_cents() -> None:
    assert money("2.675") == Decimal("2.68")
    assert money(Decimal("-0.005")) == Decimal("-0.01")
    with pytest.raises(ExpressionError):
        money(None)


@pytest.mark.parametrize("text", [" 1.5 ", "\t2.345\n", "1,250.005", "\u00a012.5\u2003", "-0"])
def test_amount_text_reads_as_its_spaces_and_commas_taken_out(text: str) -> None:
    expected = Decimal(text.strip().replace(",", ""))
    assert to_decimal(text) == expected
    assert money(text) == expected.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@pytest.mark.parametrize("text", ["", "twelve", "1.2.3", "12 50", "1,2,3.x"])
def test_text_that_is_not_an_amount_is_refused(text: str) -> None:
    for read in (money, to_decimal):
        with pytest.raises(ExpressionError, match="not a number"):
            read(text)


def test_normalize_name_matches_what_people_consider_the_same() -> None:
    assert normalize_name("ABC, Inc.") == normalize_name("abc inc") == "abc"
    assert normalize_name("Côté & Fils Ltée") == normalize_name("cote and fils ltee")
    assert normalize_name("Abbott & O'Neil LLP") == "abbott and o neil"


def test_qbo_display_name_respects_qbo_limits() -> None:
    assert qbo_display_name("Smith: Holdings\tInc") == "Smith Holdings Inc"
    assert len(qbo_display_name("x" * 600)) == 500


def test_merge_by_sums_amounts_per_key() -> None:
    lines = [
        {"work_code": "TAX", "amount": "100.00", "description": "Return"},
        {"work_code": "BK", "amount": "50.00", "description": None},
        {"work_code": "TAX", "amount": "25.50", "description": "Schedules"},
    ]
    merged = merge_by(lines, "work_code")
    assert [(m["work_code"], Decimal(m["amount"])) for m in merged] == [
        ("TAX", Decimal("125.50")),
        ("BK", Decimal("50.00")),
    ]
    assert merged[0]["description"] == "Return; Schedules"
