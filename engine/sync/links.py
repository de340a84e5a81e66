"""Which TPS record is which QBO record: links kept per pair of entities (a TPS entity and a
QBO entity, whichever way a mapping flows), and how records and pairs are named."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from tpsqbo_engine.ruleset.model import MappingRule

# What a reference to a record this run will create reads until the executor has its id.
PENDING = "@pending:"


@cache  # asked for every record and reference: a handful of entity names per run
def system_of(qualified: str) -> str:
    return qualified.split(".", 1)[0]


def pair_of(mapping: MappingRule) -> str:
    """Links are kept per TPS entity and QBO entity, whichever way a mapping flows."""
    return _pair(mapping.source, mapping.target)


@cache
def _pair(source: str, target: str) -> str:
    sides = {system_of(source): source, system_of(target): target}
    return f"{sides['tps'].split('.')[1]}|{sides['qbo'].split('.')[1]}"


def record_key(qualified: str, ident: str) -> str:
    return f"{qualified}:{ident}"


@dataclass
class Links:
    """State's links plus what this run plans; both directions."""

    to_qbo: dict[str, dict[str, str]] = field(default_factory=dict)
    to_tps: dict[str, dict[str, str]] = field(default_factory=dict)
    planned: set[str] = field(default_factory=set)
    excluded: dict[str, str] = field(default_factory=dict)
    # records whose match waits for the firm's review (record -> the review's first words):
    # what refers to them says so, rather than "not synced yet"
    held: dict[str, str] = field(default_factory=dict)

    def add(self, pair: str, tps_id: str, qbo_id: str) -> None:
        self.to_qbo.setdefault(pair, {})[tps_id] = qbo_id
        self.to_tps.setdefault(pair, {})[qbo_id] = tps_id

    def other(self, pair: str, system: str, ident: str) -> str | None:
        return (self.to_qbo if system == "tps" else self.to_tps).get(pair, {}).get(ident)
