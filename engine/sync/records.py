"""Record names the user types (`tps.Invoice:inv-1001`), checked before they are used: a
typo must be refused, not ignored, retried or explained as nothing while the real record
syncs on. A name must be of an entity the rules know, and of a record the state or one of
the systems knows."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from tpsqbo_engine.connectors.tps.client import TpsRejected
from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.ruleset.checking import did_you_mean
from tpsqbo_engine.state_rows import STATUSES
from tpsqbo_engine.sync.links import pair_of
from tpsqbo_engine.sync.snapshot import TPS_RESOURCES, entities_used

if TYPE_CHECKING:
    from tpsqbo_engine.ruleset.model import RuleSet
    from tpsqbo_engine.state import StateStore
    from tpsqbo_engine.sync.session import Session

_NAME = re.compile(r"^(tps|qbo)\.[A-Za-z]+:\S")
_TPS_ID = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9._~-]{1,128}$")
EXAMPLE = "a record is named <tps|qbo>.<Entity>:<id>, e.g. tps.Invoice:inv-1001"


def entity_of(record: str, rules: RuleSet) -> tuple[str, str]:
    """(qualified entity, id) of a record name whose entity the rules know."""
    if not _NAME.match(record):
        raise UsageError(f"{record!r} is not a record name", hint=EXAMPLE)
    qualified, ident = record.split(":", 1)
    known = sorted(e for e in entities_used(rules) if e.startswith(("tps.", "qbo.")))
    if qualified not in known:
        raise UsageError(
            f"{record}: the rules know no entity {qualified}",
            hint=did_you_mean(qualified, known) or f"the rules' entities: {', '.join(known)}",
        )
    return qualified, ident


def in_state(state: StateStore, rules: RuleSet, qualified: str, ident: str) -> bool:
    """Whether a run, an ignore or a link of the state names the record."""
    record = f"{qualified}:{ident}"
    if state.items(record=record) or record in state.ignored():
        return True
    side, entity = qualified.split(".", 1)
    pairs = {pair_of(m) for m in rules.mappings if qualified in (m.source, m.target)}
    position = 0 if side == "tps" else 1  # a pair is "TpsEntity|QboEntity"
    return any(
        row[f"{side}_id"] == ident and pair.split("|")[position] == entity
        for pair, rows in state.links_of_pairs(pairs, [ident]).items()
        for row in rows
    )


def in_systems(session: Session, qualified: str, ident: str) -> bool:
    """Whether TPS or QBO holds the record: one read by id."""
    side, entity = qualified.split(".", 1)
    if side == "qbo":
        return any(True for _ in session.qbo.read_many(entity, [ident]))
    if entity not in TPS_RESOURCES or not _TPS_ID.match(ident):
        return False  # an id TPS never gives is not sent into a URL path
    try:
        session.tps.get(TPS_RESOURCES[entity], ident)
    except TpsRejected as refused:
        if refused.status == 404:
            return False
        raise
    return True


def check_records(session: Session, records: Iterable[str]) -> list[str]:
    """Refuses a record the rules, the state and the systems do not know; returns warnings
    for those that could not be looked up (no connection), which are used as given."""
    warnings = []
    for record in records:
        qualified, ident = entity_of(record, session.rules)
        if in_state(session.state, session.rules, qualified, ident):
            continue
        unconnected = session.unconnected()
        if unconnected:
            warnings.append(f"{record} is not in the state and was not looked up: {unconnected}")
        elif not in_systems(session, qualified, ident):
            system = "TPS" if qualified.startswith("tps.") else "QBO"
            raise UsageError(
                f"no record {record}: neither the state nor {system} knows it",
                hint=did_you_mean(record, _recent(session.state, qualified))
                or "check the id; `tpsqbo-engine history --run N` lists a run's records",
            )
    return warnings


def _recent(state: StateStore, qualified: str) -> list[str]:
    """The entity's records the latest runs named, to suggest from: bounded, so a typo costs
    a moment on a firm of any size."""
    rows = state.db.conn.execute(
        "select record from run_items where record like ? escape '\\' "
        "group by record order by max(id) desc limit 5000",
        [qualified.replace("_", "\\_").replace("%", "\\%") + ":%"],
    )
    return [str(row[0]) for row in rows]


def status_named(status: str) -> str:
    """A history status as the state keeps it, whatever its case."""
    for known in STATUSES:
        if known.lower() == status.strip().lower():
            return known
    raise UsageError(
        f"--status {status!r} is not a status",
        hint=did_you_mean(status.capitalize(), STATUSES) or f"one of: {', '.join(STATUSES)}",
    )


def run_named(state: StateStore, run: int) -> int:
    """A run the state holds: another number would list nothing, as if the run were clean."""
    if not state.db["runs"].count_where("id = ?", [run]):
        raise UsageError(f"no run {run}", hint="`tpsqbo-engine history` lists the runs")
    return run
