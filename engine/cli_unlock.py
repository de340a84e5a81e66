"""`tpsqbo-engine unlock`: clears the firm's run lock left by a run killed on another host.

This host cannot see another host's processes, so such a lock holds for ever and every later
run of the firm fails with RunLocked. Only the user can know that run stopped: unlock shows
the holder and since when, never clears one provably alive (its process runs on this host,
or it holds a live fleet lease), and clears another host's only when told `--yes`, or
`--holder` with the holder's exact text as shown (a script cannot clear a lock it did not
look at). It removes only that holder's row: a lock taken meanwhile by another run stays.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tpsqbo_engine.cli_fleet import COORD_ENV, DEFAULT_COORD, open_coordinator
from tpsqbo_engine.cli_options import ConfigOption, FormatOption, output_format
from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.fleet.reach import BROKER_ENV, reaching
from tpsqbo_engine.sync.config import CONFIG_FILE

Broker = Annotated[
    str,
    typer.Option(
        "--broker", envvar=BROKER_ENV, help="A fleet run's holder: its fleet's Redis URL."
    ),
]
CoordFile = Annotated[
    Path,
    typer.Option(
        "--coord",
        envvar=COORD_ENV,
        help="A fleet run's holder, its fleet without a broker: the fleet's SQLite file.",
    ),
]

if TYPE_CHECKING:
    from tpsqbo_engine.state import StateStore
    from tpsqbo_engine.sync.lock import StaleLock


def unlock(
    config: ConfigOption = Path(CONFIG_FILE),
    yes: Annotated[
        bool,
        typer.Option("--yes", help="Clear a lock held on another host: you know its run stopped."),
    ] = False,
    holder: Annotated[
        str,
        typer.Option(
            "--holder", help="Clear only the lock of this holder, exactly as `unlock` shows it."
        ),
    ] = "",
    broker: Broker = "",
    coord: CoordFile = DEFAULT_COORD,
    output: FormatOption = "text",
) -> None:
    """Show who holds the firm's run lock; clear it when its run is gone (exit 1: kept)."""
    from tpsqbo_engine.sync.config import load_config
    from tpsqbo_engine.sync.firmfiles import open_state

    output = output_format(output)
    firm = load_config(config)
    if not firm.state.is_file():  # never ran: nothing to clear, and no state made for it
        shown = {"firm": firm.firm, "state": str(firm.state), "held": False, "cleared": False}
        _show(output, shown, [])
        return
    state = open_state(firm.state)
    try:
        _unlock(state, (yes, holder), (broker, coord), output, {"firm": firm.firm})
    finally:
        state.db.conn.close()


def _unlock(
    state: StateStore,
    told: tuple[bool, str],
    fleet: tuple[str, Path],
    output: str,
    shown: dict[str, Any],
) -> None:
    from tpsqbo_engine.sync.lock import LockKept, StaleLock, held_lock, remove

    yes, holder = told
    shown["state"] = str(state.path)
    lock = held_lock(state)
    if lock is None:
        _show(output, {**shown, "held": False, "cleared": False}, [])
        return
    judged = StaleLock.judge(lock, _lease_check(*fleet))
    shown |= _described(judged)
    problem: Exception | None = None
    if holder and holder != lock.holder.text:
        problem = LockKept(
            f"the lock is held by {lock.holder.text}, not by the holder given ({holder})",
            hint="nothing was removed; run `tpsqbo-engine unlock` again to see who holds it",
        )
    elif judged.refusal:
        problem = LockKept(f"the lock is kept: {judged.refusal}", hint=_wait_hint(judged))
    elif judged.needs_word and not (yes or holder):
        problem = UsageError(
            f"the lock is held on another host ({lock.holder.host}): this host cannot tell "
            "whether that run still goes on",
            hint="make sure it stopped there, then run `tpsqbo-engine unlock --holder "
            f"{shlex.quote(lock.holder.text)}` (with this --config), or pass --yes",
        )
    elif not remove(state, lock):
        problem = LockKept(
            "the lock changed while it was being cleared: another run holds it now",
            hint="nothing was removed; run `tpsqbo-engine unlock` again to see who holds it",
        )
    shown["cleared"] = problem is None
    _show(output, shown, _lines(judged, cleared=problem is None))
    if problem is not None:
        raise problem


def _lease_check(broker: str, coord: Path) -> Callable[[str, int], bool]:
    """The fleet's `lease_held`, opened when first asked: only a fleet run's holder that is
    not provably alive here needs its fleet."""

    def lease_held(realm: str, token: int) -> bool:
        if not broker and not coord.is_file():
            raise UsageError(
                f"the lock is held by a fleet run (realm {realm}, lease token {token}) and its "
                f"lease cannot be checked: no broker given, and no fleet coordination file at "
                f"{coord.resolve()}",
                hint=f"pass its fleet's --broker (or {BROKER_ENV}), or --coord naming its file",
            )
        with reaching(broker):
            return open_coordinator(broker, coord).lease_held(realm, token)

    return lease_held


def _wait_hint(judged: StaleLock) -> str:
    if judged.process == "alive":
        return "wait for that run to finish, or stop it; a run killed here is taken over"
    return "wait for its lease to lapse (it expires unless its run renews it), then try again"


def _described(judged: StaleLock) -> dict[str, Any]:
    holder = judged.lock.holder
    return {
        "held": True,
        "holder": holder.text,
        "since": judged.lock.since,
        "host": holder.host,
        "this_host": holder.here,
        "process": judged.process,
        "fleet_realm": holder.realm or None,
        "lease_token": holder.token,
        "lease": judged.lease or None,
    }


def _lines(judged: StaleLock, *, cleared: bool) -> list[str]:
    holder = judged.lock.holder
    where = "this host" if holder.here else f"another host ({holder.host})"
    process = {"alive": "alive", "gone": "gone", "unknown": "cannot be seen from here"}
    found = [
        f"held by:  {holder.text}",
        f"since:    {judged.lock.since}",
        f"process:  {holder.pid} on {where}, {process[judged.process]}",
    ]
    if judged.lease:
        found.append(f"lease:    realm {holder.realm}, token {holder.token}, {judged.lease}")
    return [*found, "cleared" if cleared else "kept"]


def _show(output: str, shown: dict[str, Any], lines: list[str]) -> None:
    if output == "json":
        typer.echo(json.dumps(shown, indent=2))
        return
    if not shown["held"]:
        typer.echo(f"no run holds the lock of firm {shown['firm']} ({shown['state']})")
        return
    typer.echo(f"the run lock of firm {shown['firm']} ({shown['state']})")
    for text in lines:
        typer.echo(text)


def register(app: typer.Typer) -> None:
    app.command()(unlock)
