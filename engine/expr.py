"""Sandboxed Jinja expressions for rule values: parsed once at load, evaluated per record.

A rule value that is exactly one `{{ expression }}` evaluates to a native value (Decimal,
bool, a QBO reference...). Any other string containing `{{` or `{%` renders to a string. A
string without them is a literal.

Safety, in layers:
- `ImmutableSandboxedEnvironment`: no attribute starting with `_`, no mutation of values;
- Jinja's default globals (`range`, `dict`, `lipsum`, `cycler`, `joiner`, `namespace`) are
  removed; filters and tests come from the allow-lists of filters.py; functions are
  injected per run;
- `**` is refused, and every evaluation runs under the budget of engine/budget.py (sizes of
  values, loop iterations, wall-clock time, nesting depth), so a rule cannot exhaust memory
  or time;
- an `Undefined` result is an error, never a silent empty value;
- error messages quote the rule's expression, never the values of the record.
The static checker (ruleset/typecheck.py) rejects the same things at validate time.
"""

from __future__ import annotations

import copy
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from jinja2 import StrictUndefined, Template, Undefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError
from jinja2.parser import Parser
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tpsqbo_engine import budget as limits
from tpsqbo_engine.exprfast import DICT_ATTRIBUTES, SPECIAL_NAMES, compile_quick
from tpsqbo_engine.exprread import SLOW, Plans, Reader, path_reader
from tpsqbo_engine.filters import (
    ALLOWED_TESTS,
    CENT,
    ENGINE_FILTERS,
    FORBIDDEN_NAMES,
    JINJA_FILTERS,
    ExpressionError,
    as_date,
    linked_types,
    merge_by,
    money,
    normalize_email,
    normalize_name,
    qbo_display_name,
    qbo_name,
    to_decimal,
)

# The engine's filters live in filters.py; rules code has always found them here too.
__all__ = [
    "ALLOWED_TESTS",
    "CENT",
    "ENGINE_FILTERS",
    "FORBIDDEN_NAMES",
    "JINJA_FILTERS",
    "ExpressionError",
    "as_date",
    "linked_types",
    "merge_by",
    "money",
    "normalize_email",
    "normalize_name",
    "qbo_display_name",
    "qbo_name",
    "to_decimal",
]

MAX_REPEAT = 10_000


class RuleFunction:
    """A function rules may call (lookup, ref, linked, record, today). `pure`: it gives the
    same for the same arguments as long as it lives (for one plan), so its results can be
    kept."""

    __slots__ = ("func", "pure")

    def __init__(self, func: Callable[..., Any], pure: bool = False) -> None:
        self.func = func
        self.pure = pure

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)


