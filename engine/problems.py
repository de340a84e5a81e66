"""One `Problem` type for every diagnostic, and the reporters that print them.

Reporters live in one registry so the CLI's `--format` choices cannot drift from what
exists. Every reporter takes the same sorted list of problems.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

from tpsqbo_engine import __version__


class Level(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, order=True)
class Problem:
    """A located diagnostic: where (file, 1-based line and column, JSON pointer), what, a hint."""

    file: str
    line: int
    column: int
    code: str
    message: str
    level: Level = Level.ERROR
    pointer: str = ""
    hint: str = ""

    @property
    def is_error(self) -> bool:
        return self.level is Level.ERROR


def has_errors(problems: Iterable[Problem], *, strict: bool = False) -> bool:
    return any(p.is_error or (strict and p.level is Level.WARNING) for p in problems)


def render_text(problems: Sequence[Problem]) -> str:
    lines = []
    for p in problems:
        lines.append(f"{p.file}:{p.line}:{p.column}: {p.level} [{p.code}] {p.message}")
        if p.hint:
            lines.append(f"    hint: {p.hint}")
    errors = sum(p.is_error for p in problems)
    warnings = sum(p.level is Level.WARNING for p in problems)
    if problems:
        lines.append(f"{errors} error(s), {warnings} warning(s)")
    return "\n".join(lines)


def render_json(problems: Sequence[Problem]) -> str:
    return json.dumps([asdict(p) for p in problems], indent=2, ensure_ascii=False)


def _github_escape(text: str, *, property_value: bool = False) -> str:
    # Workflow commands need %, CR and LF escaped; property values also : and ,.
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def render_github(problems: Sequence[Problem]) -> str:
    command = {Level.ERROR: "error", Level.WARNING: "warning", Level.NOTE: "notice"}
    lines = []
    for p in problems:
        message = f"{p.message} Hint: {p.hint}" if p.hint else p.message
        props = ",".join(
            [
                f"file={_github_escape(p.file, property_value=True)}",
                f"line={p.line}",
                f"col={p.column}",
                f"title={_github_escape(p.code, property_value=True)}",
            ]
        )
        lines.append(f"::{command[p.level]} {props}::{_github_escape(message)}")
    return "\n".join(lines)


def _sarif_uri(file: str) -> str:
    path = Path(file)
    return path.as_uri() if path.is_absolute() else path.as_posix()


def render_sarif(problems: Sequence[Problem]) -> str:
    codes = sorted({p.code for p in problems})
    results = [
        {
            "ruleId": p.code,
            "ruleIndex": codes.index(p.code),
            "level": p.level.value,
            "message": {"text": f"{p.message} Hint: {p.hint}" if p.hint else p.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _sarif_uri(p.file)},
                        "region": {"startLine": p.line, "startColumn": p.column},
                    }
                }
            ],
        }
        for p in problems
    ]
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "tpsqbo-engine",
                        "version": __version__,
                        "informationUri": "https://pypi.org/project/tpsqbo-engine/",
                        "rules": [{"id": code, "name": code} for code in codes],
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False)


Reporter = Callable[[Sequence[Problem]], str]

REPORTERS: dict[str, Reporter] = {
    "text": render_text,
    "json": render_json,
    "github": render_github,
    "sarif": render_sarif,
}
