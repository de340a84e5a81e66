"""Answering a query over one company as QBO does: only filterable properties in WHERE,
with the operators each allows, only sortable ones in ORDERBY (4000 QueryValidationError
otherwise); inactive name-list rows left out unless the query filters on Active; fields
such as Item.Sku returned only when the SELECT names them; candidates read from the
lookup indexes when a condition names an indexed field.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from tpsqbo_engine.emulators.qbo import properties, query
from tpsqbo_engine.emulators.qbo.company import NAME_LISTS, Company, entity_for_path
from tpsqbo_engine.emulators.qbo.faults import now_text
from tpsqbo_engine.emulators.qbo.properties import EntitySpec

Record = dict[str, Any]


def _invalid(detail: str) -> query.QueryError:
    return query.QueryError(f"QueryValidationError: {detail}")


def check(spec: EntitySpec, parsed: query.Query) -> None:
    """Refuses what QBO refuses before it runs a query."""
    for condition in parsed.where:
        prop = spec.path(condition.field)
        if prop is None or not prop.filterable:
            raise _invalid(f"property '{condition.field}' is not queryable")
        if prop.operators and condition.op not in prop.operators:
            raise _invalid(
                f"operator '{condition.op}' is not supported for property '{condition.field}'"
            )
    for name, _ in parsed.order:
        prop = spec.path(name)
        if prop is None or not prop.sortable:
            raise _invalid(f"property '{name}' is not sortable")
    for name in parsed.extra:
        if spec.root.child(name) is None:
            raise _invalid(f"property '{name}' is not a property of {spec.name}")


def _entity(name: str) -> str:
    entity = entity_for_path(name.lower())
    if entity is None:
        raise _invalid(f"Entity {name} is not supported")
    return entity


def _id_order(ident: str) -> tuple[int, str]:
    return (int(ident), "") if ident.isdigit() else (0, ident)


def _rows(company: Company, entity: str, parsed: query.Query) -> list[Mapping[str, Any]]:
    table = company.table(entity)
    ids = company.index.fields.candidates(entity, parsed.where)
    if ids is None:
        rows: list[Mapping[str, Any]] = list(table.values())
    else:  # in the table's own order (ids grow with creation), as a full scan gives them
        rows = [table[i] for i in sorted(ids, key=_id_order) if i in table]
    mentions_active = any(c.field.lower() == "active" for c in parsed.where)
    if entity in NAME_LISTS and not mentions_active:
        rows = [r for r in rows if r.get("Active", True)]  # active rows only by default
    return rows


def answer(company: Company, text: str) -> Record:
    parsed = query.parse(text)
    entity = _entity(parsed.entity)
    spec = properties.entity_spec(entity)
    strict = properties.STRICT.get()
    if spec is not None and strict:
        check(spec, parsed)
    with company.lock:
        found, total = query.run(parsed, _rows(company, entity, parsed))
        page = [copy.deepcopy(dict(row)) for row in found]
    if parsed.count:
        return {"QueryResponse": {"totalCount": total}, "time": now_text()}
    hidden: set[str] = set()
    if spec is not None and strict:
        named = (spec.root.child(n) for n in parsed.extra)
        hidden = set(spec.extra_fields) - {p.name for p in named if p is not None}
    for row in page:
        for name in hidden:
            row.pop(name, None)
    if not page:
        return {"QueryResponse": {}, "time": now_text()}
    body = {entity: page, "startPosition": parsed.start, "maxResults": len(page)}
    return {"QueryResponse": body, "time": now_text()}
