"""Rule expressions of the common shapes, run as Python closures instead of through a Jinja
context per evaluation.

Jinja compiles an expression to Python that looks each name up in a context, then reads
attributes, calls functions, filters and compares through the sandboxed environment. For
the shapes rules mostly take (paths, calls of the engine's functions, filters, tests,
comparisons, `and`/`or`/`not`, arithmetic, `~`, `if ... else`, literals) `compile_quick`
builds closures doing those same operations through the same environment (its `getattr`,
`getitem`, `call`, `call_binop`, `sized`, filters and tests), in the same order, so the
values, the sandbox's refusals and the budget's limits are the same. What goes is the
context, the generator and the name lookups of every evaluation.

Two phases keep it exact. First every name path the expression reads (`client_id`,
`line.work_code`) is looked up in the scope: pure reads of plain dicts. If one is missing,
crosses something that is not a plain dict, or a called name is not one of the engine's
functions, the closure answers `SLOW` before anything has run, and Jinja's own code decides
(an Undefined, an error). Otherwise the operations run, once. Anything this module does not
know (a loop, a macro, a filter that needs the context) is not compiled at all.
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from jinja2 import nodes
from jinja2.nodes import EvalContext
from jinja2.optimizer import Optimizer
from jinja2.utils import _PassArg

from tpsqbo_engine.filters import ALLOWED_TESTS

SLOW = object()  # "Jinja decides": nothing has run yet
Leaves = list[Any]
Build = Callable[[Leaves], Any]

# Names Jinja's compiler gives a meaning of its own instead of looking them up.
SPECIAL_NAMES = frozenset({"self", "loop", "caller", "varargs", "kwargs", "super"})
DICT_ATTRIBUTES = frozenset(dir(dict))
# Constants that can be handed out again and again: nothing can change them.
_IMMUTABLE = (str, int, float, bool, type(None), Decimal)

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gteq": operator.ge,
    "lt": operator.lt,
    "lteq": operator.le,
    "in": lambda left, right: left in right,
    "notin": lambda left, right: left not in right,
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
_PYTHON_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "-": operator.sub,
    "/": operator.truediv,
    "//": operator.floordiv,
}
_UNARY: dict[type[nodes.UnaryExpr], Callable[[Any], Any]] = {
    nodes.Not: operator.not_,
    nodes.Neg: operator.neg,
    nodes.Pos: operator.pos,
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


def compile_quick(
    expression: nodes.Expr, env: Environment, function_type: type
) -> tuple[Callable[[Reader], Any], bool] | None:
    """Closures for `expression` (as Jinja parsed it), or None when it has a part they do not
    cover. The closures take the scope and give the value, or `SLOW`; the flag is True when
    the value cannot hold an Undefined (only attributes read from computed values, calls
    and some of Jinja's filters make one: data read by paths never holds one)."""
    # Folded as Jinja's compiler folds constant parts (`'a' ~ 'b'`, `'x' | upper`); a copy,
    # with the environment itself shared, not copied.
    tree = copy.deepcopy(expression, {id(env): env})
    tree = Optimizer(env).visit(tree, EvalContext(env))  # type: ignore[arg-type]
    compiler = _Compiler(env, function_type)
    try:
        build = compiler.node(tree)
    except _Unsupported:
        return None
    run = _reader(tuple(compiler.paths), build, function_type, compiler.calls)
    return run, not compiler.undefined


# A path as read from a record (engine/sync/filling.py makes them for a record's shape): each
# key with whether the value it is read from is a filled one (a None there reads as empty
# fields) and whether the key is declared there (missing, it reads as None); then the filler
# of the value the path ends at (None: as it is), and whether it fills every value (a
# declared object) or lists only.
PathKey = tuple[str, bool, bool]
PathPlan = tuple[tuple[PathKey, ...], Callable[[Any], Any] | None, bool]
_MISSING = object()


def walk(record: Any, plan: PathPlan) -> Any:
    """A path of `record` as its filled copy would give it, or `SLOW`."""
    keys, final, always = plan
    value = record
    for key, parent_filled, declared in keys:
        if type(value) is dict:
            value = value.get(key, _MISSING)
        elif value is None and parent_filled:
            value = _MISSING  # a filled None: every declared field empty
        else:
            return SLOW
        if value is _MISSING:
            if not declared:
                return SLOW
            value = None
    if final is not None and (always or isinstance(value, list)):
        return final(value)
    return value


class Plans(Protocol):
    """The paths of one record shape (engine/sync/filling.Fields)."""

    def plan(self, name: str, steps: tuple[str, ...]) -> PathPlan: ...


class Reader(Protocol):
    """Where the names come from (expr.Scope): functions and aliases in `names`, over the
    fields of `record`, read by the plans of `fields` (None: `names` is everything)."""

    names: dict[str, Any]
    record: Any
    fields: Plans | None


Path = tuple[str, tuple[str, ...], bool]
_NO_FIELDS = object()


# Results kept for the same inputs: values nothing can change, and references (copied out).
_KEPT = frozenset({str, int, bool, float, Decimal, date, type(None)})
MAX_KEPT = 20_000
Kept = dict[tuple[Any, ...], Any]
_CALLED = object()  # a function's place in a key


def _key(leaves: Leaves, function_type: type) -> tuple[Any, ...] | None:
    """The leaves as a key that only equal leaves share, or None. Equal is not enough: 1,
    1.0, True and Decimal('1.00') are equal in Python but not to `| string`, so a number is
    keyed with what tells them apart; a float or anything that can change is not keyed."""
    key = []
    for value in leaves:
        kind = type(value)
        if kind is str or kind is int or kind is date or value is None:
            key.append(value)
        elif kind is function_type:
            # Not the function itself: the kept results outlive the plan, and a plan's
            # functions hold its resolver and snapshot. Its place in the key says which it
            # is: the results are kept apart per `fields` (one plan's record kind), where a
            # name gives one function.
            key.append(_CALLED)
        elif kind is Decimal:
            key.append(value.as_tuple())
        elif kind is bool:
            key.append((value,))
        else:
            return None
    return tuple(key)


def path_reader(name: str, steps: tuple[str, ...]) -> Callable[[Reader], Any]:
    """One path read as Jinja would read it, or `SLOW` (a key missing, something not a
    plain dict on the way): what `_reader` does for one leaf, spelled out for the most
    common rule value of all."""
    last: list[tuple[Any, PathPlan | None, Any]] = [(_NO_FIELDS, None, _DEEP)]

    def get(scope: Reader) -> Any:
        fields = scope.fields
        known = last[0]  # read once: another thread may replace it meanwhile
        if known[0] is not fields:
            plan = None if fields is None else fields.plan(name, steps)
            known = last[0] = (fields, plan, _absent(plan))
        value = scope.names.get(name, SLOW)
        if value is not SLOW:
            for step in steps:
                if type(value) is not dict:
                    return SLOW
                value = value.get(step, SLOW)
            return value
        plan, absent = known[1], known[2]
        if plan is None:
            return SLOW
        record = scope.record
        if absent is _DEEP or type(record) is not dict:
            return walk(record, plan)
        value = record.get(name, absent)  # a top-level field
        final = plan[1]
        if final is not None and value is not SLOW and (plan[2] or isinstance(value, list)):
            return final(value)
        return value

    return get


def _absent(plan: PathPlan | None) -> Any:
    """What a record without the field gives, for a path that is one top-level field (None
    when declared); `_DEEP` for any other."""
    if plan is None or len(plan[0]) != 1:
        return _DEEP
    return None if plan[0][0][2] else SLOW


_Leaf = tuple[str, tuple[str, ...], bool, PathPlan | None, Any]
_DEEP = object()  # a path that is not one top-level field


def _reader(
    paths: tuple[Path, ...], build: Build, function_type: type, calls: bool
) -> Callable[[Reader], Any]:
    """Reads the leaves, then builds the value. A value that calls functions, when every
    leaf is a plain value or a pure function, is built once per set of leaves and record
    shape (a new plan reads new records through new shapes' plans): `ref('TaxCode',
    lookup('tax-codes', ...))` gives the same for the same inputs."""
    # Per record shape (the one last met): each path with its plan, and for a path that is
    # one top-level field, what a record without it gives (None when declared).
    last: list[tuple[Any, tuple[_Leaf, ...], Kept]] = [(_NO_FIELDS, (), {})]

    def leaves_of(fields: Plans | None) -> tuple[Any, tuple[_Leaf, ...], Kept]:
        made = []
        for name, steps, called in paths:
            plan = None if fields is None else fields.plan(name, steps)
            made.append((name, steps, called, plan, _absent(plan)))
        known = last[0] = (fields, tuple(made), {})
        return known

    def run(scope: Reader) -> Any:
        fields = scope.fields
        known = last[0]  # read once: another thread may replace it meanwhile
        if known[0] is not fields:
            known = leaves_of(fields)
        names, record = scope.names, scope.record
        kept = known[2]
        leaves: Leaves = []
        keep = calls and fields is not None
        for name, steps, called, plan, absent in known[1]:
            value = names.get(name, SLOW)
            if value is SLOW:
                if plan is None:
                    return SLOW
                if absent is not _DEEP and type(record) is dict:  # a top-level field
                    value = record.get(name, absent)
                    if value is SLOW:
                        return SLOW
                    final = plan[1]
                    if final is not None and (plan[2] or isinstance(value, list)):
                        value = final(value)
                else:
                    value = walk(record, plan)
                    if value is SLOW:
                        return SLOW
            elif steps:
                for step in steps:
                    if type(value) is not dict:
                        return SLOW
                    value = value.get(step, SLOW)
                if value is SLOW:
                    return SLOW
            if called:
                if type(value) is not function_type:
                    return SLOW
                keep = keep and getattr(value, "pure", False) is True
            leaves.append(value)
        key = _key(leaves, function_type) if keep else None
        if key is None:
            return build(leaves)
        found = kept.get(key, SLOW)
        if found is not SLOW:
            return dict(found) if type(found) is dict else found
        made = build(leaves)
        kind = type(made)
        if kind in _KEPT or (kind is dict and all(type(v) is str for v in made.values())):
            if len(kept) >= MAX_KEPT:
                kept.clear()
            kept[key] = dict(made) if kind is dict else made  # its own copy: nobody changes it
        return made

    return run


class _Compiler:
    def __init__(self, env: Environment, function_type: type) -> None:
        self.env = env
        self.function_type = function_type
        self.paths: list[tuple[str, tuple[str, ...], bool]] = []
        self.calls = False  # calls a function: worth keeping its results
        self.undefined = False  # has a part that can make an Undefined

    def path(self, node: nodes.Node, called: bool = False) -> Build | None:
        """A name and the keys read under it, taken in the first phase; None if `node` is not
        one (`.items` is the method of a dict, never its key)."""
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
        self.paths.append((node.name, tuple(reversed(steps)), called))
        return operator.itemgetter(len(self.paths) - 1)

    def node(self, node: nodes.Node) -> Build:
        read = self.path(node)
        if read is not None:
            return read
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise _Unsupported(type(node).__name__)
        build: Build = method(node)
        return build

    def nodes_of(self, items: list[nodes.Expr]) -> tuple[Build, ...]:
        return tuple(self.node(item) for item in items)

    def _Const(self, node: nodes.Const) -> Build:
        value = node.value
        if not _frozen(value):
            raise _Unsupported("a mutable constant")  # Jinja makes a new one each time
        return lambda _leaves: value

    def _List(self, node: nodes.List) -> Build:
        items = self.nodes_of(node.items)
        return lambda leaves: [item(leaves) for item in items]

    def _Tuple(self, node: nodes.Tuple) -> Build:
        if node.ctx != "load":
            raise _Unsupported("an assignment")
        items = self.nodes_of(node.items)
        return lambda leaves: tuple([item(leaves) for item in items])

    def _Dict(self, node: nodes.Dict) -> Build:
        pairs = tuple((self.node(p.key), self.node(p.value)) for p in node.items)
        return lambda leaves: {key(leaves): value(leaves) for key, value in pairs}

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
            return lambda leaves: inner(leaves)[
                slice(*(None if part is None else part(leaves) for part in bounds))
            ]
        argument = self.node(node.arg)
        return lambda leaves: env.getitem(inner(leaves), argument(leaves))

    def _Call(self, node: nodes.Call) -> Build:
        function = self.path(node.node, called=True)
        self.calls = self.undefined = True
        if function is None:
            raise _Unsupported("a call of something other than a function's name")
        args, kwargs = self.arguments(node)
        undefined = self.env.undefined

        # What the environment's `call` does for one of the engine's functions (checked in
        # the first phase): call what it wraps; a StopIteration out of it is an Undefined.
        def call(leaves: Leaves) -> Any:
            wrapped = function(leaves).func
            try:
                return wrapped(*args(leaves), **kwargs(leaves))
            except StopIteration:
                return undefined(
                    "value was undefined because a callable raised a StopIteration exception"
                )

        return call

    def arguments(
        self, node: nodes.Call | nodes.Filter | nodes.Test
    ) -> tuple[Callable[[Leaves], tuple[Any, ...]], Callable[[Leaves], dict[str, Any]]]:
        """Positional arguments first, then keywords, each in order, as Jinja writes them."""
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            raise _Unsupported("*args or **kwargs")
        args = self.nodes_of(node.args)
        kwargs = tuple((str(k.key), self.node(k.value)) for k in node.kwargs)
        return _positional(args), _keywords(kwargs)

    def _Filter(self, node: nodes.Filter) -> Build:
        return self.applied(node, self.env.filters)

    def _Test(self, node: nodes.Test) -> Build:
        return self.applied(node, self.env.tests)

    def applied(self, node: nodes.Filter | nodes.Test, table: dict[str, Any]) -> Build:
        """`value | name(args)` or `value is name(args)`: the function gets the environment
        first when it asks for it (truncate...); one that wants the context is not compiled."""
        func = table.get(node.name)
        self.undefined = self.undefined or node.name not in _DEFINED_OUT
        if func is None or node.node is None:
            raise _Unsupported("an unknown filter or test")
        passed = _PassArg.from_obj(func)
        if passed not in (None, _PassArg.environment):
            raise _Unsupported("a filter that needs the template context")
        value = self.node(node.node)
        args, kwargs = self.arguments(node)
        if passed is _PassArg.environment:
            env = self.env
            return lambda leaves: func(env, value(leaves), *args(leaves), **kwargs(leaves))
        return lambda leaves: func(value(leaves), *args(leaves), **kwargs(leaves))

    def _Compare(self, node: nodes.Compare) -> Build:
        if len(node.ops) != 1 or node.ops[0].op not in _COMPARE:
            raise _Unsupported("a chained comparison")
        left, right, compare = (
            self.node(node.expr),
            self.node(node.ops[0].expr),
            _COMPARE[node.ops[0].op],
        )
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
        if symbol in env.intercepted_binops:
            return lambda leaves: env.call_binop(None, symbol, left(leaves), right(leaves))
        python = _PYTHON_BINARY.get(symbol)
        if python is None:
            raise _Unsupported(symbol)
        return lambda leaves: python(left(leaves), right(leaves))

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
        return lambda leaves: env.sized("".join(map(str, [part(leaves) for part in parts])))

    def _CondExpr(self, node: nodes.CondExpr) -> Build:
        if node.expr2 is None:
            raise _Unsupported("an inline if without else")
        test, then, otherwise = self.node(node.test), self.node(node.expr1), self.node(node.expr2)
        return lambda leaves: then(leaves) if test(leaves) else otherwise(leaves)


# Filters and tests that make no Undefined of their own (`first` of an empty list, `map` of
# a missing attribute do): the engine's filters, Jinja's that only transform their input,
# and every test rules may use, as a test answers True or False.
_DEFINED_OUT = (
    frozenset(
        {
            "money",
            "decimal",
            "merge_by",
            "qbo_name",
            "qbo_display_name",
            "abs",
            "length",
            "lower",
            "upper",
            "trim",
            "title",
            "capitalize",
            "string",
            "int",
            "round",
            "replace",
            "truncate",
            "list",
        }
    )
    | ALLOWED_TESTS
)
_NONE: tuple[Any, ...] = ()


def _positional(args: tuple[Build, ...]) -> Callable[[Leaves], tuple[Any, ...]]:
    # the usual counts spelled out: these run for every argument of every call
    if not args:
        return lambda _leaves: _NONE
    if len(args) == 1:
        (first,) = args
        return lambda leaves: (first(leaves),)
    if len(args) == 2:
        first, second = args
        return lambda leaves: (first(leaves), second(leaves))
    return lambda leaves: tuple([arg(leaves) for arg in args])


def _keywords(kwargs: tuple[tuple[str, Build], ...]) -> Callable[[Leaves], dict[str, Any]]:
    if not kwargs:
        return lambda _leaves: {}
    return lambda leaves: {key: value(leaves) for key, value in kwargs}


def _is_text(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Const) and type(node.value) is str


def _frozen(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_frozen(item) for item in value)
    return isinstance(value, _IMMUTABLE)
