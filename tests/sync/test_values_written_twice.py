"""A value a mapping writes to two fields (an invoice line's `Amount` and `UnitPrice`, both
`line.amount | money`) is evaluated once when it calls no function: the second field gets
what the first wrote. Values that call functions, and values that can be changed, are
evaluated for each field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tpsqbo_engine.expr import RuleFunction, Scope, compile_value
from tpsqbo_engine.ruleset.model import FieldRule
from tpsqbo_engine.sync.applying import _apply_fields, compile_steps
from tpsqbo_engine.sync.filling import Fields


def _fields(**values: str) -> tuple[FieldRule, ...]:
    return tuple(
        FieldRule(path.replace("__", "."), compile_value(value, f"r:{n}"), True, f"r:{n}")
        for n, (path, value) in enumerate(values.items())
    )


def _applied(fields: tuple[FieldRule, ...], record: dict[str, Any], **names: Any) -> Any:
    scope = Scope(names, record=record, fields=Fields(None), fill=lambda: dict(record))
    return _apply_fields(compile_steps(fields), scope)


@pytest.mark.parametrize(
    ("source", "reads_only"),
    [
        ("{{ amount | money }}", True),
        ("TPS client {{ code }} ({{ office | upper }})", True),
        ("{{ f(amount) }}", False),
        ("{{ (f(amount) | money) if amount else 0 }}", False),
        ("text {{ f(code) }}", False),
        ("plain text", False),  # a literal: made once for every record anyway
    ],
)
def test_what_calls_no_function_is_known_when_compiled(source: str, reads_only: bool) -> None:
    assert compile_value(source, "r:1").reads_only is reads_only


def test_a_value_written_twice_is_evaluated_once() -> None:
    fields = _fields(
        Amount="{{ amount | money }}",
        Detail__Qty="1",
        Detail__UnitPrice="{{ amount | money }}",
        Memo="{{ memo }}",
        Detail__Memo="{{ memo }}",
    )
    steps = compile_steps(fields)
    assert [(s.keep_at, s.same_as) for s in steps] == [(0, -1), (-1, -1), (-1, 0), (3, -1), (-1, 3)]
    out = _applied(fields, {"amount": "12.345", "memo": None})
    assert out == {
        "Amount": Decimal("12.35"),
        "Detail": {"Qty": "1", "UnitPrice": Decimal("12.35")},
    }
    assert out["Detail"]["UnitPrice"] is out["Amount"]  # the very value, not made again
    assert list(out["Detail"]) == ["Qty", "UnitPrice"]  # each field where its rule puts it


def test_values_calling_functions_are_evaluated_for_each_field() -> None:
    calls: list[Any] = []
    counted = RuleFunction(lambda value: calls.append(value) or f"n{len(calls)}")
    fields = _fields(First="{{ f(code) }}", Second="{{ f(code) }}")
    assert [(s.keep_at, s.same_as) for s in compile_steps(fields)] == [(-1, -1), (-1, -1)]
    assert _applied(fields, {"code": "A"}, f=counted) == {"First": "n1", "Second": "n2"}


def test_a_value_that_can_be_changed_is_made_for_each_field() -> None:
    fields = _fields(Codes="{{ [code, office] }}", Again="{{ [code, office] }}")
    out = _applied(fields, {"code": "OAK01", "office": "North"})
    assert out["Codes"] == out["Again"] == ["OAK01", "North"]
    assert out["Codes"] is not out["Again"]  # a list each: changing one leaves the other


def test_a_failing_value_written_twice_fails_at_the_first_field() -> None:
    from tpsqbo_engine.expr import ExpressionError

    fields = _fields(Amount="{{ amount | money }}", UnitPrice="{{ amount | money }}")
    with pytest.raises(ExpressionError, match="r:0"):
        _applied(fields, {"amount": "n/a"})
