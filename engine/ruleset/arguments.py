"""The checker's side of filter and function arguments: how many, which keywords, and, for
the constants written in the rule, what kind (filter_signatures.py). A field name given to
a filter (`merge_by('work_code')`, `sum(attribute='amount')`) must be a field of the items
filtered, as `line.work_code` must: a typo there merges every line into one, silently."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import nodes

from tpsqbo_engine import expr
from tpsqbo_engine.functions import FunctionSpec
from tpsqbo_engine.ruleset.checking import REFUSED, Finding, choices_hint, did_you_mean
from tpsqbo_engine.ruleset.filter_signatures import (
    FILTERS,
    MINIMUMS,
    ROUND_METHODS,
    TESTS,
    FilterSignature,
    wrong_kind,
)
from tpsqbo_engine.ruleset.shapes import Shape

_MISSING = object()


def constant(node: nodes.Node) -> Any:
    """The value of a constant written in the rule (`2`, `-3`, `'a'`), or _MISSING."""
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, nodes.Neg | nodes.Pos) and isinstance(node.node, nodes.Const):
        value = node.node.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return -value if isinstance(node, nodes.Neg) else value
    if isinstance(node, nodes.List | nodes.Tuple):  # `start=[]`: a list, whatever it holds
        items = [constant(item) for item in node.items]
        return (
            _MISSING
            if _MISSING in items
            else (list if isinstance(node, nodes.List) else tuple)(items)
        )
    return _MISSING


def _free_form(items: Shape) -> bool:
    """Whether nothing says which fields `items` have: unknown (not refused: that is
    reported already), or an object declaring none."""
    if items is REFUSED:
        return False
    return not items.known or bool(items.json_types() & {"object"} and not items.properties())


def shown(value: Any) -> str:
    """A constant as the rule writes it."""
    words = {True: "true", False: "false", None: "none"}
    return words[value] if value is None or isinstance(value, bool) else repr(value)


class ArgumentChecks:
    """Mixed into the checker: the arguments of filter calls and engine function calls."""

    findings: list[Finding]

    def report(self, node: nodes.Node, code: str, message: str, hint: str = "") -> Shape:
        raise NotImplementedError

    def _attribute(self, node: nodes.Node, owner: Shape, name: str) -> Shape:
        raise NotImplementedError

    # Functions ------------------------------------------------------------------------
    def check_function_kinds(self, node: nodes.Call, spec: FunctionSpec) -> None:
        for position, (arg, kind) in enumerate(zip(node.args, spec.kinds, strict=False), 1):
            value = constant(arg)
            wanted = "" if value is _MISSING else wrong_kind(kind, value, none_ok=False)
            if wanted:
                self.report(
                    arg,
                    "expr.bad-call",
                    f"{spec.name}()'s argument {position} must be {wanted}, not {shown(value)}",
                    f"{spec.name}: {spec.summary}",
                )

    # Filters --------------------------------------------------------------------------
    def check_filter_call(self, node: nodes.Filter, subject: Shape) -> None:
        signature = FILTERS.get(node.name)
        if signature is None:
            return  # not a filter rules may use: reported by name
        bound = self._bind_arguments(node, signature)
        if bound is None:
            return
        for name, arg in bound.items():
            self._check_constant(node, signature, name, arg, subject)
        if node.name in ("truncate", "round", "wordwrap", "batch", "qbo_name"):
            self._check_limits(node, signature, bound)
        elif node.name in ("map", "selectattr", "rejectattr"):
            self._check_passed_on(node, subject)

    def check_test_call(self, node: nodes.Test) -> None:
        """`x is eq(y)`: as many arguments as the test takes, as a filter's are checked."""
        signature = TESTS.get(node.name)
        if signature is not None:
            self._bind_arguments(node, signature, "the test ")

    def _bad(self, node: nodes.Node, signature: FilterSignature, message: str) -> None:
        self.report(node, "expr.bad-call", message, signature.usage())

    def _bind_arguments(
        self, node: nodes.Filter | nodes.Test, signature: FilterSignature, what: str = ""
    ) -> dict[str, nodes.Expr] | None:
        """The arguments by parameter name, as Python would bind them; None (reported)
        when they do not bind. `what` goes before the name ("the test ")."""
        params, name = signature.params, what + node.name
        if len(node.args) > len(params) and not signature.variadic:
            takes = f"at most {len(params)} argument(s)" if params else "no arguments"
            self._bad(node, signature, f"{name} takes {takes}, not {len(node.args)}")
            return None
        bound = {p.name: arg for p, arg in zip(params, node.args, strict=False)}
        for keyword in node.kwargs:
            key = str(keyword.key)  # a Keyword's key is its name (Jinja types it as a Pair's)
            if signature.param(key) is not None and not signature.keywords:
                self._bad(node, signature, f"{name} takes its arguments in order, not '{key}='")
                return None
            known = signature.param(key) is not None
            if not known and signature.variadic:
                continue  # passed on: map(attribute=...), format(name=...)
            if not known:
                self.report(
                    node,
                    "expr.bad-call",
                    f"{name} has no argument '{key}'",
                    did_you_mean(key, [p.name for p in params]) or signature.usage(),
                )
                return None
            if key in bound:
                self._bad(node, signature, f"{name}'s argument '{key}' is given twice")
                return None
            bound[key] = keyword.value
        missing = [p.name for p in params if p.required and p.name not in bound]
        if missing:
            self._bad(node, signature, f"{name} needs its argument '{missing[0]}'")
            return None
        return bound

    def _check_constant(
        self,
        node: nodes.Filter,
        signature: FilterSignature,
        name: str,
        arg: nodes.Expr,
        subject: Shape,
    ) -> None:
        param = signature.param(name)
        value = constant(arg)
        if param is None or value is _MISSING:
            return
        none_ok = param.default is None and not param.required
        wanted = wrong_kind(param.kind, value, none_ok=none_ok)
        if wanted:
            message = f"{node.name}'s {name} must be {wanted}, not {shown(value)}"
            self._bad(arg, signature, message)
        elif param.kind == "attribute" and isinstance(value, str):
            self._field_names(arg, node.name, subject.item(), value)

    def _field_names(self, node: nodes.Node, filter_name: str, items: Shape, text: str) -> None:
        """Each field an attribute argument reads, as Jinja reads it: `a.b` goes down,
        a number picks an item, `sort` takes several separated by commas; merge_by reads
        one key as written."""
        if filter_name == "merge_by":
            if _free_form(items):
                self._unchecked_merge(node, text)
            else:
                self._attribute(node, items, text)
            return
        for path in text.split(",") if filter_name == "sort" else [text]:
            owner = items
            for part in path.split("."):
                owner = owner.item() if part.isdigit() else self._attribute(node, owner, part)
                if owner is REFUSED or not owner.known:
                    break

    def _unchecked_merge(self, node: nodes.Node, text: str) -> None:
        """merge_by of items whose fields are not known here (what `map` or a lookup gives):
        its field cannot be checked, and a name that is no field of the items merges them
        all into one, silently. A warning: the name may well be right."""
        line = getattr(node, "lineno", 1) or 1
        self.findings.append(
            Finding(
                "expr.unchecked-field",
                f"merge_by's field '{text}' is not checked: the fields of the items merged "
                "are not known here, and a name that is not one of them merges every item "
                "into one",
                "check the name against the items' fields; merge a record's list or wip() "
                "(`lines | merge_by('work_code')`), whose fields are checked",
                line,
                level="warning",
            )
        )

    def _check_limits(
        self, node: nodes.Filter, signature: FilterSignature, bound: Mapping[str, nodes.Expr]
    ) -> None:
        """What the filters themselves refuse for every record, when written as constants."""
        values = {name: constant(arg) for name, arg in bound.items()}
        if node.name == "round":
            method = values.get("method", "common")
            if isinstance(method, str) and method not in ROUND_METHODS:
                self._bad(node, signature, f"round's method must be {', '.join(ROUND_METHODS)}")
            return
        for (filtered, param), least in MINIMUMS.items():
            value = values.get(param)
            if filtered != node.name or isinstance(value, bool) or not isinstance(value, int):
                continue
            if value < least:
                message = f"{filtered}'s {param} must be {least} or more, not {value}"
                self._bad(node, signature, message)
        if node.name != "truncate":
            return
        length, end = values.get("length", 255), values.get("end", "...")
        if isinstance(length, int) and isinstance(end, str) and length < len(end):
            message = f"truncate's length must be at least {len(end)}, the length of its end"
            self._bad(node, signature, f"{message} {end!r}, not {length}")

    def _check_passed_on(self, node: nodes.Filter, subject: Shape) -> None:
        """map passes its arguments to a filter (or reads a field); selectattr/rejectattr
        to a test: the names must be ones rules may use."""
        if node.name == "map":
            self._check_map(node, subject)
            return
        test = constant(node.args[1]) if len(node.args) > 1 else _MISSING
        if isinstance(test, str) and test not in expr.ALLOWED_TESTS:
            self.report(
                node.args[1],
                "expr.unknown-test",
                f"unknown test '{test}'",
                choices_hint(test, expr.ALLOWED_TESTS),
            )
        elif isinstance(test, str) and not node.kwargs:  # selectattr('f', 'eq', value)
            passed = nodes.Test(node.args[1], test, node.args[2:], [], None, None)
            passed.lineno = node.lineno
            self.check_test_call(passed)

    def _check_map(self, node: nodes.Filter, subject: Shape) -> None:
        signature = FILTERS["map"]
        keywords = {str(kw.key): kw.value for kw in node.kwargs}
        if not node.args:
            if "attribute" not in keywords or set(keywords) - {"attribute", "default"}:
                self._bad(node, signature, "map takes a filter's name, or attribute= (default=)")
                return
            field = constant(keywords["attribute"])
            if isinstance(field, str):
                self._field_names(keywords["attribute"], "map", subject.item(), field)
            return
        name = constant(node.args[0])
        allowed = set(expr.JINJA_FILTERS) | set(expr.ENGINE_FILTERS)
        if isinstance(name, str) and name not in allowed:
            self.report(
                node.args[0],
                "expr.unknown-filter",
                f"unknown filter '{name}'",
                choices_hint(name, allowed),
            )
        elif isinstance(name, str):  # map('truncate', 20): truncate(20) of each item
            each = nodes.Filter(None, name, node.args[1:], node.kwargs, None, None)
            each.lineno = node.lineno
            self.check_filter_call(each, subject.item())