class _BudgetedCode(CodeGenerator):
    """Jinja's code generator, with `~` (which no sandbox hook sees) sized like `+`."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.sized(")
        super().visit_Concat(node, frame)
        self.write(")")


class RuleEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _BudgetedCode
    sized = staticmethod(limits.sized)
    budget_loop = RuleFunction(limits.counted)

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "**":
            raise SecurityError("the ** operator is not allowed in rules")
        if op == "*":
            for seq, count in ((left, right), (right, left)):
                repeated = isinstance(seq, str | list | tuple) and isinstance(count, int)
                if repeated and count > MAX_REPEAT:
                    raise SecurityError(f"repeating a value more than {MAX_REPEAT:,} times")
                if repeated:
                    limit = limits.MAX_SIZE if isinstance(seq, str) else limits.MAX_ITEMS
                    limits.fits(len(seq) * count, "a repeated value", limit)
        if op == "%":
            limits.check_format(left)
        return limits.sized(_BINOPS[op](left, right))

    def is_safe_callable(self, obj: Any) -> bool:
        # Only the engine's own functions may be called; no methods of values.
        return isinstance(obj, RuleFunction)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        # What Jinja's Context.call does for a callable that takes no context, without the
        # introspection it spends on every call: rules call the engine's functions per field.
        if type(__obj) is RuleFunction:
            kwargs.pop("_loop_vars", None)
            kwargs.pop("_block_vars", None)
            try:
                return __obj(*args, **kwargs)
            except StopIteration:
                return __self.undefined(
                    "value was undefined because a callable raised a StopIteration exception"
                )
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        # `record.field` on a plain dict: the item, as the sandbox gives it once Python's
        # getattr has failed (a dict has no such attribute), without raising to find out.
        if type(obj) is dict and type(attribute) is str and attribute not in DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        try:
            template = super()._parse(source, name, filename)
        except RecursionError:
            raise _too_deep(name, filename) from None
        _check_depth(template, name, filename)
        return template

    def _generate(
        self,
        source: nodes.Template,
        name: str | None,
        filename: str | None,
        defer_init: bool = False,
    ) -> str:
        _check_depth(source, name, filename)
        for loop in source.find_all(nodes.For):  # every iteration spends a step of the budget
            loop.iter = nodes.Call(
                nodes.EnvironmentAttribute("budget_loop"), [loop.iter], [], None, None
            ).set_lineno(loop.lineno)
        return super()._generate(source, name, filename, defer_init)


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "*": operator.mul,
    "+": operator.add,
    "%": operator.mod,
}


def _too_deep(name: str | None, filename: str | None) -> TemplateSyntaxError:
    return TemplateSyntaxError(
        f"the expression is nested more than {limits.MAX_DEPTH} levels deep", 1, name, filename
    )


def _check_depth(tree: nodes.Node, name: str | None, filename: str | None) -> None:
    """Refuses trees nested past MAX_DEPTH (walked without recursion, so it cannot overflow)."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limits.MAX_DEPTH:
            raise _too_deep(name, filename)
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())


def rule_function(func: Callable[..., Any], pure: bool = False) -> RuleFunction:
    return RuleFunction(func, pure)


@cache
def environment(*, autoescape: bool = False) -> RuleEnvironment:
    env = RuleEnvironment(undefined=StrictUndefined, autoescape=autoescape)
    env.globals.clear()
    allowed = {name: f for name, f in env.filters.items() if name in JINJA_FILTERS}
    env.filters = {
        name: limits.guarded(name, f) for name, f in {**allowed, **ENGINE_FILTERS}.items()
    }
    env.tests = {name: t for name, t in env.tests.items() if name in ALLOWED_TESTS}
    return env


_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<body>(?:(?!\}\}|\{\{).)*)\}\}\s*$", re.S)


def single_expression(text: str) -> str | None:
    """The body of a value that is exactly one `{{ ... }}`, else None."""
    match = _SINGLE_EXPRESSION.match(text)
    return match.group("body").strip() if match else None


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def parse(source: str) -> nodes.Template:
    """Parses a rule value (already known to be a template) into Jinja's AST."""
    body = single_expression(source)
    env = environment()
    try:
        return env.parse(f"{{{{ {body} }}}}" if body is not None else source)
    except RecursionError:
        raise _too_deep(None, None) from None


