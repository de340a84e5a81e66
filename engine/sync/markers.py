"""The engine's own bookkeeping on QBO records: the marker that says "written from TPS
record X" (`sync:tps:invoice:inv-1001`), put first in PrivateNote by the engine itself.

It lets a run that lost QBO's answer find the record instead of creating it twice, and keeps
the engine's own writes from coming back as QBO-made records. Rules declare it
(`natural_key: {marker: invoice}`); whatever note the rules write follows it.
"""

from __future__ import annotations

from typing import Any

PREFIX = "sync:tps:"
MAX_NOTE = 4000  # QBO's PrivateNote limit


def marker(name: str, source_id: str) -> str:
    return f"{PREFIX}{name}:{source_id}"


def engine_note(name: str, source_id: str, note: Any) -> str:
    """The marker, then the rules' own note (if any, and not a marker of its own)."""
    mark = marker(name, source_id)
    text = "" if note is None else str(note).strip()
    if not text or text == mark or text.startswith(PREFIX):
        return mark
    return f"{mark} {text}"[:MAX_NOTE]


def marker_of(note: Any) -> str:
    """The engine's marker at the start of a note, or ''."""
    text = str(note or "")
    return text.split(maxsplit=1)[0] if text.startswith(PREFIX) else ""
