"""Comparing records as `undo` must: the fields of a record still not as before run N, and
QBO against the backup taken before the initial sync.

The initial sync reads paid history without its lists (engine/sync/scope.py: a paid QBO
invoice keeps its fields, not its `Line`), so a history record it linked and rewrote is
journaled with those lists absent. The backup holds the whole record as it was: the lists
are taken back from there, or the undo says it cannot restore them. Once applied, QBO is
compared with the backup on the active records of each entity and on every field the run
changed, so "back to the backup" is said only when it is true.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Generator, Iterable
from contextlib import closing
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tpsqbo_engine.amounts import finite_number
from tpsqbo_engine.connectors.qbo import wire
from tpsqbo_engine.connectors.qbo.queries import NAME_LISTS
from tpsqbo_engine.dotted import get_path
from tpsqbo_engine.sync.voids import is_void

if TYPE_CHECKING:
    from tpsqbo_engine.sync.undo import Step

Record = dict[str, Any]
_LINE_STAMPS = frozenset({"Id", "LineNum", "LineEx"})


def differing(fields: dict[str, Any], current: Record) -> list[str]:
    """The paths of `fields` whose value in `current` is not the one given."""
    return [path for path, value in fields.items() if not same(get_path(current, path), value)]


def same(a: Any, b: Any) -> bool:
    """Values as QBO, TPS and a backup give them back: numbers by value (a backup keeps
    amounts as text), absent and empty alike, objects and lists part by part."""
    if _empty(a) or _empty(b):
        return _empty(a) and _empty(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return all(same(a.get(k), b.get(k)) for k in set(a) | set(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(
            same(_unstamped(x), _unstamped(y)) for x, y in zip(a, b, strict=True)
        )
    number_a, number_b = finite_number(a, texts=True), finite_number(b, texts=True)
    if (
        number_a is not None
        and number_b is not None
        and not (isinstance(a, str) and isinstance(b, str))
    ):
        return number_a == number_b
    return bool(wire.dumps(a) == wire.dumps(b))


def _unstamped(item: Any) -> Any:
    """A line as written: QBO numbers lines itself, and may number them anew on a write."""
    if isinstance(item, dict):
        return {k: v for k, v in item.items() if k not in _LINE_STAMPS}
    return item


def _empty(value: Any) -> bool:
    return (
        value is None
        or value == ""
        or (isinstance(value, dict) and not any(not _empty(v) for v in value.values()))
    )


class BackupUnreadable(Exception):
    """The backup file is gone, cut short or not one `backup` wrote: nothing can be
    taken from it, and QBO cannot be compared with it."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(f"the backup {path} cannot be read ({why})")
        self.message = str(self)


