"""Documents bound by declaration: a template renders for the entity its `for:` names, with
the variables its `context:` declares, filled as `ruleset/documents.py` says (and as
`validate` checked). Templates may extend and include the pack's other templates; the
pack's images come as data: URIs in `assets`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import BaseLoader, Environment, Template, TemplateNotFound

from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.expr import EVALUATION_ERRORS, ExpressionError, environment, render_text
from tpsqbo_engine.ruleset.documents import assets, binding, template_root
from tpsqbo_engine.ruleset.model import TemplateRule
from tpsqbo_engine.ruleset.shapes import entity_catalog
from tpsqbo_engine.ruleset.source import MAX_FILE_BYTES
from tpsqbo_engine.sync.filling import filled
from tpsqbo_engine.sync.links import Links
from tpsqbo_engine.sync.runtime import Resolver, context
from tpsqbo_engine.sync.snapshot import TPS_RESOURCES, Snapshot

if TYPE_CHECKING:
    from tpsqbo_engine.sync.session import Session

Record = dict[str, Any]
Fetch = Callable[[str], dict[str, Record]]


class PackLoader(BaseLoader):
    """Template names resolve inside the pack's folder (or to the engine's @templates/);
    anything outside, missing or too large is not found."""

    def __init__(self, pack_root: Path) -> None:
        self.pack_root = pack_root

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        path, root = template_root(template, self.pack_root)
        if not path.is_relative_to(root) or not path.is_file():
            raise TemplateNotFound(template)
        if path.stat().st_size > MAX_FILE_BYTES:
            raise TemplateNotFound(template)
        return path.read_text(encoding="utf-8"), str(path), lambda: True


def compile_template(template: TemplateRule) -> Template:
    env = environment(autoescape=template.format == "html").overlay(
        loader=PackLoader(template.pack_root)
    )
    return env.from_string(template.file.read_text(encoding="utf-8"))


class OnDemand(Snapshot):
    """A snapshot that reads an entity the first time a rule asks for it."""

    def __init__(self, fetch: Fetch) -> None:
        super().__init__()
        self._fetch = fetch
        self._loaded: set[str] = set()

    def records(self, qualified: str) -> dict[str, Record]:
        if qualified not in self._loaded:
            self._loaded.add(qualified)
            system, entity = qualified.split(".", 1)
            self.side(system)[entity] = self._fetch(qualified)
        return super().records(qualified)


def session_fetch(session: Session) -> Fetch:
    def fetch(qualified: str) -> dict[str, Record]:
        system, entity = qualified.split(".", 1)
        if system == "tps":
            return {str(r["id"]): r for r in session.tps.records(TPS_RESOURCES[entity])}
        return {str(r["Id"]): r for r in session.qbo.query_all(entity)}

    return fetch


def _shaped(qualified: str, record: Record | None) -> Record:
    shape = entity_catalog().get(qualified)
    shaped: Record = filled(record or {}, shape) if shape is not None else dict(record or {})
    return shaped


def document_context(
    session: Session,
    template: TemplateRule,
    record: Record,
    engine: Mapping[str, Any],
    snapshot: Snapshot | None = None,
) -> dict[str, Any]:
    """Every declared variable of `template`, for a document about `record`."""
    fields = entity_catalog().shapes[template.for_entity].properties()
    values: dict[str, Any] = {"assets": assets(template.pack_root)}
    resolver = Resolver(session.rules, snapshot or OnDemand(session_fetch(session)), Links())
    scope = context(template.for_entity, record, resolver)
    for name, type_name in template.context.items():
        if name in template.values:
            values[name] = template.values[name].evaluate(scope)
            continue
        how = binding(template.for_entity, name, type_name, fields)
        if how is None:  # validate refuses this; a pack loaded without validate is a bug
            raise UsageError(f"template {template.id}: nothing fills '{name}'")
        if how.how == "record":
            values[name] = _shaped(type_name, record)
        elif how.how == "firm":
            values[name] = _shaped(type_name, session.tps.firm())
        elif how.how == "reference":
            ident = record.get(how.field)
            resource = TPS_RESOURCES[type_name.split(".", 1)[1]]
            found = session.tps.get(resource, str(ident)) if ident else None
            values[name] = _shaped(type_name, found)
        else:
            values[name] = engine.get(name)
    return values


def templates_for(session: Session, qualified: str) -> list[TemplateRule]:
    return [t for t in session.rules.templates.values() if t.for_entity == qualified]


def render_record(session: Session, template: TemplateRule, ident: str) -> str:
    """A document for any TPS record its template is `for:`."""
    system, entity = template.for_entity.split(".", 1)
    if system != "tps":
        raise UsageError(f"template {template.id} is for {template.for_entity}: only TPS records")
    record = session.tps.get(TPS_RESOURCES[entity], ident)
    context = document_context(session, template, record, {})
    try:
        return render_text(compile_template(template), context)
    except (ExpressionError, *EVALUATION_ERRORS) as exc:  # a filter's or operator's says why
        reason = getattr(exc, "message", "") or type(exc).__name__
        raise ExpressionError(
            f"{template.where}: template '{template.id}' failed for {ident}: {reason}"
        ) from None
