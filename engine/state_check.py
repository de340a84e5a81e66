"""Is a state file what it claims to be? Checked before the engine trusts it; a file that is
not gets a message saying how to restore the copy kept beside it."""

from __future__ import annotations

from pathlib import Path

from sqlite_utils import Database

from tpsqbo_engine.errors import StateError

MIGRATIONS_TABLE = "_sqlite_migrations"
TABLES = frozenset(
    {"links", "runs", "run_items", "journal", "cursors", "ignores", "backups", "reconsider"}
)
SQLITE_HEADER = b"SQLite format 3\x00"


def rotated(path: Path) -> Path:
    """The copy of the state kept from before the latest run."""
    return path.with_name(path.name + ".1")


def _restore_hint(path: Path) -> str:
    copy = rotated(path)
    if copy.is_file():
        return (
            f"restore the copy taken before the last run: move {path.name} away, then "
            f"`cp {copy} {path}` (runs since that copy are read again and matched, not "
            "duplicated); or move it away to start afresh"
        )
    return (
        "restore it from your own backup of the state folder, or move it away to start "
        "afresh (links to QBO records are then rebuilt by matching)"
    )


def refuse(path: Path, why: str) -> StateError:
    return StateError(f"the state file {path} {why}", hint=_restore_hint(path))


def check_file(path: Path) -> None:
    """An existing state file must be a SQLite database before SQLite opens it: SQLite
    would take an empty file as a new database and start over without a word."""
    with path.open("rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if not header:
        raise refuse(path, "is empty")
    if header != SQLITE_HEADER:
        raise refuse(path, "is not a SQLite database")


def check_database(db: Database, path: Path, existed: bool) -> None:
    verdict = [row[0] for row in db.execute("PRAGMA quick_check").fetchall()]
    if verdict != ["ok"]:
        raise refuse(path, f"is damaged ({'; '.join(verdict[:3])})")
    if existed and MIGRATIONS_TABLE not in db.table_names():
        raise refuse(path, "is not an engine state file")


def check_tables(db: Database, path: Path) -> None:
    """After the migrations every table is there; one missing means a damaged file."""
    missing = TABLES - set(db.table_names())
    if missing:
        raise refuse(path, f"has lost its {', '.join(sorted(missing))} table(s)")
