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
The environment is exprenv.py's. The static checker (ruleset/typecheck.py) rejects the
same things at validate time.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from jinja2 import Template, nodes
from jinja2.exceptions import TemplateError, TemplateSyntaxError
from jinja2.nodes import EvalContext
from jinja2.optimizer import Optimizer
from jinja2.parser import Parser

from tpsqbo_engine import budget as limits
from tpsqbo_engine.exprenv import (
    RuleEnvironment,
    RuleFunction,
    environment,
    rule_function,
    too_deep,
)
from tpsqbo_engine.exprfast import (
    DICT_ATTRIBUTES,
    SPECIAL_NAMES,
    UNBUDGETED_OPERATIONS,
    compile_quick,
)
from tpsqbo_engine.exprread import SLOW, Reader, path_reader
from tpsqbo_engine.exprvalue import EVALUATION_ERRORS, FAILURES, CompiledValue, Scope
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

# The engine's filters live in filters.py and its environment in exprenv.py; rules code has
# always found them here too.
__all__ = [
    "ALLOWED_TESTS",
    "CENT",
    "ENGINE_FILTERS",
    "EVALUATION_ERRORS",
    "FAILURES",
    "FORBIDDEN_NAMES",
    "JINJA_FILTERS",
    "CompiledValue",
    "ExpressionError",
    "RuleEnvironment",
    "RuleFunction",
    "Scope",
    "as_date",
    "environment",
    "linked_types",
    "merge_by",
    "money",
    "normalize_email",
    "normalize_name",
    "qbo_display_name",
    "qbo_name",
    "rule_function",
    "to_decimal",
]

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
        raise too_deep(None, None) from None


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
            made = _compiled(value, where, expression, _expression(template, env))
            return replace(made, reads_only=_calls_nothing(expression))
        tree = env.parse(value)
        text = _text_getter(tree, env)  # before compiling: that changes the tree's loops
        reads_only = _calls_nothing(tree)
        template = env.from_string(tree)
    except (RecursionError, TemplateSyntaxError) as exc:
        reason = exc.message if isinstance(exc, TemplateSyntaxError) else "nested too deeply"
        raise ExpressionError(f"{where}: `{value[:80]}` cannot be compiled: {reason}") from None
    except EVALUATION_ERRORS as exc:  # raised by Jinja's compiler folding a constant part
        raise ExpressionError(
            f"{where}: `{value[:80]}` {ALWAYS_FAILS} ({_reason(exc)})", hint=ALWAYS_FAILS_HINT
        ) from None

    def render(scope: Scope) -> Any:
        return render_text(template, scope.values)

    return CompiledValue(value, where, render, text, reads_only=reads_only)


def _calls_nothing(tree: nodes.Node) -> bool:
    return not isinstance(tree, nodes.Call) and next(tree.find_all(nodes.Call), None) is None


def _text_getter(tree: nodes.Template, env: RuleEnvironment) -> Callable[[Scope], Any] | None:
    """For a text of literal parts and expressions that only read (`TPS client {{ code }}`):
    the text as `render_text` makes it, each expression's value through `str` and the
    length counted part by part, or `SLOW` when a part cannot be read (Jinja decides). None
    for any other template: statements, calls, constants Jinja folds into the text,
    anything that needs the budget (a filter that repeats or pads; more than
    UNBUDGETED_OPERATIONS operations in all the parts together)."""
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    parts: list[str | Callable[[Reader], Any]] = []
    operations = 0  # of all the parts together, each one's `str` too (see compile_quick)
    for child in tree.body[0].nodes:
        if isinstance(child, nodes.TemplateData):
            parts.append(child.data)
            continue
        if _folded(child, env):
            return None  # Jinja's code makes it part of the text around it
        inside = [child, *child.find_all(nodes.Expr)]  # the child itself, and every part
        reads = any(isinstance(node, nodes.Name) for node in inside)
        calls = any(isinstance(node, nodes.Call) for node in inside)
        quick = compile_quick(child, env, RuleFunction) if reads and not calls else None
        if quick is None or not quick.bounded:
            return None
        operations += quick.operations + 1
        if operations > UNBUDGETED_OPERATIONS:
            return None
        parts.append(quick.run)  # reads and transforms: nothing runs that a SLOW would undo

    def text(scope: Scope) -> Any:
        made, chunks = 0, []
        for part in parts:
            if not isinstance(part, str):
                value = part(scope)
                if value is SLOW:
                    return SLOW
                part = str(value)
            made += len(part)
            limits.fits(made, "the rendered text's length")
            chunks.append(part)
        return "".join(chunks)

    return text


def _folded(child: nodes.Expr, env: RuleEnvironment) -> bool:
    """Whether Jinja's code generator makes a part of a text a constant (`{{ 'a' }}`, `{{ x
    if false else 'b' }}`), as it does before writing it out."""
    try:
        child.as_const(EvalContext(env))
    except nodes.Impossible:
        return False
    return True


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


ALWAYS_FAILS = "fails for every record: a part of it without fields has no value"
ALWAYS_FAILS_HINT = "correct or take out the part that reads nothing from the record"


def folding_failure(tree: nodes.Template) -> str | None:
    """For `validate`: what folding the constant parts of a parsed value raises, as Jinja's
    compiler folds them when the value is loaded (`none[0] and name`: `none[0]` has no
    value, and `and` asks whether it is true); None when nothing does."""
    env = environment()
    try:
        Optimizer(env).visit(copy.deepcopy(tree, {id(env): env}), EvalContext(env))
    except EVALUATION_ERRORS as exc:
        return _reason(exc)
    return None


def _reason(exc: BaseException) -> str:
    # Jinja's messages name the parts (`None has no element 0`), never a record's values.
    if isinstance(exc, TemplateError) and exc.message:
        return exc.message
    return type(exc).__name__


def over_budget(tree: nodes.Template, *, autoescape: bool = False) -> str | None:
    """For `validate`: when a parsed value reads nothing from the record (it is constant),
    runs it under the budget and says which limit it goes over, if any. An operator or
    filter of it that fails saying why (`'a' - 1`, engine/operatorfail.py) raises that
    ExpressionError, for `validate` to report where the value is."""
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
        return None  # `none[0]`: folding_failure says it, or every record will
    return None
