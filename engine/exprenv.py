"""The sandboxed Jinja environment rules are evaluated in (engine/expr.py says how, in
layers): only the engine's functions callable, `**` refused, `*` `+` `%` and `~` sized by the
budget, loops counted, trees nested too deeply refused, Jinja's globals removed and its
filters and tests allow-listed (filters.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, cast

from jinja2 import StrictUndefined, nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tpsqbo_engine import budget as limits
from tpsqbo_engine.exprfast import DICT_ATTRIBUTES
from tpsqbo_engine.exprvalue import listed
from tpsqbo_engine.filterbudget import guarded, tested
from tpsqbo_engine.filters import ALLOWED_TESTS, ENGINE_FILTERS, JINJA_FILTERS
from tpsqbo_engine.operatorfail import ARITHMETIC, COMPARES, compared, signed

MAX_REPEAT = 10_000
# Whole numbers multiplied: a number squared again and again doubles its digits each time,
# and one multiplication of millions of digits runs for a minute in a call the clock cannot
# stop. No amount, count or id needs more than this.
MAX_PRODUCT_BITS = 4096


class RuleFunction:
    """A function rules may call (lookup, ref, linked, record, today). `pure`: it gives the
    same for the same arguments as long as it lives (for one plan), so its results can be
    kept (engine/exprread.py keeps them per function object, referred to weakly)."""

    __slots__ = ("__weakref__", "func", "pure")

    def __init__(self, func: Callable[..., Any], pure: bool = False) -> None:
        self.func = func
        self.pure = pure

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)


class _BudgetedCode(CodeGenerator):
    """Jinja's code generator, with `~` (which no sandbox hook sees) sized like `+`: its
    parts' text counted before they are joined (budget.fitting_parts), the text sized."""

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        # Jinja's own, but for the two calls around the join and its parts
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.sized({join}(environment.fitting_parts((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))))")

    @optimizeconst
    def visit_Compare(self, node: nodes.Compare, frame: Frame) -> None:
        # Comparisons that can fail on their operands' kinds (`<`, `in`) go through
        # `compared`, which says which and what it was given; `==` and `!=`, Python's own.
        # A chain `a < b < c` is `a < b and b < c` with `b` evaluated once, as Python's is.
        if all(op.op not in COMPARES for op in node.ops):
            super().visit_Compare(node, frame)
            return
        self.write("(")
        left: str | None = None  # the name the previous right operand was kept in
        for index, operand in enumerate(node.ops):
            last = index == len(node.ops) - 1
            kept = None if last else self.temporary_identifier()
            self.write(" and " if index else "")
            self._comparison(node.expr if left is None else left, operand, kept, frame)
            left = kept
        self.write(")")

    def _comparison(
        self, left: nodes.Expr | str, operand: nodes.Operand, kept: str | None, frame: Frame
    ) -> None:
        """One comparison of a chain; `kept`: the name its right operand is kept in."""
        checked = operand.op in COMPARES
        self.write(f"environment.compared({operand.op!r}, " if checked else "(")
        if isinstance(left, str):
            self.write(left)
        else:
            self.visit(left, frame)
        self.write(", " if checked else f" {_PYTHON_COMPARE[operand.op]} ")
        self.write("" if kept is None else f"({kept} := ")
        self.visit(operand.expr, frame)
        self.write(")" if kept is None else "))")

    # `-x` and `+x` through `signed`, which says which and what it was given (`-name` of a
    # text), as `compared` does; not intercepted unary operators, which exprfast leaves to
    # Jinja's code.
    @optimizeconst
    def visit_Neg(self, node: nodes.UnaryExpr, frame: Frame) -> None:
        self._signed("-", node, frame)

    @optimizeconst
    def visit_Pos(self, node: nodes.UnaryExpr, frame: Frame) -> None:
        self._signed("+", node, frame)

    def _signed(self, symbol: str, node: nodes.UnaryExpr, frame: Frame) -> None:
        self.write(f"environment.signed({symbol!r}, ")
        self.visit(node.node, frame)
        self.write(")")

    # A list, tuple or mapping written in a rule (`[b, b, b]`, `{'a': b}`) is sized like
    # one an operator makes: what it holds, all the way down (budget.sized).
    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self.write("environment.sized(")
        super().visit_List(node, frame)
        self.write(")")

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self.write("environment.sized(")
        super().visit_Dict(node, frame)
        self.write(")")

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx != "load":  # the names of `{% for a, b in ... %}`: nothing made
            super().visit_Tuple(node, frame)
            return
        self.write("environment.sized(")
        super().visit_Tuple(node, frame)
        self.write(")")


