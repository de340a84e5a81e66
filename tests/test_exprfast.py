"""The compiled ways of evaluating a rule value (a plain path read directly, closures doing
Jinja's operations) give exactly what Jinja's own code gives: the same value of the same
type, or the same error."""

from __future__ import annotations

import contextvars
import dataclasses
import gc
import hashlib
import json
import shutil
import threading
import weakref
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tpsqbo_engine import budget
from tpsqbo_engine.emulators.tps.seed import seeded_firm
from tpsqbo_engine.expr import CompiledValue, ExpressionError, RuleFunction, Scope, compile_value
from tpsqbo_engine.resources import rules_dir
from tpsqbo_engine.ruleset.model import FieldRule, RuleSet, load_ruleset
from tpsqbo_engine.sync import applying
from tpsqbo_engine.sync.hashing import _canonical, content_hash
from tpsqbo_engine.sync.links import Links
from tpsqbo_engine.sync.plan_input import PlanInput
from tpsqbo_engine.sync.planner import Planner
from tpsqbo_engine.sync.runtime import Resolver
from tpsqbo_engine.sync.snapshot import TPS_RESOURCES, Snapshot

ROOT = Path(__file__).parent.parent


def _stop(*_args: Any) -> Any:
    raise StopIteration


SCOPES: list[dict[str, Any]] = [
    {
        "name": "Acme: Co",
        "code": "A1",
        "amount": Decimal("12.345"),
        "count": 3,
        "none": None,
        "items": {"items": "key, not method", "x": 1},
        "address": {"line1": "1 Main", "city": None, "nested": {"deep": "d"}},
        "lines": [{"work_code": "W1", "amount": "2.50"}, {"work_code": "W1", "amount": "1"}],
        "flag": True,
        "text": "  spaced  ",
        "pick": RuleFunction(lambda table, key, default=None: f"{table}:{key}:{default}"),
        "stop": RuleFunction(_stop),
        "fail": RuleFunction(lambda: 1 / 0),
        "wrap": RuleFunction(lambda value: [value]),
        "price": "  1,234.5 ",
        "zero": Decimal("0.00"),
        "status": "void",
    },
    {"name": None, "address": None, "lines": [], "amount": "not a number", "count": "3"},
    {"name": 7, "address": "a text, not a record", "lines": None, "flag": 0, "price": 3},
    {"name": "", "count": True, "amount": 2.5, "price": None, "zero": 0, "status": " void"},
    {"lines": [], "wrap": RuleFunction(lambda value: [value]), "pick": RuleFunction(str)},
    {"name": "  Two  Spaces ", "amount": Decimal("-0.005"), "price": "", "flag": "yes"},
    {},
]
EXPRESSIONS = [
    "{{ name }}",
    "{{ address.line1 }}",
    "{{ address.city }}",
    "{{ address.nested.deep }}",
    "{{ address['line1'] }}",
    "{{ items.items }}",
    "{{ items['items'] }}",
    "{{ items.x }}",
    "{{ missing }}",
    "{{ missing.deeper }}",
    "{{ name[:3] }}",
    "{{ name[1:] ~ '|' ~ code }}",
    "{{ amount | money }}",
    "{{ amount | decimal > 10 }}",
    "{{ (amount | money) * 2 }}",
    "{{ count + 1 }}",
    "{{ count - 1 }}",
    "{{ count / 2 }}",
    "{{ count // 2 }}",
    "{{ count % 2 }}",
    "{{ count ** 2 }}",
    "{{ -count }}",  # a sign on a text said readably both ways (operatorfail.SIGNS)
    "{{ name * 3 }}",
    "{{ name * 100000 }}",
    "{{ 'ab' ~ 'cd' }}",
    "{{ [1, 2] }}",
    "{{ (1, 'a') }}",
    "{{ {'TxnId': code, 'TxnType': 'Invoice'} }}",
    "{{ [{'value': code}] }}",
    "{{ ([[count] * 100] * 100) | length }}",
    "{{ [[[count] * 100] * 100] * 11 }}",
    "{{ [lines, lines] | length }}",
    "{{ name if flag else code }}",
    "{{ name if flag }}",
    "{{ flag and name }}",
    "{{ none or code }}",
    "{{ not flag }}",
    "{{ name == 'Acme: Co' }}",
    "{{ name != 'x' }}",
    "{{ 'A1' in code }}",
    "{{ 'zz' not in name }}",
    "{{ 1 < count < 5 }}",
    "{{ name is none }}",
    "{{ name is string }}",
    "{{ missing is defined }}",
    "{{ name | qbo_display_name }}",
    "{{ name | truncate(5) }}",
    "{{ name | truncate(3000000) }}",
    "{{ text | trim | upper }}",
    "{{ lines | merge_by('work_code') }}",
    "{{ lines | map(attribute='amount') | list }}",
    "{{ lines | length }}",
    "{{ lines[0].work_code }}",
    "{{ pick('t', code) }}",
    "{{ pick('t', code, default=name) }}",
    "{{ pick('t', missing) }}",
    "{{ stop() }}",
    "{{ fail() }}",
    "{{ name.upper() }}",
    "{{ name.__class__ }}",
    "{{ address.__class__ }}",
    "TPS client {{ code }}",
    # the shapes run without the budget: one path through filters and tests
    "{{ price | money }}",
    "{{ count | money }}",
    "{{ flag | money }}",
    "{{ none | money }}",
    "{{ text | money }}",
    "{{ price | decimal }}",
    "{{ (amount | decimal) == 0 }}",
    "{{ (zero | decimal) == 0 }}",
    "{{ (price | money) > (amount | money) }}",
    "{{ status != 'void' }}",
    "{{ status == 'void' and flag }}",
    "{{ flag == 1 }}",
    "{{ count == 3.0 }}",
    "{{ name | default('no name', true) }}",
    "{{ name | default('no name') }}",
    "{{ price | default(0, true) | money }}",
    "{{ name | qbo_name }}",
    "{{ name | qbo_name(5) }}",
    "{{ name | trim | lower }}",
    "{{ name | length }}",
    "{{ lines | merge_by('work_code') | length }}",
    "{{ lines | first }}",
    "{{ (lines | first).amount | money }}",
    "{{ 'x' ~ name ~ count }}",
    "{{ name[:2] }}",
    "{{ name[1:3] }}",
    "{{ name[::-1] }}",
    "{{ name[count:] }}",
    "{{ lines[:1] }}",
    "{{ address[:1] }}",
    # calls: constants first, last, or between; what they are handed
    "{{ pick(code, 't') }}",
    "{{ pick('t', code, 'd') }}",
    "{{ pick('t', 'u') }}",
    "{{ pick('t', name | qbo_name) }}",
    "{{ wrap(code) }}",
    "{{ wrap(missing) }}",
    "{{ wrap(lines | first) }}",
    "{{ wrap(stop()) }}",
    "{{ stop() is defined }}",
    "{{ wrap(code)[0] }}",
    "{{ pick(code) }}",
    "{{ pick('t', address.line1) }}",
    "{{ pick('t', address.nested.deep) }}",
    "{{ pick('t', items.items) }}",
    "{{ stop(code) }}",
    "{{ fail(code) }}",
    "{{ wrap(lines) }}",
    "{{ name | default(default_value='x', boolean=true) }}",
    "{{ amount | round(1) }}",
    "{{ count | int }}",
    "{{ name | trim | default('e', true) | upper }}",
    "{{ amount | abs }}",
    "{{ lines | last }}",
    "{{ name | string | length > 3 }}",
    "{{ zero is number }}",
    "{{ name is sameas none }}",
    "{{ status in ['void', 'x'] }}",
    "{{ 'void' == status }}",
    "{{ (price | money) if flag else (zero | money) }}",
    "{{ [price | money, zero] }}",
    "{{ {'value': code, 'n': amount | money} }}",
    # texts
    "{{ code }} and {{ name }}",
    "a {{ amount | money }} b",
    "x {{ missing }} y",
    "{{ name }}-{{ lines | length }}",
    "{{ 'lit' }} {{ code }}",
    "n: {{ none }}, {{ flag }}, {{ zero }}, {{ address }}",
    "{{ pick('t', code) }} x",
    "{% if flag %}a{% endif %} {{ code }}",
    "t {{ name | truncate(5) }}",
    "t {{ lines | first }}",
    "{{ name }}\n",
    "{{ text }}",
    "{{ code if false else 'x' }} y {{ name }}",
    "a {{ 'b' ~ 'c' }} {{ code }}",
    "{{ 'x' | upper }}{{ code }}",
]


