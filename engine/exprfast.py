"""Rule expressions of the common shapes, run as Python closures instead of through a Jinja
context per evaluation.

Jinja compiles an expression to Python that looks each name up in a context, then reads
attributes, calls functions, filters and compares through the sandboxed environment. For
the shapes rules mostly take (paths, calls of the engine's functions, filters, tests,
comparisons, `and`/`or`/`not`, arithmetic, `~`, `if ... else`, literals) `compile_quick`
builds closures doing those same operations through the same environment (its `getattr`,
`getitem`, `call`, `call_binop`, `sized`, filters and tests), in the same order, so the
values, the sandbox's refusals and the budget's limits are the same. What goes is the
context, the generator and the name lookups of every evaluation. An expression of at most
`UNBUDGETED_OPERATIONS` operations, none of which repeats or pads (`bounded`: no `*`, `+`,
`%`, no filter such as `center` or `replace`), is run without opening the budget: its worst
case is that many passes, each in line with values whose sizes are checked as ever. Any
longer one runs under the budget, whose clock the filters check.
The engine's `money` and `decimal`, which always give a Decimal, are called as they are;
constant arguments are bound once (engine/exprcall.py); an expression that reads one path
is built from the path's value itself, and `f('const', path)` is read and called by one
closure (engine/exprread.call_reader).

Two phases keep it exact. First every name path the expression reads (`client_id`,
`line.work_code`) is looked up in the scope: pure reads of plain dicts. If one is missing,
crosses something that is not a plain dict, or a called name is not one of the engine's
functions, the closure answers `SLOW` before anything has run, and Jinja's own code decides
(an Undefined, an error); engine/exprread.py does that reading. Otherwise the operations
run, once. Anything this module does not
know (a loop, a macro, a filter that needs the context) is not compiled at all.
"""

from __future__ import annotations

import copy
import functools
import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from jinja2 import nodes
from jinja2.nodes import EvalContext
from jinja2.optimizer import Optimizer
from jinja2.utils import _PassArg

from tpsqbo_engine import budget as limits
from tpsqbo_engine import exprcall, exprvalue
from tpsqbo_engine.exprread import Build, Reader, call_reader, reader
from tpsqbo_engine.operatorfail import ARITHMETIC, COMPARES, SIGNS

# Names Jinja's compiler gives a meaning of its own instead of looking them up.
SPECIAL_NAMES = frozenset({"self", "loop", "caller", "varargs", "kwargs", "super"})
DICT_ATTRIBUTES = frozenset(dir(dict))
# The operations (filters, tests, calls, comparisons, `~` parts...) an expression may have
# and still run without the budget's clock: every filter checks the clock only when a budget
# is open, so a long chain of cheap passes (`notes|upper|length ~ ...` thousands of times)
# must run under one, as Jinja's code does.
UNBUDGETED_OPERATIONS = 16
# Constants that can be handed out again and again: nothing can change them.
_IMMUTABLE = (str, int, float, bool, type(None), Decimal)

# Those that can fail on their operands' kinds say which and what they were given, as
# Jinja's code does (engine/operatorfail.py).
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    **COMPARES,
}
# The binary operators the sandbox intercepts go through it; the others are Python's.
_BINARY: dict[type[nodes.BinExpr], str] = {
    nodes.Add: "+",
    nodes.Sub: "-",
    nodes.Mul: "*",
    nodes.Div: "/",
    nodes.FloorDiv: "//",
    nodes.Mod: "%",
    nodes.Pow: "**",
}
# Operators that make nothing to size (a number, a date's difference), checked as the
# environment's `call_binop` checks them: a failure says which and what it was given.
_PYTHON_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    symbol: ARITHMETIC[symbol] for symbol in ("-", "/", "//")
}
_UNARY: dict[type[nodes.UnaryExpr], Callable[[Any], Any]] = {
    nodes.Not: operator.not_,
    nodes.Neg: SIGNS["-"],
    nodes.Pos: SIGNS["+"],
}


class Environment(Protocol):
    """What the closures use of the rule environment (expr.RuleEnvironment)."""

    filters: dict[str, Any]
    tests: dict[str, Any]
    intercepted_binops: frozenset[str]
    intercepted_unops: frozenset[str]
    autoescape: Any

    def getattr(self, obj: Any, attribute: str) -> Any: ...
    def getitem(self, obj: Any, argument: Any) -> Any: ...
    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any: ...
    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any: ...
    def sized(self, value: Any) -> Any: ...
    def undefined(self, hint: str) -> Any: ...