_PYTHON_COMPARE = {"eq": "==", "ne": "!="}


class RuleEnvironment(ImmutableSandboxedEnvironment):
    # every one: a failure says which operator and the kinds it was given (operatorfail.py)
    intercepted_binops = frozenset({"*", "**", "+", "%", "-", "/", "//"})
    code_generator_class = _BudgetedCode
    sized = staticmethod(limits.sized)
    fitting_parts = staticmethod(lambda parts: limits.fitting_parts(listed_parts(parts)))
    concat = staticmethod(limits.captured)  # what `{% set x %}...{% endset %}` captures, sized
    budget_loop = RuleFunction(limits.counted)
    budget_include = RuleFunction(limits.included)
    compared = staticmethod(compared)
    signed = staticmethod(signed)

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "**":
            raise SecurityError("the ** operator is not allowed in rules")
        if op == "*":
            if type(left) is int and type(right) is int:
                _check_product(left, right)
            for seq, count in ((left, right), (right, left)):
                repeated = isinstance(seq, str | list | tuple) and isinstance(count, int)
                if repeated and count > MAX_REPEAT:
                    raise SecurityError(f"repeating a value more than {MAX_REPEAT:,} times")
                if repeated:
                    limit = limits.MAX_SIZE if isinstance(seq, str) else limits.MAX_ITEMS
                    limits.fits(len(seq) * count, "a repeated value", limit)
                    limits.repeated_fits(seq, count)
        if op == "%":
            limits.check_format(left, right)
        return limits.sized(ARITHMETIC[op](left, right))

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
            raise too_deep(name, filename) from None
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
        for load in source.find_all(_LOADS):  # so does every template included
            _budget_load(load)
        return super()._generate(source, name, filename, defer_init)


def _budget_load(load: nodes.Node) -> None:
    # Include, Extends, Import and FromImport all name the template in `template`
    named: Any = load
    named.template = nodes.Call(
        nodes.EnvironmentAttribute("budget_include"), [named.template], [], None, None
    ).set_lineno(load.lineno)


# The tags that render another template (of the pack's, through bindings.PackLoader).
_LOADS = (nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)


def _check_product(left: int, right: int) -> None:
    if left.bit_length() + right.bit_length() > MAX_PRODUCT_BITS:
        raise limits.BudgetExceeded(
            f"a product of whole numbers over {MAX_PRODUCT_BITS:,} bits (about "
            f"{int(MAX_PRODUCT_BITS * 0.30103):,} digits)"
        )


def too_deep(name: str | None, filename: str | None) -> TemplateSyntaxError:
    return TemplateSyntaxError(
        f"the expression is nested more than {limits.MAX_DEPTH} levels deep", 1, name, filename
    )


def _check_depth(tree: nodes.Node, name: str | None, filename: str | None) -> None:
    """Refuses trees nested past MAX_DEPTH (walked without recursion, so it cannot overflow)."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limits.MAX_DEPTH:
            raise too_deep(name, filename)
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())


def listed_parts(parts: Sequence[Any]) -> Sequence[Any]:
    """The parts of a `~`, a generator among them (`'rows: ' ~ lines | batch(2)`) made its
    list, as `_shown` makes one `{{ ... }}` outputs."""
    if all(type(part) is str for part in parts):
        return parts
    return [listed(part) for part in parts]


def _shown(value: Any) -> Any:
    """What `{{ ... }}` outputs in a text: a generator (`{{ lines | batch(2) }}`) as its list,
    not Jinja's "<generator object ...>", its text known to fit first."""
    return limits.shown(listed(value))


def rule_function(func: Callable[..., Any], pure: bool = False) -> RuleFunction:
    return RuleFunction(func, pure)


@cache
def environment(*, autoescape: bool = False) -> RuleEnvironment:
    # what a template outputs is made a text: its size known first (`{{ list_of_lists }}`)
    env = RuleEnvironment(undefined=StrictUndefined, autoescape=autoescape, finalize=_shown)
    env.globals.clear()
    allowed = {name: f for name, f in env.filters.items() if name in JINJA_FILTERS}
    env.filters = {name: guarded(name, f) for name, f in {**allowed, **ENGINE_FILTERS}.items()}
    tests = cast("dict[str, Callable[..., Any]]", env.tests)  # Jinja's type: only "function"
    env.tests = {name: tested(name, t) for name, t in tests.items() if name in ALLOWED_TESTS}
    return env
