"""A pack's own entity schemas (`schemas/tps/*.json`, `schemas/qbo/*.json`): checked before
the catalog reads them, each mistake located."""

from __future__ import annotations

import json
import re
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from tpsqbo_engine.problems import Problem
from tpsqbo_engine.ruleset.shapes import SYSTEMS
from tpsqbo_engine.ruleset.source import MAX_FILE_BYTES, display_path

_ENTITY = re.compile(r"^[A-Z][A-Za-z]+$")


def _problem(
    path: Path, code: str, message: str, hint: str, line: int = 1, col: int = 1
) -> Problem:
    return Problem(display_path(path), line, col, code, message, hint=hint)


def schema_problems(folders: tuple[Path, ...]) -> list[Problem]:
    problems: list[Problem] = []
    for folder in folders:
        for path in sorted(folder.rglob("*.json")):
            problems.extend(_file_problems(folder, path))
    return problems


def _file_problems(folder: Path, path: Path) -> list[Problem]:
    system = path.parent.name
    if path.parent.parent != folder or system not in SYSTEMS:
        return [
            _problem(
                path,
                "schema.entity-place",
                "entity schemas go in schemas/tps/ or schemas/qbo/",
                "move the file; its name is the entity's (Client.json is tps.Client)",
            )
        ]
    if not _ENTITY.match(path.stem) or path.stat().st_size > MAX_FILE_BYTES:
        return [
            _problem(
                path,
                "schema.entity-name",
                f"'{path.name}' is not an entity schema file",
                "name it after the entity, e.g. Client.json, at most 2 MiB",
            )
        ]
    try:
        contents = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line, col = (exc.lineno, exc.colno) if isinstance(exc, json.JSONDecodeError) else (1, 1)
        return [_problem(path, "schema.entity-json", f"not JSON: {exc}", "fix the JSON", line, col)]
    try:
        Draft202012Validator.check_schema(contents)
    except SchemaError as exc:
        return [_problem(path, "schema.entity-invalid", exc.message, "see json-schema.org")]
    if not isinstance(contents.get("properties"), dict):
        return [
            _problem(
                path,
                "schema.entity-invalid",
                "an entity schema needs `properties`",
                'e.g. {"properties": {"partner": {"type": "string"}}}',
            )
        ]
    return []