class _Unsupported(Exception):
    """The expression has a part this module does not compile."""


class Quick(NamedTuple):
    """An expression compiled to closures: `run` takes the scope and gives the value, or
    `SLOW`; `defined`: the value cannot hold an Undefined (only attributes read from computed
    values, calls and some of Jinja's filters make one: data read by paths never holds one);
    `bounded`: it may run without the budget (at most UNBUDGETED_OPERATIONS operations, each
    one of exprcall.BOUNDED_FILTERS...); `itself`: the value is an Undefined or holds none (a
    call of the engine's functions on defined arguments); `operations`: how many it has."""

    run: Callable[[Reader], Any]
    defined: bool
    bounded: bool
    itself: bool = False
    operations: int = 0


def compile_quick(expression: nodes.Expr, env: Environment, function_type: type) -> Quick | None:
    """Closures for `expression` (as Jinja parsed it), or None when it has a part they do not
    cover."""
    # Folded as Jinja's compiler folds constant parts (`'a' ~ 'b'`, `'x' | upper`); a copy,
    # with the environment itself shared, not copied.
    tree = copy.deepcopy(expression, {id(env): env})
    tree = Optimizer(env).visit(tree, EvalContext(env))  # type: ignore[arg-type]
    compiler = _Compiler(env, function_type)
    try:
        build = compiler.node(tree)
        if len(compiler.paths) == 1 and not compiler.paths[0][2]:
            compiler = _Compiler(env, function_type, single=True)
            build = compiler.node(tree)
    except _Unsupported:
        return None
    run = reader(tuple(compiler.paths), build, function_type)
    call = _called_on_a_path(tree)
    path = None if call is None else _path_of(call[2])
    if call is not None and path is not None:
        run = call_reader(call[0], call[1], path, function_type, compiler.stopped)
    # `linked('clients', client_id)`: a call of defined arguments
    itself = isinstance(tree, nodes.Call) and not compiler.handed_undefined
    operations = compiler.operations
    bounded = compiler.bounded and operations <= UNBUDGETED_OPERATIONS
    return Quick(run, not compiler.undefined, bounded, itself, operations)


