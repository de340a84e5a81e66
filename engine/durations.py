"""Intervals on the command line, one grammar for every option that takes one (`watch
--poll/--tps-poll/--reconcile`, `fleet schedule --every`): a number of seconds (`90`), a
number with a unit (`90s`, `15m`, `2h`, `1d`), `hourly`, `daily`, and `off` where the option
may be switched off."""

from __future__ import annotations

import re

from tpsqbo_engine.errors import UsageError

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_NAMED = {"hourly": 3600.0, "daily": 86400.0, "off": 0.0}


def interval(text: str, option: str, *, allow_off: bool = True) -> float:
    """Seconds, or 0 for `off`; a clear UsageError naming `option` for anything else."""
    value = text.strip().lower()
    if value in _NAMED and (allow_off or value != "off"):
        return _NAMED[value]
    found = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd]?)", value)
    if found is None or float(found.group(1)) <= 0:
        raise UsageError(
            f"{option} {text!r} is not an interval",
            hint="write e.g. 90, 30s, 15m, 2h, 1d, hourly or daily"
            + (", or off" if allow_off else ""),
        )
    return float(found.group(1)) * _UNITS[found.group(2)]
