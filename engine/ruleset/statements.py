"""The checker's side of template statements: `{% for %}`, `{% set %}` (and its block
form), `{% with %}`, `{% if %}`, blocks, extends and include. Each name a statement defines
is known where Jinja renders it, and nowhere else: a loop variable inside its loop, a
`{% set x %}...{% endset %}` after the block, a `{% with %}` name inside it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from jinja2 import nodes

from tpsqbo_engine.ruleset.shapes import ANY, Shape, scalar_shape

# Templates may extend and include other templates of their pack (by a quoted name); macros
# and imports stay out: they would make templates a programming language.
_TEMPLATE_ONLY = (nodes.Import, nodes.FromImport, nodes.Macro, nodes.CallBlock)
# Statements whose children are statements and expressions in the scope they are in, and
# those that are a scope of their own (what is set inside stays inside, as Jinja renders it).
_BODIES = (nodes.Output, nodes.Template, nodes.EvalContextModifier)
_SCOPES = (nodes.Scope, nodes.FilterBlock, nodes.ScopedEvalContextModifier)
_TEXT = scalar_shape("string")  # what a `{% set x %}` block makes


class StatementChecks:
    """Mixed into the checker: statements checked, the names they define bound."""

    references: list[tuple[str, int]]

    def report(self, node: nodes.Node, code: str, message: str, hint: str = "") -> Shape:
        raise NotImplementedError

    def shape_of(self, node: nodes.Node | None, variables: Mapping[str, Shape]) -> Shape:
        raise NotImplementedError

    def check_body(self, body: Iterable[nodes.Node], variables: dict[str, Shape]) -> None:
        for statement in body:
            self.check_statement(statement, variables)

    def check_statement(self, node: nodes.Node, variables: dict[str, Shape]) -> None:
        if isinstance(node, _TEMPLATE_ONLY):
            self.report(
                node,
                "template.unsupported-tag",
                f"{type(node).__name__.lower()} tags are not allowed in rule templates",
                "no import or macros; extends and include of the pack's templates are fine",
            )
        elif isinstance(node, nodes.Extends | nodes.Include):
            self._reference(node)
        elif isinstance(node, nodes.Block):
            self.check_body(node.body, dict(variables))
        elif isinstance(node, nodes.For):
            self._check_for(node, variables)
        elif isinstance(node, nodes.Assign):
            shape = self.shape_of(node.node, variables)
            variables.update(self._bind(node.target, shape))
        elif isinstance(node, nodes.AssignBlock | nodes.With):
            self._check_scoped(node, variables)
        elif isinstance(node, nodes.If):
            self._check_if(node, variables)
        elif isinstance(node, _SCOPES):  # before _BODIES: a scoped modifier is a modifier
            self._check_children(node, dict(variables))
        elif isinstance(node, _BODIES):
            self._check_children(node, variables)
        else:
            self.shape_of(node, variables)

    def _check_children(self, node: nodes.Node, variables: dict[str, Shape]) -> None:
        for child in node.iter_child_nodes():
            if isinstance(child, nodes.Stmt | nodes.Template):
                self.check_statement(child, variables)
            else:
                self.shape_of(child, variables)

    def _reference(self, node: nodes.Extends | nodes.Include) -> None:
        name = node.template
        if isinstance(name, nodes.Const) and isinstance(name.value, str):
            self.references.append((name.value, node.lineno))
            return
        self.report(
            node,
            "template.unsupported-tag",
            "extends and include take a quoted template name",
            "e.g. {% include 'footer.html' %}",
        )

    def _check_if(self, node: nodes.If, variables: dict[str, Shape]) -> None:
        """Each branch in the scope the `if` is in: Jinja's `if` is no scope of its own, so a
        name every branch sets (`else` included) is known after it; one only some set may
        have no value there, and stays unknown."""
        tests = [node.test, *(branch.test for branch in node.elif_)]
        bodies = [node.body, *(branch.body for branch in node.elif_), node.else_]
        made: list[dict[str, Shape]] = []
        for test, body in zip([*tests, None], bodies, strict=True):
            inner = dict(variables)
            if test is not None:
                self.shape_of(test, inner)
            self.check_body(body, inner)
            made.append({k: v for k, v in inner.items() if variables.get(k) is not v})
        for name in set(made[0]).intersection(*made[1:]):
            shapes = {id(branch[name]) for branch in made}
            variables[name] = made[0][name] if len(shapes) == 1 else ANY

    def _check_scoped(
        self, node: nodes.AssignBlock | nodes.With, variables: dict[str, Shape]
    ) -> None:
        """`{% set x %}...{% endset %}`: its body (its own scope, as Jinja renders it) is
        checked like any, then `x` is the text it made; `{% with x = ... %}`: the values are
        read outside, the names known inside only."""
        if isinstance(node, nodes.AssignBlock):
            self.check_body(node.body, dict(variables))
            if node.filter is not None:  # `{% set x | upper %}`: the filter takes the text
                self.shape_of(node.filter, variables)
            variables.update(self._bind(node.target, _TEXT))
            return
        inner = dict(variables)
        for target, value in zip(node.targets, node.values, strict=True):
            inner.update(self._bind(target, self.shape_of(value, variables)))
        self.check_body(node.body, inner)

    def _check_for(self, node: nodes.For, variables: dict[str, Shape]) -> None:
        items = self.shape_of(node.iter, variables).item()
        inner = {**variables, **self._bind(node.target, items), "loop": ANY}
        if node.test is not None:
            self.shape_of(node.test, inner)
        self.check_body(node.body, inner)
        self.check_body(node.else_, dict(variables))

    @staticmethod
    def _bind(target: nodes.Node, shape: Shape) -> dict[str, Shape]:
        if isinstance(target, nodes.Name):
            return {target.name: shape}
        return {name.name: ANY for name in target.find_all(nodes.Name)}