class _Compiler:
    """`single`: the expression reads one path (and calls nothing), which its builds are
    given as it is, not in a list of leaves (see exprread.reader)."""

    def __init__(self, env: Environment, function_type: type, single: bool = False) -> None:
        self.env = env
        self.single = single
        self.function_type = function_type
        self.paths: list[tuple[str, tuple[str, ...], bool]] = []
        self.undefined = False  # has a part that can make an Undefined
        self.handed_undefined = False  # the last call compiled has such a part in its arguments
        self.bounded = True  # every part is one the budget cannot stop (exprcall.BOUNDED_FILTERS)
        self.operations = 0  # every node but paths and constants, `~` once per part
        self.constants: dict[Build, Any] = {}  # the builds of constants, with their values

    def stopped(self) -> Any:
        """What a call out of which a StopIteration came gives, as the environment's `call`."""
        return self.env.undefined(exprcall.STOPPED)

    def path(self, node: nodes.Node, called: bool = False) -> Build | None:
        """A name and the keys read under it, taken in the first phase; None if `node` is not
        one."""
        path = _path_of(node)
        if path is None:
            return None
        self.paths.append((*path, called))
        return exprcall.same if self.single else operator.itemgetter(len(self.paths) - 1)

    def node(self, node: nodes.Node) -> Build:
        read = self.path(node)
        if read is not None:
            return read
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise _Unsupported(type(node).__name__)
        if not isinstance(node, nodes.Const):
            self.operations += len(node.nodes) if isinstance(node, nodes.Concat) else 1
        build: Build = method(node)
        return build

    def nodes_of(self, items: list[nodes.Expr]) -> tuple[Build, ...]:
        return tuple(self.node(item) for item in items)

    def _Const(self, node: nodes.Const) -> Build:
        value = node.value
        if not _frozen(value):
            raise _Unsupported("a mutable constant")  # Jinja makes a new one each time
        build: Build = lambda _leaves: value  # noqa: E731
        self.constants[build] = value
        return build

    # Literals are sized as Jinja's code sizes them (exprenv._BudgetedCode): all the way down.
    def _List(self, node: nodes.List) -> Build:
        items, sized = self.nodes_of(node.items), self.env.sized
        return lambda leaves: sized([item(leaves) for item in items])

    def _Tuple(self, node: nodes.Tuple) -> Build:
        if node.ctx != "load":
            raise _Unsupported("an assignment")
        items, sized = self.nodes_of(node.items), self.env.sized
        return lambda leaves: sized(tuple([item(leaves) for item in items]))

    def _Dict(self, node: nodes.Dict) -> Build:
        pairs = tuple((self.node(p.key), self.node(p.value)) for p in node.items)
        sized = self.env.sized
        return lambda leaves: sized({key(leaves): value(leaves) for key, value in pairs})

    def _Getattr(self, node: nodes.Getattr) -> Build:
        self.undefined = True
        inner, attribute, env = self.node(node.node), node.attr, self.env
        return lambda leaves: env.getattr(inner(leaves), attribute)

    def _Getitem(self, node: nodes.Getitem) -> Build:
        self.undefined = True
        inner, env = self.node(node.node), self.env
        if isinstance(node.arg, nodes.Slice):  # Jinja slices in Python, past the sandbox
            bounds = tuple(
                None if part is None else self.node(part)
                for part in (node.arg.start, node.arg.stop, node.arg.step)
            )
            if all(part is None or part in self.constants for part in bounds):  # `name[:100]`
                fixed = slice(*(None if part is None else self.constants[part] for part in bounds))
                return lambda leaves: inner(leaves)[fixed]
            return lambda leaves: inner(leaves)[
                slice(*(None if part is None else part(leaves) for part in bounds))
            ]
        argument = self.node(node.arg)
        return lambda leaves: env.getitem(inner(leaves), argument(leaves))

    def _Call(self, node: nodes.Call) -> Build:
        function = self.path(node.node, called=True)
        if function is None:
            raise _Unsupported("a call of something other than a function's name")
        args, kwargs = self.arguments(node)
        # The engine's functions make no Undefined: a call gives one when a StopIteration
        # came out of it (below), or holds one when it was handed one. For the last call
        # compiled, the whole expression's when it is one, this says whether it could be.
        self.handed_undefined = self.undefined
        self.undefined = True
        # the function was checked to be one of the engine's in the first phase
        return exprcall.called(function, args, kwargs, self.constants, self.env.undefined)

    def arguments(
        self, node: nodes.Call | nodes.Filter | nodes.Test
    ) -> tuple[tuple[Build, ...], tuple[tuple[str, Build], ...]]:
        """Positional arguments first, then keywords, each in order, as Jinja writes them."""
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            raise _Unsupported("*args or **kwargs")
        args = self.nodes_of(node.args)
        return args, tuple((str(k.key), self.node(k.value)) for k in node.kwargs)

    def _Filter(self, node: nodes.Filter) -> Build:
        return self.applied(node, self.env.filters)

    def _Test(self, node: nodes.Test) -> Build:
        return self.applied(node, self.env.tests)

    def applied(self, node: nodes.Filter | nodes.Test, table: dict[str, Any]) -> Build:
        """`value | name(args)` or `value is name(args)`: the function gets the environment
        first when it asks for it (truncate...); one that wants the context is not compiled."""
        func = table.get(node.name)
        self.undefined = self.undefined or node.name not in exprcall.DEFINED_OUT
        if func is None or node.node is None:
            raise _Unsupported("an unknown filter or test")
        passed = _PassArg.from_obj(func)
        if passed not in (None, _PassArg.environment):
            raise _Unsupported("a filter that needs the template context")
        if isinstance(node, nodes.Filter):
            self.bounded = self.bounded and node.name in exprcall.BOUNDED_FILTERS
            func = exprcall.UNWRAPPED.get(node.name, func)
        value = self.node(node.node)
        args, kwargs = self.arguments(node)
        if passed is _PassArg.environment:
            func = functools.partial(func, self.env)
        return exprcall.fixed(func, (value, *args), kwargs, self.constants)

    def _Compare(self, node: nodes.Compare) -> Build:
        if len(node.ops) != 1 or node.ops[0].op not in _COMPARE:
            raise _Unsupported("a chained comparison")
        left, right, compare = (
            self.node(node.expr),
            self.node(node.ops[0].expr),
            _COMPARE[node.ops[0].op],
        )
        if right in self.constants:  # `status != 'void'`
            constant = self.constants[right]
            if left is exprcall.same:
                return lambda value: compare(value, constant)
            return lambda leaves: compare(left(leaves), constant)
        return lambda leaves: compare(left(leaves), right(leaves))

    def _And(self, node: nodes.And) -> Build:
        left, right = self.node(node.left), self.node(node.right)
        return lambda leaves: left(leaves) and right(leaves)

    def _Or(self, node: nodes.Or) -> Build:
        left, right = self.node(node.left), self.node(node.right)
        return lambda leaves: left(leaves) or right(leaves)

    def _binary(self, node: nodes.BinExpr) -> Build:
        symbol, env = _BINARY[type(node)], self.env
        left, right = self.node(node.left), self.node(node.right)
        python = _PYTHON_BINARY.get(symbol)
        if python is not None:  # what the environment's `call_binop` does for them, inline
            return lambda leaves: python(left(leaves), right(leaves))
        if symbol not in env.intercepted_binops:
            raise _Unsupported(symbol)
        self.bounded = False  # `*`, `+` and `%` repeat and grow values: under the budget
        return lambda leaves: env.call_binop(None, symbol, left(leaves), right(leaves))

    _Add = _Sub = _Mul = _Div = _FloorDiv = _Mod = _Pow = _binary

    def _unary(self, node: nodes.UnaryExpr) -> Build:
        if self.env.intercepted_unops:
            raise _Unsupported("an intercepted unary operator")
        inner, apply = self.node(node.node), _UNARY[type(node)]
        return lambda leaves: apply(inner(leaves))

    _Not = _Neg = _Pos = _unary

    def _Concat(self, node: nodes.Concat) -> Build:
        if self.env.autoescape is not False:
            raise _Unsupported("`~` with autoescaping")
        parts, env = self.nodes_of(node.nodes), self.env
        fitting = limits.fitting_parts  # the text counted before it is joined, as Jinja's is
        shown = limits.shown  # and what `str` makes of a part, before it makes it
        listed = exprvalue.listed  # a generator (`lines | batch(2)`) as its list, as Jinja's
        return lambda leaves: env.sized(
            "".join(fitting([str(shown(listed(part(leaves)))) for part in parts]))
        )

    def _CondExpr(self, node: nodes.CondExpr) -> Build:
        if node.expr2 is None:
            raise _Unsupported("an inline if without else")
        test, then, otherwise = self.node(node.test), self.node(node.expr1), self.node(node.expr2)
        return lambda leaves: then(leaves) if test(leaves) else otherwise(leaves)


