"""Where a command writes what the user asked for (`--out`, `--render`): checked before the
long work, so a folder given for a file, or a place that cannot be written, is a usage error
before both systems are read or the books are written, never a crash after."""

from __future__ import annotations

import os
from pathlib import Path

from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.private import write_private


def writable(path: Path, option: str, example: str = "plan.json") -> Path:
    """An output file checked before the long work: a folder, or a place that cannot be
    written, is a usage error now rather than after both systems were read."""
    if path.is_dir():
        raise UsageError(
            f"{option} {path} is a folder", hint=f"give a file name, e.g. {path / example}"
        )
    _try_writing(path.with_name(f".{path.name}.{os.getpid()}.probe"), option, path)
    return path


def folder_out(path: Path, option: str) -> Path:
    """A folder the run will write into, checked before the run writes to the books: finding
    out after the sync that its documents cannot be kept would be too late to say so."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path} is a file, not a folder", hint="give a folder")
    _try_writing(path / f".tpsqbo-{os.getpid()}.probe", option, path)
    return path


def _try_writing(probe: Path, option: str, shown: Path) -> None:
    """A trial, not a permission bit (read-only mounts and /proc refuse root too): the first
    missing folder on the way to `probe` made and removed, or `probe` made and removed."""
    missing = probe
    while not missing.parent.exists() and missing.parent.parent != missing.parent:
        missing = missing.parent
    if not missing.parent.is_dir():
        raise UsageError(f"cannot write {option} {shown}: {missing.parent} is not a folder")
    try:
        if missing != probe:
            missing.mkdir(mode=0o700)
            missing.rmdir()
        else:
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write {option} {shown}: {exc.strerror}") from None


def write_out(path: Path, data: str) -> None:
    try:
        write_private(path, data)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
