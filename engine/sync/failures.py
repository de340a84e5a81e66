"""What a failure is, for `sync --fail-on new`: a nightly run alarms only on failures not
already reported, unchanged.

A failure is the record, the mapping it failed under, and what was said of it. What was said
carries where the rule lives (`/work/firm/rules/payments.yaml:22:18: ...`); that prefix moves
whenever the engine is reinstalled (another virtualenv, another Python's site-packages), the
engine is upgraded or the firm's folder moves, while the failure stays the same one. So each
file's path is compared by the file's name (and position) only, which with the mapping
identify the rule within its pack (or the sheet within the firm's folder); and QBO's
intuit_tid, new on every call, is left out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_TID = re.compile(r"\s*\(intuit_tid [^)]*\)")
# A file's path (absolute or relative, / or \\ separated, its name with an extension): its
# folders go, its name stays (and the :line:col after it). A date typed 12/31/2026 is no path.
_STOP = r"\s:;,'\"`()\[\]<>"
_LOCATED = re.compile(rf"(?:\b[A-Za-z]:)?[^{_STOP}]*[\\/]([^\\/{_STOP}]+\.[A-Za-z][A-Za-z0-9]*)\b")


def identity(item: Mapping[str, Any]) -> tuple[str, str, str]:
    """A failure's identity: its record, its mapping, its message without what moves."""
    message = _TID.sub("", str(item.get("message") or ""))
    return (
        str(item.get("record", "")),
        str(item.get("mapping", "")),
        _LOCATED.sub(r"\1", message).strip(),
    )


def is_new(failure: Mapping[str, Any], earlier: Sequence[Mapping[str, Any]]) -> bool:
    """Whether `failure` is not the record's outcome of its previous run repeated (a record
    two mappings write has an item under each): `earlier` are the record's items of earlier
    runs, oldest first."""
    if not earlier:
        return True
    last_run = earlier[-1].get("run_id")
    known = {
        identity(i) for i in earlier if i.get("run_id") == last_run and i["status"] == "Failed"
    }
    return identity(failure) not in known
