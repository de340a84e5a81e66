"""Static checks of rule expressions and templates, before anything runs.

Walks Jinja's AST with a scope of typed names: every variable and attribute must exist in
the entity schema it comes from, filters, tests and functions must be on the allow-lists,
`lookup()` and `linked()` must name tables and mappings that exist, and anything that could
reach interpreter internals is reported as `expr.unsafe`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError

from tpsqbo_engine import assets, expr
from tpsqbo_engine.functions import REGISTRY, RULE_FUNCTIONS
from tpsqbo_engine.ruleset.arguments import ArgumentChecks
from tpsqbo_engine.ruleset.calls import CallChecks
from tpsqbo_engine.ruleset.checking import (
    QBO_REF_ENTITIES,
    REFUSED,
    Finding,
    Scope,
    choices_hint,
    did_you_mean,
)
from tpsqbo_engine.ruleset.shapes import ANY, Shape, scalar_shape
from tpsqbo_engine.ruleset.statements import StatementChecks

__all__ = ["QBO_REF_ENTITIES", "Finding", "Scope", "did_you_mean"]

FUNCTIONS = tuple(sorted(RULE_FUNCTIONS))


class _Checker(CallChecks, ArgumentChecks, StatementChecks):
    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.findings: list[Finding] = []
        self.references: list[tuple[str, int]] = []  # templates extended or included

    def report(self, node: nodes.Node, code: str, message: str, hint: str = "") -> Shape:
        self.findings.append(Finding(code, message, hint, getattr(node, "lineno", 1) or 1))
        return REFUSED if code.startswith("expr.unsafe") else ANY

    # Expressions -----------------------------------------------------------------------
    def shape_of(self, node: nodes.Node | None, variables: Mapping[str, Shape]) -> Shape:
        if node is None:
            return ANY
        visit = getattr(self, f"_visit_{type(node).__name__}", None)
        if visit is not None:
            shape: Shape = visit(node, variables)
            return shape
        for child in node.iter_child_nodes():
            self.shape_of(child, variables)
        return ANY

    def _visit_Name(self, node: nodes.Name, variables: Mapping[str, Shape]) -> Shape:
        if node.name in variables:
            return variables[node.name]
        if node.name in expr.FORBIDDEN_NAMES:
            return self.report(
                node,
                "expr.unsafe",
                f"'{node.name}' is not available in rules",
                "rules see only the record's fields and the engine's functions",
            )
        if node.name in self.scope.functions:
            return self.report(
                node,
                "expr.not-called",
                f"'{node.name}' is a function",
                f"call it: {node.name}(...)",
            )
        return self.report(
            node,
            "expr.unknown-variable",
            f"unknown name '{node.name}'",
            choices_hint(node.name, variables),
        )

    def _attribute(self, node: nodes.Node, owner: Shape, name: str) -> Shape:
        if owner is REFUSED:
            return REFUSED
        if name.startswith("_"):
            return self.report(
                node,
                "expr.unsafe",
                f"attribute '{name}' is not accessible: names starting with _ "
                "are never reachable from rules",
                "use the record's fields only",
            )
        found = owner.attribute(name)
        if found is None:
            return self.report(
                node,
                "expr.unknown-field",
                f"'{owner.label}' has no field '{name}'",
                choices_hint(name, owner.properties()),
            )
        return found

    def _visit_Getattr(self, node: nodes.Getattr, variables: Mapping[str, Shape]) -> Shape:
        return self._attribute(node, self.shape_of(node.node, variables), node.attr)

    def _visit_Getitem(self, node: nodes.Getitem, variables: Mapping[str, Shape]) -> Shape:
        owner = self.shape_of(node.node, variables)
        if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            return self._attribute(node, owner, node.arg.value)
        self.shape_of(node.arg, variables)
        if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, int):
            return owner.item()
        return ANY

    def _visit_Filter(self, node: nodes.Filter, variables: Mapping[str, Shape]) -> Shape:
        subject = self.shape_of(node.node, variables)
        self._check_args(node, variables)
        if node.name not in self.allowed_filters():
            return self.report(
                node,
                "expr.unknown-filter",
                f"unknown filter '{node.name}'",
                choices_hint(node.name, self.allowed_filters()),
            )
        self.check_filter_call(node, subject)
        if node.name in ("merge_by", "sort", "unique", "list", "selectattr", "rejectattr"):
            return subject
        if node.name in ("first", "last"):
            return subject.item()
        return ANY

    @staticmethod
    def allowed_filters() -> set[str]:
        return set(expr.JINJA_FILTERS) | set(expr.ENGINE_FILTERS)

    def _visit_Test(self, node: nodes.Test, variables: Mapping[str, Shape]) -> Shape:
        self.shape_of(node.node, variables)
        self._check_args(node, variables)
        if node.name not in expr.ALLOWED_TESTS:
            return self.report(
                node,
                "expr.unknown-test",
                f"unknown test '{node.name}'",
                choices_hint(node.name, expr.ALLOWED_TESTS),
            )
        self.check_test_call(node)
        return ANY

    def _check_args(
        self, node: nodes.Filter | nodes.Test | nodes.Call, variables: Mapping[str, Shape]
    ) -> list[Shape]:
        """The shapes of the positional arguments, every argument checked."""
        shapes = [self.shape_of(arg, variables) for arg in node.args]
        for kw in node.kwargs:
            self.shape_of(kw.value, variables)
        for extra in (node.dyn_args, node.dyn_kwargs):
            if extra is not None:
                self.report(extra, "expr.unsafe", "*args and **kwargs are not allowed in rules")
        return shapes

    def _visit_Call(self, node: nodes.Call, variables: Mapping[str, Shape]) -> Shape:
        shapes = self._check_args(node, variables)
        if not isinstance(node.node, nodes.Name) or node.node.name in variables:
            callee = node.node.node if isinstance(node.node, nodes.Getattr) else node.node
            self.shape_of(callee, variables)
            return self.report(
                node,
                "expr.unsafe-call",
                "only the engine's functions can be called",
                "call an engine function (lookup, ref, linked, add_days, ...: see "
                "docs/rules.md), or use a filter (value | upper)",
            )
        name = node.node.name
        if name not in self.scope.functions:
            return (
                self._visit_Name(node.node, variables)
                if name in expr.FORBIDDEN_NAMES
                else self.report(
                    node,
                    "expr.unknown-function",
                    f"unknown function '{name}'",
                    choices_hint(name, self.scope.functions),
                )
            )
        spec = REGISTRY[name]
        given = len(node.args)
        unknown = [kw.key for kw in node.kwargs if kw.key not in spec.keywords]
        if not spec.min_args <= given <= spec.max_args or unknown:
            wanted = (
                f"{spec.min_args}"
                if spec.min_args == spec.max_args
                else f"{spec.min_args} to {spec.max_args}"
            )
            extra = f"; unknown keyword {unknown[0]!r}" if unknown else ""
            return self.report(
                node,
                "expr.bad-call",
                f"{name}() takes {wanted} argument(s), not {given}{extra}",
                f"{name}: {spec.summary}",
            )
        self.check_function_kinds(node, spec)
        checker = getattr(self, f"_call_{name}", None)
        if checker is None:
            return scalar_shape(spec.returns) if spec.returns not in ("any", "list") else ANY
        shape: Shape = checker(node, shapes)
        return shape

    def _visit_BinExpr(self, node: nodes.BinExpr, variables: Mapping[str, Shape]) -> Shape:
        if isinstance(node, nodes.Pow):
            self.report(node, "expr.unsafe", "the ** operator is not allowed in rules")
        left = self.shape_of(node.left, variables)
        right = self.shape_of(node.right, variables)
        if isinstance(node, nodes.Add | nodes.Sub) and (left.is_date() or right.is_date()):
            sign = "-" if isinstance(node, nodes.Sub) else ""
            return self.report(
                node,
                "expr.date-arithmetic",
                f"dates cannot be {'subtracted' if sign else 'added'} with {'-' if sign else '+'}",
                f"use add_days(date, {sign}N), end_of_month(date) or due_by_terms(date, terms)",
            )
        return ANY

    _visit_Add = _visit_Sub = _visit_Mul = _visit_Div = _visit_FloorDiv = _visit_Mod = (
        _visit_Pow
    ) = _visit_BinExpr


def plain_path(ast: nodes.Template) -> str | None:
    """`a.b.c` when the value is exactly `{{ a.b.c }}` (invertible), else None."""
    if len(ast.body) != 1 or not isinstance(ast.body[0], nodes.Output):
        return None
    outputs = ast.body[0].nodes
    if len(outputs) != 1:
        return None
    return plain_path_of(outputs[0])


def plain_path_of(node: nodes.Node) -> str | None:
    """`a.b.c` when the expression node is a plain attribute path, else None."""
    parts: list[str] = []
    while isinstance(node, nodes.Getattr):
        parts.append(node.attr)
        node = node.node
    if not isinstance(node, nodes.Name):
        return None
    parts.append(node.name)
    return ".".join(reversed(parts))


@dataclass(frozen=True)
class Checked:
    findings: tuple[Finding, ...]
    shape: Shape = ANY
    path: str | None = None


def check_value(source: str, scope: Scope) -> Checked:
    """Checks one rule value that is a template; its shape is known only for `{{ x }}`."""
    try:
        ast = expr.parse(source)
    except TemplateSyntaxError as exc:
        return Checked(
            (
                Finding(
                    "expr.syntax",
                    f"cannot parse the expression: {exc.message}",
                    "expressions look like {{ name }} or {{ amount | money }}",
                    exc.lineno,
                ),
            )
        )
    checker = _Checker(scope)
    variables = dict(scope.variables)
    shape = ANY
    body = ast.body
    output = body[0] if len(body) == 1 else None
    if (
        isinstance(output, nodes.Output)
        and len(output.nodes) == 1
        and expr.single_expression(source) is not None
    ):
        shape = checker.shape_of(output.nodes[0], variables)
    else:
        checker.check_body(body, variables)
    _check_budget(checker, ast, autoescape=False)
    if not _errors(checker) and (failure := expr.folding_failure(ast)):
        checker.report(
            ast,
            "expr.always-fails",
            f"this value {expr.ALWAYS_FAILS} ({failure})",
            expr.ALWAYS_FAILS_HINT,
        )
    return Checked(tuple(checker.findings), shape, plain_path(ast))


def _errors(checker: _Checker) -> bool:
    # a warning (a field merge_by cannot check) leaves the value to be run and folded
    return any(finding.level == "error" for finding in checker.findings)


def _check_budget(checker: _Checker, ast: nodes.Template, *, autoescape: bool) -> None:
    if _errors(checker):
        return
    try:
        limit = expr.over_budget(ast, autoescape=autoescape)
    except expr.ExpressionError as exc:  # `'a' - 1`: said before any record is read
        checker.report(
            ast,
            "expr.always-fails",
            f"this value fails for every record: {exc.message}",
            expr.ALWAYS_FAILS_HINT,
        )
        return
    if limit:
        checker.report(
            ast,
            "expr.budget",
            f"this value goes over the evaluation budget: {limit}",
            "rules may not build values this big or loop this long; see docs/security.md",
        )


def check_template_source(source: str, scope: Scope, *, autoescape: bool) -> tuple[Finding, ...]:
    return check_template_parts(source, scope, autoescape=autoescape)[0]


def check_template_parts(
    source: str, scope: Scope, *, autoescape: bool
) -> tuple[tuple[Finding, ...], list[tuple[str, int]]]:
    """The findings of a template, and the templates it extends or includes (name, line)."""
    try:
        ast = expr.environment(autoescape=autoescape).parse(source)
    except TemplateSyntaxError as exc:
        return (
            Finding(
                "template.syntax",
                f"cannot parse the template: {exc.message}",
                "check the {% %} and {{ }} tags around this line",
                exc.lineno,
            ),
        ), []
    checker = _Checker(scope)
    checker.check_body(ast.body, dict(scope.variables))
    _check_budget(checker, ast, autoescape=autoescape)
    refused = assets.references(source) if autoescape else []
    checker.findings.extend(
        Finding(
            "template.external-reference",
            f"the document would read {url}: {why}",
            "put the file in the pack's assets/ folder, or inline it as a data: URL",
            line,
        )
        for line, url, why in refused
    )
    return tuple(checker.findings), checker.references
