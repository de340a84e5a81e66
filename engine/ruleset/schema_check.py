"""Layer 2: each rule document against the JSON Schema of its kind, every error located.

Documents are dispatched on `kind` (one schema per kind, as the editors' rule.schema.json
does), so an error talks about the kind the author meant. Where a value may take several
forms (`oneOf`/`anyOf`), the form the author was evidently writing is picked and its errors
reported, rather than "is not valid under any of the given schemas".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, cast

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tpsqbo_engine import resources
from tpsqbo_engine.problems import Problem
from tpsqbo_engine.ruleset.source import SourceDocument, pointer_join
from tpsqbo_engine.ruleset.typecheck import did_you_mean

KINDS = ("pack", "mapping", "lookup", "exclusions", "checklist", "template")
_DISCRIMINATORS = ("type", "kind")


@cache
def kind_validators() -> Mapping[str, Draft202012Validator]:
    folder = resources.schemas_dir() / "rules"
    schemas = {kind: _schema_with_id(folder / f"{kind}.schema.json") for kind in KINDS}
    registry: Registry[Any] = Registry().with_resources(
        (s["$id"], Resource.from_contents(s, default_specification=DRAFT202012))
        for s in schemas.values()
    )
    return {
        kind: Draft202012Validator(schema, registry=registry) for kind, schema in schemas.items()
    }


def _schema_with_id(path: Path) -> dict[str, Any]:
    # $id is added in memory so relative $refs resolve; the files stay editor-friendly.
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return {"$id": path.resolve().as_uri(), **schema}


def check_document(doc: SourceDocument) -> list[Problem]:
    data = doc.data
    if not isinstance(data, dict):
        return [
            doc.problem(
                "",
                "schema.not-a-document",
                "a rule document must be a mapping with `kind` and `id`",
                hint="start the document with `kind: mapping` (or another kind)",
            )
        ]
    kind = data.get("kind")
    if kind is None:
        return [
            doc.problem(
                "",
                "schema.required",
                "missing required field 'kind'",
                hint=f"one of: {', '.join(KINDS)}",
            )
        ]
    if kind not in KINDS:
        hint = did_you_mean(str(kind), KINDS) or f"one of: {', '.join(KINDS)}"
        return [doc.problem("/kind", "schema.unknown-kind", f"unknown kind '{kind}'", hint=hint)]
    return check_with(doc, kind_validators()[kind])


def check_with(doc: SourceDocument, validator: Draft202012Validator) -> list[Problem]:
    """Every error of `doc` against `validator`, located and explained, each once."""
    problems = [p for error in validator.iter_errors(doc.data) for p in _problems(doc, error)]
    return _without_echoes(list(dict.fromkeys(problems)))


def _without_echoes(problems: list[Problem]) -> list[Problem]:
    """A misspelt field is also a missing one; say it once, as the misspelling."""
    misspelt = {
        (p.pointer.rsplit("/", 1)[0], p.hint) for p in problems if p.code == "schema.unknown-field"
    }
    return [p for p in problems if not _echoed(p, misspelt)]


def _echoed(problem: Problem, misspelt: set[tuple[str, str]]) -> bool:
    named = re.search(r"'([^']+)'", problem.message)
    return bool(
        problem.code == "schema.required"
        and named
        and (problem.pointer, f"did you mean '{named.group(1)}'?") in misspelt
    )


def _pointer(error: ValidationError) -> str:
    pointer = ""
    for token in error.absolute_path:
        pointer = pointer_join(pointer, token)
    return pointer


def _problems(doc: SourceDocument, error: ValidationError) -> Iterator[Problem]:
    if error.validator in ("oneOf", "anyOf") and error.context:
        yield from _best_form(doc, error)
        return
    pointer = _pointer(error)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(schema.get("properties", {}))
        for extra in [k for k in error.instance if k not in schema.get("properties", {})]:
            yield doc.problem(
                pointer_join(pointer, extra),
                "schema.unknown-field",
                f"unknown field '{extra}'",
                at_key=True,
                hint=did_you_mean(extra, allowed)
                or indentation_hint(doc, pointer, extra)
                or _allowed(allowed),
            )
        return
    if error.validator == "required" and isinstance(error.instance, dict):
        # jsonschema raises one error per missing field, each carrying the whole `required`
        # list: name every missing field from each (check_with drops the repeats), rather
        # than the first one missing once per error.
        required = cast(list[str], error.validator_value)
        for missing in [n for n in required if n not in error.instance]:
            yield _required(doc, pointer, schema, missing)
        return
    code, message, hint, at_key = _describe(error, schema)
    yield doc.problem(pointer, code, message, hint=hint, at_key=at_key)


def _required(doc: SourceDocument, pointer: str, schema: dict[str, Any], name: str) -> Problem:
    prop = schema.get("properties", {}).get(name, {})
    hint = _join(prop.get("description", ""), _example(prop))
    return doc.problem(pointer, "schema.required", f"missing required field '{name}'", hint=hint)


def indentation_hint(doc: SourceDocument, pointer: str, key: str) -> str:
    """Valid YAML with a key at the wrong level: say so, and where the key belongs."""
    kind = doc.data.get("kind") if isinstance(doc.data, dict) else None
    if kind not in KINDS:
        return ""
    root: dict[str, Any] = kind_validators()[kind].schema  # type: ignore[assignment]
    if pointer and key in root.get("properties", {}):
        return (
            f"indentation: '{key}' is an option of the {kind} itself; move it left, "
            "to the level of `kind:` and `id:`"
        )
    for name, definition in root.get("$defs", {}).items():
        if key in definition.get("properties", {}):
            return f"indentation: '{key}' belongs inside a {name} entry; indent it under one"
    return ""


def _describe(error: ValidationError, schema: dict[str, Any]) -> tuple[str, str, str, bool]:
    """(code, message, hint, locate-at-key) for one schema error, without quoting big values."""
    validator = str(error.validator)
    instance: Any = error.instance
    expected: Any = error.validator_value
    where = _field_name(error)
    example = _example(schema)
    if validator == "enum":
        choices = [str(c) for c in expected]
        return (
            "schema.enum",
            f"{where} must be one of: {', '.join(choices)}",
            did_you_mean(str(instance), choices),
            False,
        )
    if validator == "const":
        return ("schema.const", f"{where} must be '{expected}'", "", False)
    if validator == "type":
        wanted = " or ".join(expected) if isinstance(expected, list) else expected
        return (
            "schema.type",
            f"{where} must be {_article(wanted)}, not {_json_type(instance)}",
            _join(schema.get("description", ""), example),
            False,
        )
    if validator == "pattern":
        return (
            "schema.pattern",
            f"{where} is not in the expected form",
            _join(schema.get("description", ""), example),
            False,
        )
    if validator == "propertyNames":
        return (
            "schema.field-name",
            f"'{instance}' is not a valid field name",
            "use letters, digits and _, with dots between nested fields",
            True,
        )
    return (
        f"schema.{_kebab(validator)}",
        f"{where} {_plain(error.message)}",
        _join(schema.get("description", ""), example),
        False,
    )


def _best_form(doc: SourceDocument, error: ValidationError) -> Iterator[Problem]:
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context or ():
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    if all(all(e.validator == "required" for e in errs) for errs in branches.values()):
        names = [
            str(n)
            for errs in branches.values()
            for e in errs
            for n in cast(list[Any], e.validator_value)
        ]
        yield doc.problem(
            _pointer(error),
            "schema.required",
            f"needs at least one of: {', '.join(dict.fromkeys(names))}",
        )
        return
    chosen = min(branches.values(), key=_form_distance)
    for sub in chosen:
        yield from _problems(doc, sub)


def _form_distance(errors: Sequence[ValidationError]) -> tuple[int, int, int]:
    """Lower is closer: the discriminator matched, the value's type fits, few errors."""
    wrong_discriminator = any(
        e.validator == "const" and e.relative_path and e.relative_path[-1] in _DISCRIMINATORS
        for e in errors
    )
    wrong_type = any(e.validator == "type" and not e.relative_path for e in errors)
    return (int(wrong_discriminator), int(wrong_type), len(errors))


def _field_name(error: ValidationError) -> str:
    path = [str(p) for p in error.absolute_path if not isinstance(p, int)]
    return f"'{path[-1]}'" if path else "the value"


def _example(schema: Mapping[str, Any]) -> str:
    examples = schema.get("examples")
    if not examples:
        return ""
    return f"for example: {json.dumps(examples[0], ensure_ascii=False, default=str)}"


def _join(*parts: str) -> str:
    return " — ".join(p for p in parts if p)


def _allowed(names: Sequence[str]) -> str:
    return f"allowed fields: {', '.join(names)}" if names else ""


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float) or type(value).__name__ == "Decimal":
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "a mapping"


def _kebab(name: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name)


def _plain(message: str) -> str:
    # jsonschema's messages start with the instance's repr; keep only the rule that failed.
    for marker in (" is ", " does ", " has ", " should ", " expected "):
        if marker in message:
            return message[message.index(marker) + 1 :]
    return message
