"""Layer 3 for templates: every context variable has something that fills it, the file and
every template it extends or includes exist inside the pack, and the text uses only the
declared variables (and the pack's `assets`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tpsqbo_engine import budget as limits
from tpsqbo_engine.problems import Level, Problem
from tpsqbo_engine.ruleset.documents import (
    ASSETS_FOLDER,
    ENGINE_VARIABLES,
    MAX_TEMPLATE_DEPTH,
    asset_names,
    asset_problem,
    assets_linked_out,
    binding,
    template_root,
)
from tpsqbo_engine.ruleset.packs import RuleDocument
from tpsqbo_engine.ruleset.shapes import ANY, Shape, scalar_shape
from tpsqbo_engine.ruleset.source import MAX_FILE_BYTES, display_path, pointer_join
from tpsqbo_engine.ruleset.typecheck import Scope, check_template_parts

if TYPE_CHECKING:
    from tpsqbo_engine.ruleset.semantics import _Semantics


def _variables(checker: _Semantics, doc: RuleDocument) -> dict[str, Shape]:
    for_entity = str(doc.data["for"])
    for_shape = checker.entity(doc, "/for")
    fields = for_shape.properties() if for_shape is not None else {}
    variables: dict[str, Shape] = {}
    context: dict[str, Any] = doc.data["context"]  # type: ignore[assignment]
    for name, entry in context.items():
        pointer = pointer_join("/context", name)
        type_name = str(entry["type"] if isinstance(entry, dict) else entry)
        type_pointer = f"{pointer}/type" if isinstance(entry, dict) else pointer
        if "." in type_name:
            variables[name] = checker.entity(doc, type_pointer) or ANY
        else:
            variables[name] = scalar_shape(type_name)
        if isinstance(entry, dict):
            checker.expression(doc, f"{pointer}/value", checker.scope(for_entity))
        elif for_shape is not None and binding(for_entity, name, type_name, fields) is None:
            engine = ", ".join(ENGINE_VARIABLES.get(for_entity, {})) or "none"
            checker.report(
                doc,
                pointer,
                "template.unbound-variable",
                f"nothing fills '{name}' in a document for {for_entity}",
                "give it a value: {type: " + type_name + ", value: '{{ ... }}'}; the engine fills "
                f"the {for_entity} itself, tps.Firm, records its *_id fields name, and: {engine}",
                at_key=True,
            )
    return variables


def _assets_shape(pack_root: Path) -> Shape:
    names = asset_names(pack_root)
    return Shape(
        {"type": "object", "properties": {n: {"type": "string"} for n in names}},
        label=f"{ASSETS_FOLDER}/",
    )


def check_template(checker: _Semantics, doc: RuleDocument) -> None:
    variables = _variables(checker, doc)
    path, root = template_root(str(doc.data["file"]), doc.pack_root)
    if not _file_ok(checker, doc, path, root):
        return
    for link in assets_linked_out(doc.pack_root):
        checker.problems.append(
            Problem(
                display_path(link),
                1,
                1,
                "pack.symlink-escape",
                f"this image is a link to somewhere outside the pack's {ASSETS_FOLDER}/ folder: "
                "documents never carry it",
                hint="copy the image into the folder instead of linking to it",
            )
        )
    for name in asset_names(doc.pack_root):
        wrong = asset_problem(doc.pack_root / ASSETS_FOLDER / name)
        if wrong:
            checker.problems.append(
                Problem(
                    display_path(doc.pack_root / ASSETS_FOLDER / name),
                    1,
                    1,
                    "template.asset-too-large",
                    f"the image is {wrong}; documents carry it inline",
                    hint="use a smaller image",
                )
            )
    variables.setdefault("assets", _assets_shape(doc.pack_root))
    scope = Scope(
        checker.catalog,
        variables,
        "tps",
        frozenset(checker.ids("lookup")),
        checker.mapping_entities(),
        checker.lookup_keys(),
    )
    walk = _Walk(checker, doc.pack_root, scope, doc.data["format"] == "html")
    walk.walk(path, (path,))
    renders = walk.renders(path, {}, (path,))
    if renders > limits.MAX_STEPS:
        checker.report(
            doc,
            "/file",
            "template.too-many-includes",
            f"rendering this template includes templates {renders:,} times: more than the "
            f"{limits.MAX_STEPS:,} steps a rendering may take",
            "include each part once, or loop over the data inside one included template",
        )


def _file_ok(checker: _Semantics, doc: RuleDocument, path: Path, root: Path) -> bool:
    if not path.is_relative_to(root):
        checker.report(
            doc,
            "/file",
            "template.path-escape",
            "the template file is outside the pack's folder",
            "keep templates inside the pack's folder, or use @templates/<name>",
        )
        return False
    if not path.is_file():
        checker.report(
            doc,
            "/file",
            "template.missing-file",
            f"no template file at {display_path(path)}",
            "create the file, or fix the path (relative to the pack's folder)",
        )
        return False
    if path.stat().st_size > MAX_FILE_BYTES:
        checker.report(
            doc,
            "/file",
            "template.too-large",
            f"the template is over {MAX_FILE_BYTES:,} bytes",
            "split it into smaller templates",
        )
        return False
    return True


class _Walk:
    """The templates one document renders, each read and checked once however many times it
    is included (ten files each including the next ten times made a validate of days); the
    chains of includes walked once per file and depth, for cycles and nesting."""

    def __init__(self, checker: _Semantics, pack_root: Path, scope: Scope, html: bool) -> None:
        self.checker, self.pack_root, self.scope, self.html = checker, pack_root, scope, html
        self.included: dict[Path, list[tuple[Path, int, str]]] = {}  # file -> its references
        self.walked: set[tuple[Path, int]] = set()
        self.reported: set[tuple[Path, int, str]] = set()

    def walk(self, path: Path, chain: tuple[Path, ...]) -> None:
        self.walked.add((path, len(chain)))
        for target, line, name in self.references(path):
            if target in chain:
                cycle = (
                    "template.cycle",
                    f"'{name}' includes itself",
                    "remove one of the includes",
                )
                self.report(path, line, cycle)
            elif len(chain) > MAX_TEMPLATE_DEPTH:
                depth = f"templates nest more than {MAX_TEMPLATE_DEPTH} deep"
                self.report(path, line, ("template.too-deep", depth, ""))
            elif (target, len(chain) + 1) not in self.walked:
                self.walk(target, (*chain, target))

    def references(self, path: Path) -> list[tuple[Path, int, str]]:
        """The templates `path` includes that exist inside the pack; its problems reported
        the first time it is asked for."""
        known = self.included.get(path)
        if known is not None:
            return known
        findings, references = check_template_parts(
            path.read_text(encoding="utf-8"), self.scope, autoescape=self.html
        )
        shown = display_path(path)
        self.checker.problems.extend(
            Problem(shown, f.lineno, 1, f.code, f.message, hint=f.hint, level=Level(f.level))
            for f in findings
        )
        found = self.included[path] = []
        for name, line in references:
            target, root = template_root(name, self.pack_root)
            problem = _reference_problem(target, root, name)
            if problem:
                self.report(path, line, problem)
            else:
                found.append((target, line, name))
        return found

    def renders(self, path: Path, counted: dict[Path, int], chain: tuple[Path, ...]) -> int:
        """How many templates rendering `path` includes, every include counted (once, though
        it may sit in a loop or an `if`); a cycle, reported already, counts once."""
        if path in counted:
            return counted[path]
        total = 0
        for target, _, _ in self.included.get(path, []):
            inside = target in chain or len(chain) > MAX_TEMPLATE_DEPTH
            total += 1 + (0 if inside else self.renders(target, counted, (*chain, target)))
        counted[path] = total
        return total

    def report(self, path: Path, line: int, problem: tuple[str, str, str]) -> None:
        if (path, line, problem[0]) not in self.reported:
            self.reported.add((path, line, problem[0]))
            shown = display_path(path)
            self.checker.problems.append(
                Problem(shown, line, 1, problem[0], problem[1], hint=problem[2])
            )


def _reference_problem(target: Path, root: Path, name: str) -> tuple[str, str, str] | None:
    if not target.is_relative_to(root):
        return (
            "template.path-escape",
            f"'{name}' is outside the pack's folder",
            "extend or include templates of this pack, or @templates/<name>",
        )
    if not target.is_file():
        return (
            "template.missing-file",
            f"no template '{name}'",
            "names are relative to the pack's folder",
        )
    if target.stat().st_size > MAX_FILE_BYTES:
        return ("template.too-large", f"'{name}' is over {MAX_FILE_BYTES:,} bytes", "")
    return None