def _outcome(value: CompiledValue, scope: dict[str, Any], compiled: bool) -> tuple[str, Any]:
    try:
        result = value.evaluate(scope) if compiled else value.evaluate_slowly(scope)
    except ExpressionError as failure:
        return "error", failure.message
    return type(result).__name__, result


def _same(value: CompiledValue, scope: dict[str, Any]) -> None:
    slow = _outcome(value, scope, compiled=False)
    assert _outcome(value, scope, compiled=True) == slow, value.source


@pytest.mark.parametrize("source", EXPRESSIONS)
def test_compiled_ways_agree_with_jinja(source: str) -> None:
    value = compile_value(source, "rules/x.yaml:3")
    for scope in SCOPES:
        _same(value, scope)


def test_the_common_shapes_are_compiled_and_the_rest_left_to_jinja() -> None:
    def ways(source: str) -> tuple[bool, bool]:
        return compile_value(source, "x:1").compiled_ways

    # without the budget: nothing in them that the budget's clock could stop
    assert ways("{{ address.line1 }}") == (True, False)
    assert ways("{{ ref('TaxCode', lookup('t', 'a' if flag else 'b')) }}") == (True, False)
    assert ways("{{ amount | money }}") == (True, False)
    assert ways("{{ unique(name | qbo_display_name, ' (' ~ code ~ ')') }}") == (True, False)
    assert ways("{{ items.items }}") == (True, False)  # the sandbox's getattr: the method
    assert ways("Service") == (True, False)
    # closures under the budget: operators and filters that repeat or pad
    assert ways("{{ name * 3 }}") == (False, True)
    assert ways("{{ count + 1 }}") == (False, True)
    assert ways("{{ name | truncate(5) }}") == (False, True)
    assert ways("{{ name | center(9) | upper }}") == (False, True)
    # Jinja's own code
    assert ways("{{ lines | map(attribute='amount') | list }}") == (False, False)  # context
    assert ways("{{ [1, 2] }}") == (False, False)  # Jinja makes a new list every time