class Scope:
    """The names rules see for one record, with the Jinja context made from them once and
    reused by every value evaluated there (a context per evaluation used to cost more than
    most rules do).

    A scope made with `record=` reads the record's fields through `fields` (declared fields
    the record leaves out read as None), and `names` (functions, an `each` alias) over them;
    the whole filled record is made by `fill` only when Jinja's own code needs it."""

    __slots__ = ("_context", "_fill", "_values", "fields", "names", "record")

    def __init__(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        record: Any = None,
        fields: Plans | None = None,
        fill: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        names = {} if values is None else values if type(values) is dict else dict(values)
        self.names: dict[str, Any] = names
        self.record, self.fields, self._fill = record, fields, fill
        self._values: dict[str, Any] | None = names if fill is None else None
        self._context: Context | None = None

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
        self.names[name] = value
        if self._values is not None and self._values is not self.names:
            self._values[name] = value

    def inner(self) -> Scope:
        """A scope over the same record whose names are bound apart (an `each` element)."""
        if self.fields is None:
            return Scope({**self.values})
        return Scope({**self.names}, record=self.record, fields=self.fields, fill=self._copy)

    def _copy(self) -> dict[str, Any]:
        return {**self.values}

    def context(self, env: RuleEnvironment) -> Context:
        context = self._context
        if context is None or context.environment is not env:
            # shared: the names are read in place, never copied; rules cannot write them
            context = self._context = Context(env, self.values, None, {})
        return context


@dataclass(frozen=True)
class CompiledValue:
    """One rule value, compiled once. `where` names the rule (file:line) for error messages.

    Three ways to evaluate it, each giving the very same value, the first that applies:
    `_fast` without Jinja and without a budget (a literal; a plain `{{ a.b }}` path through
    dicts; closures of engine/exprfast.py for an expression with nothing the budget could
    stop); `_quick`, such closures under the budget; `_render`, Jinja's own code. The first
    two answer `SLOW`, before anything has run, to pass it on."""

    source: str
    where: str
    _render: Callable[[Scope], Any]
    _fast: Callable[[Scope], Any] | None = None
    _quick: Callable[[Scope], Any] | None = None
    literal: Any = SLOW  # the value itself, for a value that is not a template
    _defined: bool = False  # what `_quick` gives holds no Undefined
    _fast_defined: bool = True  # what `_fast` gives holds no Undefined
    _fast_itself: bool = False  # what `_fast` gives is an Undefined or holds none

    def evaluate(self, context: Mapping[str, Any] | Scope) -> Any:
        scope = context if type(context) is Scope else _scope_of(context)
        fast = self._fast
        if fast is not None:
            try:
                result = fast(scope)
            except FAILURES as exc:
                raise self.failure(exc) from None
            if result is not SLOW:
                if self._fast_defined or type(result) in _PLAIN:
                    return result
                if self._fast_itself and not isinstance(result, Undefined):
                    return result  # a reference made by `linked` or `ref`: nothing to look into
                if type(result) is dict and _PLAIN.issuperset(map(type, result.values())):
                    return result  # a reference, seen holding no Undefined without a loop
                return self._checked(result)
        return self._budgeted(scope)

    @property
    def unchecked_fast(self) -> Callable[[Scope], Any] | None:
        """The way without the budget, when what it gives needs no check: for a caller that
        runs it as `evaluate` would, its failures through `failure`, a `SLOW` answer
        through `evaluate_past_fast` (engine/sync/applying.py, for every field of every
        record)."""
        return self._fast if self._fast_defined else None

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
        except ExpressionError as exc:
            raise self._located(exc) from None
        except EVALUATION_ERRORS as exc:
            raise self._failed(exc) from None
        finally:
            limits.close_budget(token)
        return result if defined or type(result) in _PLAIN else self._checked(result)

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
        if type(result) not in _PLAIN and _undefined_inside(result):
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

_PLAIN = frozenset({str, int, bool, Decimal, date, type(None)})  # cannot hold an Undefined


def _undefined_inside(value: Any) -> bool:
    """An Undefined, or one inside a list or mapping (`map(attribute='__class__')` makes those)."""
    kind = type(value)
    if kind in _PLAIN:
        return False
    if kind is dict:
        inside: Iterable[Any] = value.values()
        if _PLAIN.issuperset(map(type, inside)):  # a reference: its text, seen without a loop
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
        if type(item) not in _PLAIN and _undefined_inside(item):
            return True
    return False


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


def render_text(template: Any, context: Mapping[str, Any]) -> str:
    """A template rendered under the budget, its output counted as it is made."""
    parts: list[str] = []
    made = 0
    with limits.budget():
        for part in template.generate(**context):
            made += len(part)
            limits.fits(made, "the rendered text's length")
            parts.append(part)
    return "".join(parts)


def compile_value(value: Any, where: str) -> CompiledValue:
    """A literal stays itself; `{{ x }}` evaluates natively; other templates render to text."""
    if not isinstance(value, str) or not is_template(value):
        return CompiledValue(
            repr(value), where, lambda _scope: value, lambda _scope: value, literal=value
        )
    env = environment()
    body = single_expression(value)
    try:
        if body is not None:
            expression = _parse_expression(env, body)
            template = env.from_string(
                nodes.Template(
                    [nodes.Assign(nodes.Name("result", "store"), expression, lineno=1)], lineno=1
                )
            )
            return _compiled(value, where, expression, _expression(template, env))
        template = env.from_string(value)
    except (RecursionError, TemplateSyntaxError) as exc:
        reason = exc.message if isinstance(exc, TemplateSyntaxError) else "nested too deeply"
        raise ExpressionError(f"{where}: `{value[:80]}` cannot be compiled: {reason}") from None
    return CompiledValue(value, where, lambda scope: render_text(template, scope.values))


def _compiled(
    value: str, where: str, expression: nodes.Expr, render: Callable[[Scope], Any]
) -> CompiledValue:
    """The fastest ways that apply to a single expression, Jinja's code behind them."""
    path = _path_getter(expression)
    if path is not None:  # closures would read the same path, and answer `SLOW` as it does
        return CompiledValue(value, where, render, path)
    quick = compile_quick(expression, environment(), RuleFunction)
    if quick is None:
        return CompiledValue(value, where, render)
    if quick.bounded:  # the same closures would answer `SLOW` under the budget too
        defined, itself = quick.defined, quick.itself
        return CompiledValue(
            value, where, render, quick.run, _fast_defined=defined, _fast_itself=itself
        )
    return CompiledValue(value, where, render, None, quick.run, _defined=quick.defined)


def _parse_expression(env: RuleEnvironment, body: str) -> nodes.Expr:
    """`body` parsed as Jinja's `compile_expression` parses it."""
    parser = Parser(env, body, state="variable")
    expression = parser.parse_expression()
    if not parser.stream.eos:
        raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno)
    expression.set_environment(env)
    return expression