def _path_of(node: nodes.Node) -> tuple[str, tuple[str, ...]] | None:
    """A name and the keys read under it; None if `node` is not one (`.items` is the
    method of a dict, never its key)."""
    steps: list[str] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getattr) and node.attr not in DICT_ATTRIBUTES:
            steps.append(node.attr)
        elif isinstance(node, nodes.Getitem) and _is_text(node.arg):
            steps.append(str(node.arg.as_const()))  # getitem tries the key first, as dicts do
        else:
            return None
        node = node.node
    if not isinstance(node, nodes.Name) or node.ctx != "load" or node.name in SPECIAL_NAMES:
        return None
    return node.name, tuple(reversed(steps))


def _called_on_a_path(tree: nodes.Node) -> tuple[str, tuple[Any, ...], nodes.Node] | None:
    """For `f('a', 'b', x.y)`: the function's name, the constants and the path's node."""
    if not isinstance(tree, nodes.Call) or tree.kwargs or not tree.args:
        return None
    if tree.dyn_args is not None or tree.dyn_kwargs is not None:
        return None
    function = _path_of(tree.node)
    if function is None or function[1]:
        return None
    *head, last = tree.args
    if not all(isinstance(arg, nodes.Const) and _frozen(arg.value) for arg in head):
        return None
    return function[0], tuple(arg.as_const() for arg in head), last


def _is_text(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Const) and type(node.value) is str


def _frozen(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_frozen(item) for item in value)
    return isinstance(value, _IMMUTABLE)
