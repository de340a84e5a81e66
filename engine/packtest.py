"""A pack's own test cases: records in, the plan the rules make out, offline.

A case is a YAML file in the pack's `tests/` folder: the records on each side, the links the
state holds, the phase and the date, and under `expect:` (last in the file) the plan the
rules must make: writes with their field values, exclusions with their reasons, and every
other decision. The planner runs in memory with the case's clock: no server, no state file.
`--update` rewrites `expect:` from what the rules make now, like a snapshot.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from tpsqbo_engine.errors import RuleError
from tpsqbo_engine.problems import Problem
from tpsqbo_engine.ruleset.model import RuleSet
from tpsqbo_engine.ruleset.packs import TESTS_FOLDER
from tpsqbo_engine.ruleset.schema_check import check_with
from tpsqbo_engine.ruleset.shapes import entity_validator
from tpsqbo_engine.ruleset.source import SourceDocument, display_path, load_file
from tpsqbo_engine.sync.links import pair_of
from tpsqbo_engine.sync.plan import Operation, Plan
from tpsqbo_engine.sync.plan_input import LinkRow, PlanInput
from tpsqbo_engine.sync.planner import Planner
from tpsqbo_engine.sync.snapshot import Snapshot

CASE_KEYS = ("description", "phase", "today", "firm", "tps", "qbo", "links", "expect")
_RULE_AT = re.compile(r"\s*\([^()]*:\d+(:\d+)?\)$")
_LOCATION = re.compile(r"^([^\s()]+?)(:\d+(?::\d+)?)$")


@dataclass(frozen=True)
class CaseResult:
    name: str
    path: Path
    passed: bool
    expected: Any
    actual: Any
    problems: tuple[Problem, ...] = ()
    updated: bool = False

    def diff(self) -> list[str]:
        if self.problems:
            return [_problem_line(p) for p in self.problems]
        return list(
            difflib.unified_diff(
                _dump(self.expected).splitlines(),
                _dump(self.actual).splitlines(),
                "expected",
                "planned",
                lineterm="",
            )
        )


def _problem_line(problem: Problem) -> str:
    return f"{problem.file}:{problem.line}:{problem.column}: {problem.code} {problem.message}"


@dataclass
class _Case:
    source: SourceDocument
    problems: list[Problem] = field(default_factory=list)

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.source.data
        return data


def case_files(root: Path) -> list[Path]:
    folder = root / TESTS_FOLDER
    return sorted(p for p in folder.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))


def _plain(value: Any) -> Any:
    """Plan values as YAML can hold them and compare them: amounts as text, dates ISO."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _rule_id(rule: str) -> str:
    """A rule as a case names it: its id, or its file name and position (the same from any
    working directory)."""
    located = _LOCATION.match(rule)
    return f"{Path(located.group(1)).name}{located.group(2)}" if located else _RULE_AT.sub("", rule)