def _packs() -> Iterator[RuleSet]:
    yield load_ruleset(rules_dir())
    for pack in sorted(ROOT.glob("examples/*/rules")):
        yield load_ruleset(pack)


def _agree(fields: tuple[FieldRule, ...], quick: Scope, jinja: Scope) -> int:
    """Every value of `fields` evaluated both ways, each `each` element in its own scope."""
    checked = 0
    for rule in fields:
        for value in (rule.value, rule.each):
            if value is not None:
                outcome = _outcome(value, quick.values, True)
                assert outcome == _outcome(value, jinja.values, False), value.where
                checked += 1
        if rule.each is not None and rule.items:
            try:
                elements = rule.each.evaluate(quick) or []
            except ExpressionError:
                continue
            for element in elements:
                inner = [Scope({**s.values, rule.alias: element}) for s in (quick, jinja)]
                checked += _agree(rule.items[0], *inner)
    return checked


def _snapshot() -> Snapshot:
    firm = seeded_firm("demo")
    return Snapshot(tps={e: dict(firm.table(r)) for e, r in TPS_RESOURCES.items()})


def test_every_pack_value_agrees_on_the_demo_firm() -> None:
    snapshot = _snapshot()
    checked = 0
    for rules in _packs():
        # Two resolvers, so that functions keeping state (unique) see the same history.
        fast = Resolver(rules, snapshot, Links(), today_is=lambda: date(2026, 3, 1))
        slow = Resolver(rules, snapshot, Links(), today_is=lambda: date(2026, 3, 1))
        for mapping in rules.mappings:
            for record in list(snapshot.records(mapping.source).values())[:60]:
                quick, jinja = (
                    fast.scope(mapping.source, record),
                    slow.scope(mapping.source, record),
                )
                if mapping.when is not None:
                    assert _outcome(mapping.when, quick.values, True) == _outcome(
                        mapping.when, jinja.values, False
                    )
                checked += _agree(mapping.fields, quick, jinja)
    assert checked > 1000