def _expression(template: Template, env: RuleEnvironment) -> Callable[[Scope], Any]:
    """Runs a compiled `result = expression` in the scope's reused context."""
    root = template.root_render_func

    def run(scope: Scope) -> Any:
        context = scope.context(env)
        try:
            for _ in root(context):  # an expression yields nothing; this runs it
                pass
            return context.vars["result"]
        finally:  # the context serves the next value: leave nothing of this one in it
            context.vars.clear()
            context.exported_vars.clear()

    return run


def _path_getter(expression: nodes.Expr) -> Callable[[Reader], Any] | None:
    """For an expression that is only a path (`email`, `address.line1`, `line['amount']`):
    a getter that walks plain dicts the way the sandbox would, and says `SLOW` for anything
    else (a missing key, a value that is not a dict), where the general path decides."""
    steps: list[str] = []
    node: nodes.Node = expression
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getattr):
            if node.attr in DICT_ATTRIBUTES:  # `x.items` is the method, not the key
                return None
            steps.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and type(node.arg.value) is str:
            steps.append(node.arg.value)  # getitem tries the key first, like a dict does
        else:
            return None
        node = node.node
    if not isinstance(node, nodes.Name) or node.ctx != "load" or node.name in SPECIAL_NAMES:
        return None
    return path_reader(node.name, tuple(reversed(steps)))


def over_budget(tree: nodes.Template, *, autoescape: bool = False) -> str | None:
    """For `validate`: when a parsed value reads nothing from the record (it is constant),
    runs it under the budget and says which limit it goes over, if any."""
    loaded = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}
    stored = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    if not loaded <= stored or any(True for _ in tree.find_all(nodes.Call)):
        return None
    try:
        template = environment(autoescape=autoescape).from_string(copy.deepcopy(tree))
        render_text(template, {})
    except limits.BudgetExceeded as exc:
        return exc.message
    except EVALUATION_ERRORS:
        return None
    return None