def summarize(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """What a case compares: writes with their fields, exclusions with reasons, the rest."""
    writes, excluded, other = [], [], []
    for op in plan.operations:
        if op.writes:
            entry: dict[str, Any] = {
                "mapping": op.mapping,
                "record": op.record,
                "action": op.action,
            }
            entry["target"] = op.target
            if op.level:  # a write the run warns about (a payment part left unapplied)
                entry |= {"level": op.level, "message": op.message}
            if op.body:
                entry["fields"] = _plain(op.body)
            writes.append(entry)
        elif op.action in ("exclude", "block", "out-of-scope"):
            excluded.append(_decision(op, reason=True))
        else:
            other.append(_decision(op))
    return {"writes": writes, "excluded": excluded, "other": other}


def _decision(op: Operation, *, reason: bool = False) -> dict[str, Any]:
    entry: dict[str, Any] = {"mapping": op.mapping, "record": op.record, "action": op.action}
    if op.level:
        entry["level"] = op.level
    entry["reason" if reason else "message"] = op.message
    if reason and op.rule:
        entry["rule"] = _rule_id(op.rule)
    return entry


def _records(case: _Case, system: str) -> dict[str, dict[str, dict[str, Any]]]:
    given = case.data.get(system) or {}
    ident = "id" if system == "tps" else "Id"
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for entity, records in given.items():
        validator = entity_validator(f"{system}.{entity}") if _known(system, entity) else None
        if validator is None:
            case.problems.append(
                case.source.problem(
                    f"/{system}/{entity}", "test.unknown-entity", f"no entity {system}.{entity}"
                )
            )
            continue
        table = out.setdefault(entity, {})
        for index, record in enumerate(records or []):
            pointer = f"/{system}/{entity}/{index}"
            if not isinstance(record, dict) or ident not in record:
                case.problems.append(
                    case.source.problem(
                        pointer, "test.bad-record", f"each {entity} needs its '{ident}'"
                    )
                )
                continue
            located = SourceDocument(
                case.source.path,
                case.source.display,
                record,
                {
                    k[len(pointer) :]: v
                    for k, v in case.source.values.items()
                    if k.startswith(pointer)
                },
                {
                    k[len(pointer) :]: v
                    for k, v in case.source.keys.items()
                    if k.startswith(pointer)
                },
            )
            case.problems.extend(
                _relocated(p, pointer)
                for p in check_with(located, validator)
                if p.code != "schema.required"
            )
            table[str(record[ident])] = dict(record)
    return out


def _relocated(problem: Problem, prefix: str) -> Problem:
    return Problem(
        problem.file,
        problem.line,
        problem.column,
        problem.code.replace("schema.", "test.record-"),
        problem.message,
        level=problem.level,
        pointer=prefix + problem.pointer,
        hint=problem.hint,
    )


def _known(system: str, entity: str) -> bool:
    from tpsqbo_engine.ruleset.shapes import entity_catalog

    return entity_catalog().get(f"{system}.{entity}") is not None


def _links(case: _Case, rules: RuleSet) -> dict[str, list[LinkRow]]:
    mappings = {m.id: m for m in rules.mappings}
    links: dict[str, list[LinkRow]] = {}
    for index, link in enumerate(case.data.get("links") or []):
        mapping = mappings.get(str(link.get("mapping")))
        if mapping is None:
            case.problems.append(
                case.source.problem(
                    f"/links/{index}/mapping",
                    "test.unknown-mapping",
                    f"no mapping '{link.get('mapping')}' in the pack",
                    hint=f"mappings: {', '.join(mappings)}",
                )
            )
            continue
        links.setdefault(pair_of(mapping), []).append(
            LinkRow(
                str(link["tps"]),
                str(link["qbo"]),
                str(link.get("content_hash", "")),
                str(link.get("tps_version", "")),
                str(link.get("qbo_version", "")),
                mapping.id,
            )
        )
    return links


def _clock(case: _Case) -> datetime:
    today = case.data.get("today", "2026-01-15")
    try:
        day = date.fromisoformat(str(today))
    except ValueError:
        case.problems.append(
            case.source.problem(
                "/today", "test.bad-date", f"'{today}' is not a date like 2026-01-15"
            )
        )
        day = date(2026, 1, 15)
    return datetime.combine(day, time(9, 0), tzinfo=UTC)


def plan_case(case: _Case, rules: RuleSet) -> Plan:
    snapshot = Snapshot(
        _records(case, "tps"), _records(case, "qbo"), dict(case.data.get("firm") or {})
    )
    moment = _clock(case)
    given = PlanInput(
        rules,
        snapshot,
        _links(case, rules),
        str(case.data.get("phase", "initial")),
        clock=lambda: moment,
    )
    return Planner(given).plan()


def _load_case(path: Path, root: Path) -> _Case:
    documents, problems = load_file(path, root)  # a link out of the pack is refused
    if problems:
        raise RuleError(problems)
    if len(documents) != 1 or not isinstance(documents[0].data, dict):
        raise RuleError(
            [
                Problem(
                    display_path(path), 1, 1, "test.not-a-case", "a test case is one YAML mapping"
                )
            ]
        )
    case = _Case(documents[0])
    for key in case.data:
        if key not in CASE_KEYS:
            case.problems.append(
                case.source.problem(
                    f"/{key}",
                    "test.unknown-field",
                    f"unknown field '{key}'",
                    hint=f"a case has: {', '.join(CASE_KEYS)}",
                    at_key=True,
                )
            )
    if case.data.get("phase", "initial") not in ("initial", "ongoing"):
        case.problems.append(
            case.source.problem("/phase", "test.bad-phase", "phase is initial or ongoing")
        )
    return case


def run_case(path: Path, rules: RuleSet, root: Path, *, update: bool = False) -> CaseResult:
    """One case of the pack in `root`: a case file that leads outside it is neither read nor,
    with `update`, written."""
    try:
        case = _load_case(path, root)
    except RuleError as exc:
        return CaseResult(path.stem, path, False, None, None, tuple(exc.problems))
    actual = summarize(plan_case(case, rules))
    if case.problems:
        return CaseResult(path.stem, path, False, None, None, tuple(case.problems))
    expected = case.data.get("expect")
    if update and expected != actual:
        write_expectation(path, actual, root)
        return CaseResult(path.stem, path, True, actual, actual, updated=True)
    return CaseResult(path.stem, path, _plain(expected) == actual, _plain(expected), actual)


def write_expectation(path: Path, actual: Mapping[str, Any], root: Path) -> None:
    """Replaces the `expect:` section (the end of the file) and keeps everything above it;
    never through a link to somewhere outside the pack in `root`."""
    if not path.resolve().is_relative_to(root.resolve()):
        raise RuleError(
            [
                Problem(
                    display_path(path),
                    1,
                    1,
                    "pack.symlink-escape",
                    "this test case is a link to somewhere outside the pack's folder: "
                    "--update does not write through it",
                    hint="copy the case into the pack's tests/ folder instead of linking to it",
                )
            ]
        )
    text = path.read_text(encoding="utf-8")
    match = re.search(r"(?m)^expect:", text)
    head = text[: match.start()] if match else text.rstrip("\n") + "\n"
    path.write_text(head + _dump({"expect": dict(actual)}), encoding="utf-8")


def _dump(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=100)


def run_pack_tests(root: Path, rules: RuleSet, *, update: bool = False) -> list[CaseResult]:
    return [run_case(path, rules, root, update=update) for path in case_files(root)]


def as_json(results: list[CaseResult]) -> str:
    return json.dumps(
        [
            {
                "case": r.name,
                "file": display_path(r.path),
                "passed": r.passed,
                "updated": r.updated,
                "diff": r.diff() if not r.passed else [],
            }
            for r in results
        ],
        indent=2,
    )


def as_junit(results: list[CaseResult], suite: str) -> str:
    from xml.sax.saxutils import escape, quoteattr

    failures = sum(1 for r in results if not r.passed)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuite name={quoteattr(suite)} tests="{len(results)}" failures="{failures}">',
    ]
    for r in results:
        lines.append(f"  <testcase classname={quoteattr(suite)} name={quoteattr(r.name)}>")
        if not r.passed:
            lines.append(
                f'    <failure message="the plan differs from the expectation">'
                f"{escape(chr(10).join(r.diff()))}</failure>"
            )
        lines.append("  </testcase>")
    lines.append("</testsuite>")
    return "\n".join(lines)