def _entries(backup: dict[str, Any]) -> Generator[tuple[str, Record], None, None]:
    path = str(backup.get("path") or "")
    try:
        with gzip.open(Path(path), "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                yield _entry(path, number, line)
    # The file is moved, unreadable, truncated (EOFError) or damaged (zlib, gzip header,
    # UTF-8 or JSON errors are ValueErrors): said as what it is, never taken for a bug.
    except (OSError, EOFError, zlib.error, ValueError) as error:
        raise BackupUnreadable(path, _why(error)) from error


def check_readable(backup: dict[str, Any] | None) -> None:
    """Raises BackupUnreadable when the backup is not there or does not start as one:
    cheap (its first entry only), for the undo to say so before any write."""
    if backup:
        with closing(_entries(backup)) as entries:
            next(entries, None)


def _entry(path: str, number: int, line: str) -> tuple[str, Record]:
    entry = json.loads(line, parse_float=Decimal)
    if (
        not isinstance(entry, dict)
        or not isinstance(entry.get("entity"), str)
        or not isinstance(entry.get("record"), dict)
        or "Id" not in entry["record"]
    ):
        raise BackupUnreadable(path, f"line {number} is not an entity and its record")
    return entry["entity"], entry["record"]


def _why(error: BaseException) -> str:
    if isinstance(error, FileNotFoundError):
        return "no such file: moved or deleted since it was taken"
    if isinstance(error, EOFError):
        return "the file ends too soon: it was cut short"
    detail = getattr(error, "strerror", None) or str(error)
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


def _records(backup: dict[str, Any], wanted: set[str]) -> dict[str, Record]:
    """The backup's records named in `wanted` ("qbo.Invoice:33"), and only those."""
    found = {}
    for entity, record in _entries(backup):
        written = f"qbo.{entity}:{record.get('Id')}"
        if written in wanted:
            found[written] = record
    return found


def _unseen(step: Step, current: Record | None) -> list[str]:
    """The lists the journal says were absent and that are there now: what a run reading
    the record without its lists could not see."""
    if step.kind != "restore" or not step.written.startswith("qbo.") or current is None:
        return []
    return [
        path
        for path, value in step.fields.items()
        if value is None and "." not in path and isinstance(current.get(path), list)
    ]


def whole_lists(
    steps: list[Step], backup: dict[str, Any] | None, current: dict[str, Record | None]
) -> list[Step]:
    """Each step of an initial sync's undo with the lists that sync could not see taken
    from the backup (absent there: absent before); those of a record the backup does not
    hold are named in `unknown`, as nothing says what they were."""
    unseen = {s.written: paths for s in steps if (paths := _unseen(s, current.get(s.written)))}
    if not unseen:
        return steps
    before = _records(backup, set(unseen)) if backup else {}
    taken = []
    for step in steps:
        paths = unseen.get(step.written, [])
        if paths and step.written not in before:  # made between the backup and the run
            taken.append(replace(step, unknown=tuple(paths)))
            continue
        record = before.get(step.written, {})
        numbers = _number_keys(current.get(step.written) or {})
        known = {p: _typed(record.get(p), numbers) for p in paths}
        taken.append(replace(step, fields={**step.fields, **known}))
    return taken


def _number_keys(record: Any) -> set[str]:
    """The keys QBO answers with a number in this record (Amount, Qty, UnitPrice...)."""
    found: set[str] = set()
    items = record.items() if isinstance(record, dict) else enumerate(record)
    for key, value in items:
        if isinstance(value, dict | list):
            found |= _number_keys(value)
        elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            found.add(str(key))
    return found


def _typed(value: Any, numbers: set[str], key: str = "") -> Any:
    """A backup's value as QBO takes it: the backup keeps amounts as text, and a number
    sent as text would be a different value to QBO."""
    if isinstance(value, dict):
        return {k: _typed(v, numbers, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v, numbers, key) for v in value]
    if key in numbers and isinstance(value, str):
        number = finite_number(value, texts=True)
        return value if number is None else number
    return value


@dataclass(frozen=True)
class BackupCheck:
    """QBO against the backup taken before the initial sync, once its undo is applied."""

    back: bool  # QBO is back to the backup: nothing below names a difference
    lines: tuple[str, ...]  # saying so, or a heading and one line per difference


def compare_with_backup(session: Any, backup: dict[str, Any], steps: Iterable[Step]) -> BackupCheck:
    """After the initial sync is undone: does QBO hold the same active records as the
    backup taken before it, with the fields the run changed (`steps`, all the run's
    writes) as they were?"""
    steps = list(steps)
    changed = {s.written: s for s in steps if s.kind == "restore"}
    active, was = _backup_index(backup, steps, changed)
    differences = []
    for entity, before in sorted(active.items()):
        differences += _entity_differences(session, entity, before, was)
    if differences:
        heading = f"QBO differs from the backup of {backup['taken_at']} ({backup['path']}):"
        return BackupCheck(False, (heading, *differences))
    return BackupCheck(
        True,
        (
            f"QBO is back to the backup taken before the initial sync ({backup['taken_at']}, "
            f"{backup['path']}): the same active records in {len(active)} entities, and the "
            f"fields the run changed as they were in {len(changed)} record(s)",
        ),
    )


def _backup_index(
    backup: dict[str, Any], steps: list[Step], changed: dict[str, Step]
) -> tuple[dict[str, set[str]], dict[str, dict[str, Any]]]:
    """The Ids of the backup's active records by entity, and for each record the run
    changed, the backup's values at the paths it changed (not whole records: a backup is
    the firm's whole QBO)."""
    # An entity the backup holds no record of is compared too, if the run wrote to it.
    active: dict[str, set[str]] = {
        s.written.split(":", 1)[0].split(".", 1)[1]: set()
        for s in steps
        if s.written.startswith("qbo.")
    }
    was: dict[str, dict[str, Any]] = {}
    for entity, record in _entries(backup):
        ids = active.setdefault(entity, set())
        if not _active(record):
            continue
        ids.add(str(record["Id"]))
        step = changed.get(f"qbo.{entity}:{record['Id']}")
        if step is not None:
            was[step.written] = {path: get_path(record, path) for path in step.fields}
    return active, was


def _entity_differences(
    session: Any, entity: str, before: set[str], was: dict[str, dict[str, Any]]
) -> list[str]:
    where = "Active IN (true, false)" if entity in NAME_LISTS else ""
    now: dict[str, list[str]] = {}  # active Id -> the fields not as in the backup
    for record in session.qbo.query_all(entity, where):
        if _active(record):
            written = f"qbo.{entity}:{record['Id']}"
            now[str(record["Id"])] = differing(was[written], record) if written in was else []
    lines = []
    if set(now) - before:
        lines.append(f"{entity}: not in the backup: {', '.join(sorted(set(now) - before))}")
    if before - set(now):
        lines.append(f"{entity}: in the backup, not now: {', '.join(sorted(before - set(now)))}")
    for ident in sorted(set(now) & before):
        if now[ident]:
            lines.append(f"{entity} {ident}: {', '.join(now[ident])} not as in the backup")
    return lines


def _active(record: Record) -> bool:
    # voided as the planner tells it: QBO marks a voided invoice only in its PrivateNote
    return record.get("Active", True) is not False and not is_void(record)