def _gappy_snapshot() -> Snapshot:
    """The demo firm with declared fields left out or empty here and there, as real books
    have them: a client without an address or email, a line without a description."""
    firm = seeded_firm("demo")
    tps = {e: {k: dict(r) for k, r in firm.table(t).items()} for e, t in TPS_RESOURCES.items()}
    for n, client in enumerate(tps["Client"].values()):
        for name in ("address", "email", "phone", "name")[: n % 5]:
            if n % 2:
                client.pop(name, None)
            else:
                client[name] = None
    for n, invoice in enumerate(tps["Invoice"].values()):
        invoice["lines"] = [
            {k: v for k, v in line.items() if (n + i) % 3 or k not in ("description", "hours")}
            for i, line in enumerate(invoice.get("lines") or [])
        ]
        if n % 4 == 0:
            invoice.pop("due_date", None)
    return Snapshot(tps=tps)


def _pack_shadowing_ref(folder: Path) -> Path:
    """The standard pack with the invoice lines' alias named `ref`, like the function the
    other mappings call: inside the lines, `ref` is the line."""
    shutil.copytree(rules_dir(), folder)
    invoices = folder / "invoices.yaml"
    mapping, rest = invoices.read_text(encoding="utf-8").split("\n---\n", 1)
    mapping = mapping.replace("as: line", "as: ref").replace("line.", "ref.")
    tax_code = "{{ ref('TaxCode', lookup("
    assert tax_code in mapping
    mapping = mapping.replace(tax_code, "{{ {'value': lookup(").replace(
        "'exempt')) }}", "'exempt')} }}"
    )
    invoices.write_text(f"{mapping}\n---\n{rest}", encoding="utf-8")
    return folder


