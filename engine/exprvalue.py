"""A rule value compiled (engine/expr.py makes them) and the scope it is evaluated in: the
three ways of evaluating it, the checks on what it gives, and how a failure is located.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from jinja2 import Environment, Undefined
from jinja2.exceptions import TemplateError
from jinja2.runtime import Context

from tpsqbo_engine import budget as limits
from tpsqbo_engine.exprread import SLOW, Functions, Plans
from tpsqbo_engine.filters import ExpressionError


class Scope:
    """The names rules see for one record, with the Jinja context made from them once and
    reused by every value evaluated there (a context per evaluation used to cost more than
    most rules do).

    A scope made with `record=` reads the record's fields through `fields` (declared fields
    the record leaves out read as None), and `names` (functions, an `each` alias) over them;
    the whole filled record is made by `fill` only when Jinja's own code needs it.

    With `functions`, the names start from those functions, `values` over them; as long as
    no name given or bound since shadows one of them, `functions` says what they are (and
    values that kept results for them find those without looking each name up). `names`
    change through `bind` only: given no other names, a scope reads the functions' own dict
    until `bind` makes it a copy."""

    __slots__ = ("_context", "_fill", "_own", "_values", "fields", "functions", "names", "record")

    def __init__(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        record: Any = None,
        fields: Plans | None = None,
        fill: Callable[[], dict[str, Any]] | None = None,
        functions: Functions | None = None,
    ) -> None:
        names = {} if values is None else values if type(values) is dict else dict(values)
        self._own = True  # whether `names` is this scope's own dict
        if functions is not None and not names:  # the functions' own names, until one is bound
            names, self._own = functions.by_name, False
        elif functions is not None:
            shadowed = not functions.names.isdisjoint(names)
            names = {**functions.by_name, **names}
            if shadowed:
                functions = None  # none is known for certain
        self.names: dict[str, Any] = names
        self.record, self.fields, self._fill = record, fields, fill
        self.functions = functions
        self._values: dict[str, Any] | None = names if fill is None else None
        self._context: Context | None = None

    @classmethod
    def over_record(
        cls,
        names: dict[str, Any] | None,
        record: Any,
        fields: Plans | None,
        fill: Callable[[], dict[str, Any]],
        functions: Functions | None,
    ) -> Scope:
        """`Scope(names, record=..., fields=..., fill=..., functions=...)` for a scope made
        for every record decided (and every list of items made): the slots set as they are.
        `names`, when given, is the scope's own dict and already holds the functions'
        (None: the functions' own names, until one is bound)."""
        made = object.__new__(cls)
        if names is None:
            assert functions is not None
            made.names, made._own = functions.by_name, False
        else:
            made.names, made._own = names, True
        made.record, made.fields, made._fill = record, fields, fill
        made.functions = functions
        made._values = made._context = None
        return made

    @property
    def values(self) -> dict[str, Any]:
        """Every name, as Jinja's code reads them: the record filled, the names over it."""
        values = self._values
        if values is None:
            assert self._fill is not None
            values = self._values = self._fill()
            values.update(self.names)
        return values

    def bind(self, name: str, value: Any) -> None:
        """Sets a name (an `each` alias) over everything else."""
        if not self._own:  # made a copy of first: those names are every record's
            shared, self.names, self._own = self.names, {**self.names}, True
            if self._values is shared:
                self._values, self._context = self.names, None  # a context read the shared
        self.names[name] = value
        functions = self.functions
        if functions is not None and name in functions.names:
            self.functions = None  # a function shadowed: every name is looked up again
        if self._values is not None and self._values is not self.names:
            self._values[name] = value

    def inner(self) -> Scope:
        """A scope over the same record whose names are bound apart (an `each` element)."""
        if self.fields is None:
            return Scope({**self.values})
        # the names copied are the functions' as much as these are
        return Scope.over_record(
            {**self.names}, self.record, self.fields, self._copy, self.functions
        )

    def _copy(self) -> dict[str, Any]:
        return {**self.values}

    def context(self, env: Environment) -> Context:
        context = self._context
        if context is None or context.environment is not env:
            # shared: the names are read in place, never copied; rules cannot write them
            context = self._context = Context(env, self.values, None, {})
        return context


@dataclass(frozen=True, slots=True)
class CompiledValue:
    """One rule value, compiled once. `where` names the rule (file:line) for error messages.

    Three ways to evaluate it, each giving the very same value, the first that applies:
    `_fast` without Jinja and without a budget (a literal; a plain `{{ a.b }}` path through
    dicts; closures of engine/exprfast.py for a short expression of passes in line with the
    sizes of its values, see exprfast.UNBUDGETED_OPERATIONS); `_quick`, such closures under
    the budget; `_render`, Jinja's own code. The first two answer `SLOW`, before anything
    has run, to pass it on."""

    source: str
    where: str
    _render: Callable[[Scope], Any]
    _fast: Callable[[Scope], Any] | None = None
    _quick: Callable[[Scope], Any] | None = None
    literal: Any = SLOW  # the value itself, for a value that is not a template
    _defined: bool = False  # what `_quick` gives holds no Undefined
    _fast_defined: bool = True  # what `_fast` gives holds no Undefined
    _fast_itself: bool = False  # what `_fast` gives is an Undefined or holds none
    # It calls no function, so it gives the same whenever the names it reads are the same
    # (filters and tests are the engine's and Jinja's plain ones).
    reads_only: bool = False

    def evaluate(self, context: Mapping[str, Any] | Scope) -> Any:
        scope = context if type(context) is Scope else _scope_of(context)
        fast = self._fast
        if fast is not None:
            try:
                result = fast(scope)
            except FAILURES as exc:
                raise self.failure(exc) from None
            if result is not SLOW:
                if self._fast_defined or type(result) in PLAIN:
                    return result
                return self.given(result)
        return self._budgeted(scope)

    def given(self, result: Any) -> Any:
        """What the way without the budget gave, as `evaluate` gives it: checked for an
        Undefined inside, unless it cannot hold one."""
        if self._fast_defined or type(result) in PLAIN:
            return result
        if self._fast_itself and not isinstance(result, Undefined):
            return result  # a reference made by `linked` or `ref`: nothing to look into
        if type(result) is dict and PLAIN.issuperset(map(type, result.values())):
            return result  # a reference, seen holding no Undefined without a loop
        return self._checked(result)

    @property
    def fast_way(self) -> tuple[Callable[[Scope], Any] | None, bool, bool]:
        """The way without the budget, for a caller that runs it as `evaluate` would (its
        failures through `failure`, a `SLOW` answer through `evaluate_past_fast`, what it
        gives through `given` unless that needs no check): the way, whether what it gives
        needs `given`, and whether that is an Undefined or holds none (engine/sync/
        applying.py, for every field of every record)."""
        return self._fast, not self._fast_defined, self._fast_itself

    def failure(self, exc: Exception) -> ExpressionError:
        """The located error for what evaluating this value raised (one of FAILURES)."""
        return self._located(exc) if isinstance(exc, ExpressionError) else self._failed(exc)

    def evaluate_past_fast(self, scope: Scope) -> Any:
        """`evaluate` once the way without the budget has answered `SLOW`."""
        return self._budgeted(scope)

    def _budgeted(self, scope: Scope) -> Any:
        token = limits.open_budget()
        defined = self._defined
        try:
            result = SLOW if self._quick is None else self._quick(scope)
            if result is SLOW:
                result, defined = self._render(scope), False
            if type(result) not in PLAIN and isinstance(result, Iterator):
                result = listed(result)
        except ExpressionError as exc:
            raise self._located(exc) from None
        except EVALUATION_ERRORS as exc:
            raise self._failed(exc) from None
        finally:
            limits.close_budget(token)
        return result if defined or type(result) in PLAIN else self._checked(result)

    def _located(self, exc: ExpressionError) -> ExpressionError:
        # A function the rule called failed (a missing lookup entry...): say which
        # expression, at its line and column, called it.
        if exc.message.startswith(f"{self.where}:"):
            return exc
        return ExpressionError(f"{self.where}: {exc.message}", hint=exc.hint)

    def _failed(self, exc: BaseException) -> ExpressionError:
        return ExpressionError(
            f"{self.where}: `{self.source}` failed: {type(exc).__name__}{_safe_reason(exc)}"
        )

    def evaluate_slowly(self, context: Mapping[str, Any] | Scope) -> Any:
        """Jinja's own code alone, for checking that the other ways give the same."""
        return self.jinja_only().evaluate(context)

    def jinja_only(self) -> CompiledValue:
        return CompiledValue(self.source, self.where, self._render)

    @property
    def compiled_ways(self) -> tuple[bool, bool]:
        """Whether the value has a way without the budget, and closures under it (for
        tests)."""
        return self._fast is not None, self._quick is not None

    def _checked(self, result: Any) -> Any:
        if type(result) not in PLAIN and _undefined_inside(result):
            raise ExpressionError(f"{self.where}: `{self.source}` has no value for this record")
        return result


# What a rule can make Jinja or a filter raise; each is the rule's failure, not the engine's.
EVALUATION_ERRORS = (
    TemplateError,
    ArithmeticError,
    TypeError,
    ValueError,
    LookupError,
    RecursionError,
    MemoryError,
)


# What evaluating a value can raise that is the rule's failure, located by `failure`.
FAILURES = (ExpressionError, *EVALUATION_ERRORS)

PLAIN = frozenset({str, int, bool, Decimal, date, type(None)})  # cannot hold an Undefined


def _undefined_inside(value: Any) -> bool:
    """An Undefined, or one inside a list or mapping (`map(attribute='__class__')` makes those)."""
    kind = type(value)
    if kind in PLAIN:
        return False
    if kind is dict:
        inside: Iterable[Any] = value.values()
        if PLAIN.issuperset(map(type, inside)):  # a reference: its text, seen without a loop
            return False
    elif kind is list or kind is tuple:
        inside = value
    elif isinstance(value, Undefined):
        return True
    elif isinstance(value, list | tuple):
        inside = value
    elif isinstance(value, Mapping):
        inside = value.values()
    else:
        return False
    for item in inside:  # noqa: SIM110 (a loop, not any(): this runs for every reference made)
        if type(item) not in PLAIN and _undefined_inside(item):
            return True
    return False


def listed(value: Any) -> Any:
    """A value that is a generator (what `batch`, `map`, `selectattr`, `unique`... make) as the
    list of what it gives, as a rule's author means it: Jinja would give the generator
    itself, whose text is "<generator object ...>", and a rule's value or text is never
    meant to be that. Generators it gives (`map('batch', 2)`) are made lists too. Each item
    spends a step of the budget, the list is sized."""
    if type(value) in PLAIN or isinstance(value, str) or not isinstance(value, Iterator):
        return value
    return limits.sized([listed(item) for item in limits.counted(value)])


def _scope_of(context: Mapping[str, Any] | Scope) -> Scope:
    return context if isinstance(context, Scope) else Scope(context)


def _safe_reason(exc: BaseException) -> str:
    # Jinja's undefined/security messages name attributes, never values; others may quote data.
    if isinstance(exc, TemplateError | ExpressionError):
        return f" ({exc.message})" if getattr(exc, "message", None) else ""
    if isinstance(exc, RecursionError):
        return " (nested or recursive too deeply)"
    if isinstance(exc, MemoryError):
        return " (ran out of memory)"
    return ""
