"""Files at rest: everything the engine writes about a firm is private to the user running it.

State, its WAL/SHM, backups, reports, plans, documents and crash logs are created 0600 in
folders the engine creates 0700. The CLI also sets a 0077 umask, so anything a library creates
on the engine's behalf (SQLite's journal files, say) starts private too; the functions here
make it so when the engine is used as a library. Folders that already exist are left as they
are (a firm may keep its state in a shared folder on purpose), but the engine's files in them
are still 0600.

Crash logs go under the firm's state folder (`crash/`), or the user's own state folder when no
firm config was read, never a shared temporary folder; they hold where the engine failed
(exception types, files, lines, functions) and never a message, so no token or record value
can reach them.
"""

from __future__ import annotations

import os
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
UMASK = 0o077

_crash_folder: Path | None = None


def private_dir(path: Path) -> Path:
    """Makes `path` and any missing parents, each new one 0700."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        folder.chmod(DIR_MODE)  # mkdir's mode is filtered by the umask
    return path


def private_file(path: Path) -> Path:
    """Creates `path` empty if missing; either way it ends 0600."""
    private_dir(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.close(descriptor)
    path.chmod(FILE_MODE)
    return path


def open_private(path: Path) -> int:
    """A new file descriptor for writing `path` from scratch, 0600 from its first byte."""
    private_dir(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(descriptor, FILE_MODE)
    return descriptor


def write_private(path: Path, data: str | bytes) -> Path:
    """Writes all of `data` to a temporary file beside `path`, then puts it in place: a
    reader sees the old file or the new one, never half of one. Two writers of one path
    (threads of one process included) each write their own temporary file; the last to
    finish wins whole."""
    with temporary_beside(path) as temporary:
        with os.fdopen(open_private(temporary), "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    return path


@contextmanager
def temporary_beside(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A new, empty, 0600 file in `path`'s folder, named for `path` and no other writer's;
    removed on the way out unless it was put in place."""
    private_dir(path.parent)
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(descriptor)  # mkstemp made it 0600
    temporary = Path(name)
    try:
        yield temporary
    finally:
        temporary.unlink(missing_ok=True)


def set_crash_folder(state_folder: Path | None) -> None:
    """Crash logs of this process go under the firm's state folder from now on (None: the
    user's own state folder). A folder anyone may write to (/tmp, say, when the state file
    was put there) is not used: the user's own folder is."""
    global _crash_folder
    _crash_folder = (
        state_folder / "crash" if state_folder is not None and not _shared(state_folder) else None
    )


def _shared(folder: Path) -> bool:
    """Whether the nearest existing folder at or above `folder` is writable by anyone."""
    current = folder
    while not current.exists() and current.parent != current:
        current = current.parent
    try:
        return bool(current.stat().st_mode & 0o002)
    except OSError:  # cannot even be looked at: not a place for a crash log
        return True


def own_crash_folder() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "tpsqbo-engine" / "crash"


def crash_folder() -> Path:
    return _crash_folder if _crash_folder is not None else own_crash_folder()


def crash_log(exc: BaseException) -> Path | None:
    """Where the engine failed, as a 0600 file; no exception message, no local value. The
    firm's crash folder first, then the user's own (the firm's may be the very folder whose
    failure is being logged); None when neither can be written: the error boundary must
    not fail in its turn."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    lines = []
    for link in _chain(exc):
        lines.append(f"{type(link).__module__}.{type(link).__qualname__}\n")
        frames = traceback.extract_tb(link.__traceback__)
        lines.extend(f'  File "{f.filename}", line {f.lineno}, in {f.name}\n' for f in frames)
    for folder in dict.fromkeys([crash_folder(), own_crash_folder()]):
        try:
            return write_private(folder / f"crash-{stamp}.log", "".join(lines))
        except OSError:
            continue
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return list(reversed(seen))


__all__ = [
    "UMASK",
    "crash_log",
    "open_private",
    "private_dir",
    "private_file",
    "set_crash_folder",
    "write_private",
]