@pytest.mark.parametrize("pack", ["standard", "alias-shadowing-ref"])
@pytest.mark.parametrize("gappy", [False, True], ids=["demo", "gappy"])
def test_the_planner_plans_the_same_without_the_compiled_ways(
    gappy: bool, pack: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    snapshot = _gappy_snapshot() if gappy else _snapshot()
    folder = rules_dir() if pack == "standard" else _pack_shadowing_ref(tmp_path / "rules")
    rules = load_ruleset(folder)
    (lines,) = [f for m in rules.mappings if m.id == "invoices" for f in m.fields if f.each]
    assert lines.alias == ("line" if pack == "standard" else "ref")

    def plan() -> list[Any]:
        given = PlanInput(rules, snapshot, {}, phase="initial")
        return [dataclasses.astuple(op) for op in Planner(given).plan().operations]

    compiled = plan()
    compiled_evaluate = CompiledValue.evaluate
    monkeypatch.setattr(
        CompiledValue,
        "evaluate",
        lambda value, context: compiled_evaluate(value.jinja_only(), context),
    )
    monkeypatch.setattr(CompiledValue, "fast_way", property(lambda _value: (None, False, False)))
    # and each field's value evaluated for itself, none taken from another field's
    monkeypatch.setattr(applying, "_repeats", lambda fields: [(-1, -1)] * len(fields))
    assert plan() == compiled
    assert sum(1 for op in compiled if op[2] == "create") > 50
    if gappy:
        assert sum(1 for op in compiled if op[2] == "fail") > 3  # a client without a name


def test_a_scope_keeps_no_value_of_one_evaluation_for_the_next() -> None:
    scope = Scope({"result": "the record's own field", "x": 1})
    assert compile_value("{{ x + 1 }}", "x:1").evaluate_slowly(scope) == 2
    assert compile_value("{{ result }}", "x:2").evaluate_slowly(scope) == "the record's own field"


def test_every_thread_spends_its_own_budget() -> None:
    # The fleet runs firms in pool threads, each in a copy of the caller's context.
    opened = budget.open_budget()
    try:
        seen: list[budget.Budget | None] = []
        run = contextvars.copy_context().run
        worker = threading.Thread(target=run, args=(lambda: seen.append(budget.open_budget()),))
        worker.start()
        worker.join()
        assert seen[0] is not None and seen[0] is not opened
        assert budget.open_budget() is None  # nested in this thread: the open one is shared
    finally:
        budget.close_budget(opened)


def _hash_as_before(value: Any) -> str:
    text = json.dumps(_canonical(value), sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@pytest.mark.parametrize(
    "value",
    [
        {"CustomerRef": {"value": "7", "name": "Acme"}, "Amount": Decimal("2.50")},
        {"Line": [{"Amount": Decimal("1.10"), "Ref": {"value": "1", "name": "x"}}, 3, None]},
        {"Line": [Decimal("1.00"), "a"], "When": date(2026, 1, 2), "F": 1.5, "B": True},
        {"T": (Decimal("2.50"), {"value": "1", "name": "n"})},  # a tuple: the general way
        {"name": "a name, not a reference", "Nested": {"name": "kept", "other": 1}},
        [],
        {},
    ],
)
def test_content_hashes_are_what_they_were(value: Any) -> None:
    assert content_hash(value) == _hash_as_before(value)


# Digests as the first version of engine/sync/hashing.py computed them: stored in every
# firm's links, they must never change, whatever way of computing them comes next.
GOLDEN_INVOICE = {
    "DocNumber": "HP-1002",
    "TxnDate": "2026-09-06",
    "DueDate": "2026-10-06",
    "CustomerRef": {"value": "@pending:tps.Client:c-1002"},
    "BillEmail": {"Address": "ap@cotefilsltee.example"},
    "AllowOnlineCreditCardPayment": True,
    "AllowOnlineACHPayment": True,
    "TxnTaxDetail": {"TotalTax": Decimal("0.00")},
    "Line": [
        {
            "DetailType": "SalesItemLineDetail",
            "Amount": Decimal("760.00"),
            "Description": "Catch-up bookkeeping",
            "SalesItemLineDetail": {
                "ItemRef": {"value": "@pending:tps.WorkCode:wc-1010"},
                "Qty": 1,
                "UnitPrice": Decimal("760.00"),
                "TaxCodeRef": {"value": "NON"},
            },
        }
    ],
    "PrivateNote": "sync:tps:invoice:inv-1002",
}


@pytest.mark.parametrize(
    ("value", "digest"),
    [
        (
            {"CustomerRef": {"value": "7", "name": "Acme"}, "Amount": Decimal("2.50")},
            "162674ea06894de163d57fa10346cd8b",
        ),
        (
            {"CustomerRef": {"value": "7", "name": "Acme"}, "Amount": Decimal("2.5")},
            "162674ea06894de163d57fa10346cd8b",
        ),
        (
            {"Line": [{"Amount": Decimal("1.10"), "Ref": {"value": "1", "name": "x"}}, 3, None]},
            "8d038a98c065be4621126a34a403323f",
        ),
        (
            {"Line": [Decimal("1.00"), "a"], "When": date(2026, 1, 2), "F": 1.5, "B": True},
            "99bf5245e68d1dbe4d9a11ae18c1fff8",
        ),
        ({"T": (Decimal("2.50"), {"value": "1", "name": "n"})}, "74c8445ba075aef630470b5d107af71c"),
        (
            {"name": "a name, not a reference", "Nested": {"name": "kept", "other": 1}},
            "67ee1156d5c1ddeafe5dbcc069b9db84",
        ),
        ([], "4f53cda18c2baa0c0354bb5f9a3ecbe5"),
        ({}, "44136fa355b3678a1146ad16f7e8649e"),
        (GOLDEN_INVOICE, "e49ee1ad9fb1723b908b4c79708ae4f4"),
    ],
)
def test_content_hashes_never_change(value: Any, digest: str) -> None:
    assert content_hash(value) == digest


def test_the_demo_firms_plan_hashes_are_what_they_were() -> None:
    given = PlanInput(load_ruleset(rules_dir()), _snapshot(), {}, phase="initial")
    writes = [op for op in Planner(given).plan().operations if op.body]
    assert len(writes) > 50
    for op in writes:
        want = {k: v for k, v in op.body.items() if k != "Active"}
        assert content_hash(want) == _hash_as_before(want)


@pytest.mark.parametrize("source", ["{{ f(x) | string }}", "{{ f(x) }}", "{{ f('t', 2, x) }}"])
def test_results_kept_for_equal_inputs_are_kept_apart_by_what_tells_them_apart(
    source: str,
) -> None:
    """`f(x)` of a pure function is made once per input in a plan; 1, True, 1.0 and
    Decimal('1.00') are equal in Python, but not to `| string`."""
    from tpsqbo_engine.sync.filling import Fields

    calls: list[Any] = []

    def echo(*args: Any) -> Any:
        calls.append(args[-1])
        return args[-1]

    names = {"f": RuleFunction(echo, pure=True)}
    fields = Fields(None)
    value = compile_value(source, "x:1")
    inputs = [1, True, Decimal("1.0"), Decimal("1.00"), "1", 1.0, None, 1, Decimal("1.0")]
    for x in inputs:
        scope = Scope(dict(names), record={"x": x}, fields=fields, fill=lambda x=x: {"x": x})
        expected = value.evaluate_slowly({"f": RuleFunction(lambda *a: a[-1]), "x": x})
        got = value.evaluate(scope)
        assert (type(got), got) == (type(expected), expected), x
    # every input once: the repeats (1 and Decimal('1.0')) come from what was kept
    assert calls == inputs[:7]
    assert type(calls[0]) is int and type(calls[1]) is bool


def test_a_function_that_is_not_pure_is_called_every_time() -> None:
    from tpsqbo_engine.sync.filling import Fields

    calls: list[Any] = []
    names = {"f": RuleFunction(lambda v: calls.append(v) or v)}
    value = compile_value("{{ f(x) }}", "x:1")
    fields = Fields(None)
    for _ in range(3):
        scope = Scope(dict(names), record={"x": "a"}, fields=fields, fill=lambda: {"x": "a"})
        assert value.evaluate(scope) == "a"
    assert calls == ["a", "a", "a"]


def test_a_finished_plan_leaves_its_snapshot_to_be_freed() -> None:
    """Results kept for pure functions live in the rules' compiled values, which outlive
    the plan: they must not hold the plan's functions, hence its resolver and snapshot."""
    rules = load_ruleset(rules_dir())

    def plan_once() -> weakref.ref[Snapshot]:
        snapshot = _snapshot()
        assert Planner(PlanInput(rules, snapshot, {}, phase="initial")).plan().writes()
        return weakref.ref(snapshot)

    gone = plan_once()
    gc.collect()
    assert gone() is None


@pytest.mark.parametrize("source", ["{{ big }}{{ big }}", "a{{ big }}b{{ big }}c", "{{ big }} x"])
def test_a_text_over_the_limit_fails_at_the_same_part_as_jinja_says(source: str) -> None:
    value = compile_value(source, "rules/x.yaml:4")
    assert value.compiled_ways == (True, False)
    for big in ("x" * 600_000, "y" * 999_999, "z"):
        _same(value, {"big": big})
    if source.count("big") == 2:
        with pytest.raises(ExpressionError, match=r"rendered text's length of 1,200,00\d"):
            value.evaluate({"big": "x" * 600_000})
