"""A mapping's fields applied to a source record: the target record the rules want."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from jinja2 import Undefined

from tpsqbo_engine.expr import FAILURES, CompiledValue, Scope
from tpsqbo_engine.exprread import SLOW
from tpsqbo_engine.exprvalue import PLAIN
from tpsqbo_engine.ruleset.model import FieldRule, MappingRule
from tpsqbo_engine.sync.markers import engine_note

if TYPE_CHECKING:
    from tpsqbo_engine.sync.runtime import Resolver

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Step:
    """One field rule with its dotted path split: the parents to make, the key to set.
    `copied`: a later rule of the same list writes inside this one's value, so the value
    is put as a copy (it may be shared: a record another rule read, a lookup's entry)."""

    rule: FieldRule
    parents: tuple[str, ...]
    last: str
    items: tuple[tuple[Step, ...], ...] = ()
    copied: bool = False
    value: CompiledValue | None = None  # a field set by one value (no `each`, no items)
    direct: bool = False  # that value goes straight into the record's top level
    constant: Any = None  # a literal scalar, as it goes into the record
    parent: str | None = None  # the one object that value goes into, when it is not copied
    evaluate: Callable[[Scope], Any] | None = None  # the value's own, looked up once
    fast: Callable[[Scope], Any] | None = None  # its way without the budget (_apply_fields)
    # A value written twice in one list (`Amount` and `UnitPrice`: `line.amount | money`)
    # and calling no function is evaluated once: the first keeps what it wrote under its
    # place in the list (`keep_at`), the other takes it from there (`same_as`); -1 else.
    keep_at: int = -1
    same_as: int = -1
    # What `fast` gives is checked for Undefined as `evaluate` checks it (`itself`: it is an
    # Undefined or holds none); False: `fast` is only set when it needs no check.
    checked: bool = False
    itself: bool = False

    @classmethod
    def of(
        cls, rule: FieldRule, path: tuple[str, ...], items: Any, copied: bool, repeats: Repeats
    ) -> Step:
        single = rule.value if rule.each is None and not items else None
        direct = single is not None and len(path) == 1 and not copied
        constant = None
        if single is not None and type(single.literal) in _SCALARS:
            constant = _as_written(single.literal)  # the same every record: made once
        parent = path[0] if len(path) == 2 and not copied else None
        evaluate = fast = None
        checked = itself = False
        if single is not None:
            evaluate, (fast, checked, itself) = single.evaluate, single.fast_way
        parts = (single, direct, constant, parent, evaluate, fast, *repeats, checked, itself)
        return cls(rule, path[:-1], path[-1], items, copied, *parts)


# Literals that need no copy and hold nothing to check: set as they are, every record.
_SCALARS = frozenset({str, int, bool, float, Decimal, date})
# Values written that nothing can change: one written twice may be the same object.
_UNCHANGING = frozenset({str, int, bool, float, Decimal})
# Values written as the rules give them (text is stripped, a date written as ISO text).
_AS_THEY_ARE = frozenset({dict, Decimal, bool, int})


def _as_written(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()  # stray spaces as people type them never travel
    if isinstance(value, date):
        return value.isoformat()
    return value


Repeats = tuple[int, int]  # Step.keep_at, Step.same_as


def compile_steps(fields: tuple[FieldRule, ...]) -> tuple[Step, ...]:
    paths = [tuple(rule.path.split(".")) for rule in fields]
    repeats = _repeats(fields)
    steps = []
    for index, rule in enumerate(fields):
        path = paths[index]
        inside = any(len(p) > len(path) and p[: len(path)] == path for p in paths[index + 1 :])
        items = tuple(compile_steps(item) for item in rule.items)
        steps.append(Step.of(rule, path, items, inside, repeats[index]))
    return tuple(steps)


def _repeats(fields: tuple[FieldRule, ...]) -> list[Repeats]:
    """For each field: its own place when a later one writes the same value, and the place
    of the earlier one it writes the same value as (-1: none), for values that call no
    function and are not literals (those are made once anyway)."""
    first: dict[str, int] = {}
    repeats: list[Repeats] = [(-1, -1)] * len(fields)
    for index, rule in enumerate(fields):
        value = rule.value
        if rule.each is not None or rule.items or value is None:
            continue
        if not value.reads_only or value.literal is not SLOW:
            continue
        earlier = first.setdefault(value.source, index)
        if earlier != index:
            repeats[earlier] = (earlier, repeats[earlier][1])
            repeats[index] = (-1, earlier)
    return repeats


def _put(target: Record, step: Step, value: Any) -> None:
    for part in step.parents:
        target = target.setdefault(part, {})
    target[step.last] = copy.deepcopy(value) if step.copied else value


def _apply_fields(steps: tuple[Step, ...], scope: Scope) -> Record:
    out: Record = {}
    written: dict[int, Any] | None = None  # by place in `steps`: what a later one writes too
    for step in steps:
        evaluate = step.evaluate
        if evaluate is None:
            _apply_list(step, scope, out)
            continue
        value = step.constant  # most fields: one value, set as it comes
        if value is None:
            value = SLOW
            if step.same_as >= 0 and written is not None:
                value = written.get(step.same_as, SLOW)
            if value is SLOW:
                fast = step.fast
                if fast is None:
                    value = evaluate(scope)
                else:  # what `evaluate` does, spelled out here: this runs for every field
                    try:
                        value = fast(scope)
                    except FAILURES as exc:
                        raise _failure(step, exc) from None
                    if value is SLOW:
                        value = _past_fast(step, scope)
                    elif (
                        step.checked
                        and type(value) not in PLAIN
                        and (not step.itself or isinstance(value, Undefined))
                    ):  # (a reference `linked` or `ref` made is as it is)
                        value = _given(step, value)
                kind = type(value)
                if kind is str:
                    value = value.strip()  # stray spaces as people type them never travel
                elif value is not None and kind not in _AS_THEY_ARE:
                    value = _as_written(value)  # a date as ISO text, anything else as it is
                if step.keep_at >= 0 and (value is None or type(value) in _UNCHANGING):
                    written = {} if written is None else written
                    written[step.keep_at] = value
            if value is None:
                continue
        if step.direct:
            out[step.last] = value
        elif step.parent is not None:  # `BillAddr.Line1`
            parent = out.get(step.parent)
            if parent is None:
                parent = out[step.parent] = {}
            parent[step.last] = value
        else:
            _put(out, step, value)
    return out


def _given(step: Step, value: Any) -> Any:
    assert step.value is not None
    return step.value.given(value)


def _failure(step: Step, exc: Exception) -> Exception:
    assert step.value is not None
    return step.value.failure(exc)


def _past_fast(step: Step, scope: Scope) -> Any:
    assert step.value is not None
    return step.value.evaluate_past_fast(scope)


def _apply_list(step: Step, scope: Scope, out: Record) -> None:
    """A field made of items: one per element of `each`, or one per item listed."""
    rule = step.rule
    if rule.each is not None:
        elements = rule.each.evaluate(scope) or []
        # One scope serves every element, the alias set to each in turn: an element's
        # values are all evaluated before the next one's, and nothing keeps the scope.
        inner = scope.inner()
        items = []
        for element in elements:
            inner.bind(rule.alias, element)
            items.append(_apply_fields(step.items[0], inner))
        _put(out, step, items)
    elif step.items:
        _put(out, step, [_apply_fields(item, scope) for item in step.items])


def desired(mapping: MappingRule, record: Record, resolver: Resolver) -> Record:
    """The target record a source record should become under `mapping`."""
    scope = resolver.scope(mapping.source, record)
    out = _apply_fields(resolver.steps(mapping.fields), scope)
    if mapping.marker:  # the engine's own bookkeeping, whatever note the rules write
        out["PrivateNote"] = engine_note(mapping.marker, str(record["id"]), out.get("PrivateNote"))
    return out


def wanted(mapping: MappingRule, record: Record, resolver: Resolver) -> bool:
    if mapping.when is None:
        return True
    return bool(mapping.when.evaluate(resolver.scope(mapping.source, record)))
