"""Evaluating rules against live records: the functions rules call, and the scope they see.

`lookup`, `ref`, `linked` and `record` resolve against the run's snapshot and links. A
reference to a record this run will create becomes a placeholder (`@pending:...`) that the
executor replaces with the real id once that record exists; a reference to a record the
exclusions left out makes the referring record excluded too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any

from tpsqbo_engine.dotted import get_path
from tpsqbo_engine.expr import ExpressionError, RuleFunction, Scope
from tpsqbo_engine.exprread import Functions
from tpsqbo_engine.functions import bound_functions
from tpsqbo_engine.ruleset.model import FieldRule, MappingRule, RuleSet
from tpsqbo_engine.ruleset.shapes import entity_catalog
from tpsqbo_engine.sync.applying import Step, compile_steps
from tpsqbo_engine.sync.applying import desired as desired
from tpsqbo_engine.sync.applying import wanted as wanted
from tpsqbo_engine.sync.filling import Fields, filled, filler
from tpsqbo_engine.sync.hashing import content_hash as content_hash
from tpsqbo_engine.sync.links import PENDING, Links, pair_of, record_key, system_of
from tpsqbo_engine.sync.snapshot import Snapshot
from tpsqbo_engine.sync.unapplied import carriers, split_lines

Record = dict[str, Any]
_MISSING = object()
US_TAX_CODES = ("TAX", "NON")


# How a record left out with what it refers to is told (the state reads it back: state.py).
REFERS_TO = "refers to "


class ExcludedReference(Exception):
    def __init__(self, record: str, reason: str) -> None:
        super().__init__(f"{REFERS_TO}{record}, which is left out: {reason}")
        self.record, self.reason = record, reason


def _ident(record: Mapping[str, Any]) -> str:
    return str(record.get("Id") or record.get("id"))


def _display(record: Mapping[str, Any]) -> str:
    return str(record.get("DisplayName") or record.get("Name") or record.get("DocNumber") or "")


_WIP_ENTRIES = "tps.WipEntry"  # what `wip()` reads
# what every scope of an entity starts from (Resolver._entity)
_Entity = tuple[Fields, bool, Functions]


@dataclass
class Resolver:
    rules: RuleSet
    snapshot: Snapshot
    links: Links
    _keyed: dict[tuple[str, str], dict[str, Record]] = field(default_factory=dict)
    _target: tuple[str, str | None] = ("", None)
    _names: dict[str, dict[str, str | None]] = field(default_factory=dict)
    # The run's clock: `today()` in rules; pack tests fix it.
    today_is: Callable[[], date] = date.today
    # Made once per run rather than per record: functions, mappings by id, name indexes,
    # compiled field lists, and the scope of the record being decided.
    _functions: dict[str, dict[str, RuleFunction]] = field(default_factory=dict)
    _mappings: dict[str, MappingRule] = field(default_factory=dict)
    _by_name: dict[str, dict[str, Record]] = field(default_factory=dict)
    _wip: dict[Any, list[Record]] | None = None
    _steps: dict[int, tuple[Any, tuple[Step, ...]]] = field(default_factory=dict)
    _last: tuple[str, Any, Scope] | None = None
    _filled: dict[int, tuple[Record, Any]] = field(default_factory=dict)
    _entities: dict[str, _Entity] = field(default_factory=dict)
    _linked: dict[tuple[str, str, str], tuple[str, Any]] = field(default_factory=dict)
    # (entity, key field, key) a rule looked a record up by and the snapshot did not hold:
    # an incremental run reads them and plans again (engine/sync/keyed.py).
    missed: set[tuple[str, str, str]] = field(default_factory=set)

    def writing(self, qualified: str, ident: str | None) -> None:
        """Which target record the next evaluation is for (`unique` needs to know)."""
        self._target = (qualified, ident)

    def mapping(self, mapping_id: str) -> MappingRule:
        if not self._mappings:
            self._mappings = {}
            for mapping in self.rules.mappings:
                self._mappings.setdefault(mapping.id, mapping)  # the first, as a scan finds
        return self._mappings[mapping_id]

    def by_key(self, qualified: str, key_field: str, key: Any) -> Record | None:
        index = self._keyed.get((qualified, key_field))
        if index is None:
            records = self.snapshot.records(qualified).values()
            index = {str(get_path(r, key_field)): r for r in records}  # a key may be dotted
            self._keyed[(qualified, key_field)] = index
        return index.get(str(key))

    def _missed(self, qualified: str, key_field: str, key: Any) -> None:
        if key not in (None, ""):
            self.missed.add((qualified, key_field, str(key)))

    def _found_by_link(self, mapping: MappingRule, key: Any) -> str | None:
        """Keyed by id and not read this run (an incremental run re-plans a record whose
        partner moved on, e.g. an invoice a payment paid): the link table knows it, and
        `linked` needs nothing more of it."""
        system = system_of(mapping.source)
        if mapping.key == ("id" if system == "tps" else "Id") and self.links.other(
            pair_of(mapping), system, str(key)
        ):
            return str(key)
        self._missed(mapping.source, mapping.key, key)
        return None

    def functions(
        self, system: str, record: Mapping[str, Any] | None = None
    ) -> dict[str, Callable[..., Any]]:
        return self.add_functions({}, system, record or {})

    def add_functions(
        self, names: dict[str, Any], system: str, record: Mapping[str, Any]
    ) -> dict[str, Any]:
        """`names` with the functions rules call added (over any field of the same name)."""
        names.update(self._shared_functions(system))
        names["wip"] = self._wip_of(record)
        return names

    def _shared_functions(self, system: str) -> dict[str, RuleFunction]:
        shared = self._functions.get(system)
        if shared is None:
            shared = self._functions[system] = bound_functions(self, system, {})
        return shared

    def _wip_of(self, record: Mapping[str, Any]) -> RuleFunction:
        # `wip` is the one function bound to the record it is evaluated for (a partial: made
        # for every record decided, and called without a frame of its own)
        return RuleFunction(partial(self.wip, record))

    def scope(self, qualified: str, record: Record) -> Scope:
        """What rules see for `record`: made once for the record being decided, whose `when`,
        exclusions and fields all read it."""
        last = self._last
        if last is not None and last[1] is record and last[0] == qualified:
            return last[2]
        entity = self._entities.get(qualified)
        if entity is None:
            entity = self._entities[qualified] = self._entity(qualified)
        fields, binds_wip, functions = entity
        fill = partial(_filled, qualified, record, self)
        if binds_wip:
            wip = {"wip": self._wip_of(record)}
            made = Scope(wip, record=record, fields=fields, fill=fill, functions=functions)
        else:
            made = Scope.over_record(None, record, fields, fill, functions)
        self._last = (qualified, record, made)
        return made

    def _entity(self, qualified: str) -> _Entity:
        """What every scope of the entity's records starts from: the plans of its fields,
        whether `wip` is bound to each record (the rules call it only when the pack reads
        WIP entries, RuleSet.reads; otherwise the shared one, for no invoice, is left), and
        the functions every record's scope shares."""
        fields = Fields(self.rules.catalog().get(qualified))
        shared = self._shared_functions(system_of(qualified))
        binds_wip = _WIP_ENTRIES in self.rules.reads
        same = {name: f for name, f in shared.items() if not (binds_wip and name == "wip")}
        return fields, binds_wip, Functions(same)

    def steps(self, fields: tuple[FieldRule, ...]) -> tuple[Step, ...]:
        """A mapping's field rules with their paths split, compiled once per run."""
        known = self._steps.get(id(fields))
        if known is not None and known[0] is fields:
            return known[1]
        compiled = compile_steps(fields)
        self._steps[id(fields)] = (fields, compiled)  # holding `fields` keeps its id unique
        return compiled

    def bound_function(
        self, name: str, system: str, record: Mapping[str, Any]
    ) -> Callable[..., Any]:
        """The resolver's side of the function registry (engine/functions.py)."""
        # partials, not lambdas: `linked` is called for every line of every invoice
        if name == "linked":
            return partial(self.linked, system)
        if name == "record":
            return partial(self.record, system)
        if name == "wip":
            return partial(self.wip, record)
        if name == "today":
            return self.today_is
        method: Callable[..., Any] = getattr(self, name)
        return method

    def wip(self, invoice: Mapping[str, Any], line: Any) -> list[Record]:
        """The WIP entries billed on this invoice for the line's work code."""
        code = line.get("work_code") if isinstance(line, Mapping) else None
        if self._wip is None:
            self._wip = {}
            for entry in self.snapshot.records("tps.WipEntry").values():
                self._wip.setdefault(entry.get("invoice_id"), []).append(entry)
        return [
            entry
            for entry in self._wip.get(invoice.get("id"), ())
            if code is None or entry.get("work_code") == code
        ]

    def lines_to_apply(self, lines: Any) -> list[Any]:
        """The lines of a QBO payment to apply to TPS invoices (engine/sync/unapplied.py)."""
        return split_lines(lines, "lines_to_apply()", self.rules, self.links)[0]

    def lines_left_unapplied(self, lines: Any) -> list[Any]:
        """The lines of a QBO payment that paid a finance charge's or an increase's QBO
        invoice, which TPS keeps unapplied."""
        left = split_lines(lines, "lines_left_unapplied()", self.rules, self.links)[1]
        return [line for line, _ in left]

    def lookup(self, table: str, key: Any, default: Any = _MISSING) -> Any:
        lookup = self.rules.lookups[table]
        found, value = lookup.find(key)  # `True` finds `true:`, 1.5 finds `1.50:`
        if found:
            return value
        if default is not _MISSING:
            return default
        if lookup.has_default:
            return lookup.default
        raise ExpressionError(
            f"the lookup '{table}' has no entry for {str(key)[:100]!r}",
            hint=f"add the key to the lookup ({lookup.where}) or give it a default",
        )

    def unique(self, value: Any, suffix: Any, limit: int = 500) -> Any:
        """`value`, or `value` + `suffix` when another target record already has the name:
        two TPS clients called the same cannot share a QBO DisplayName."""
        if value is None:
            return None
        qualified, ident = self._target
        names = self._names.get(qualified)
        if names is None:
            names = {
                name_key(_display(r)): _ident(r) for r in self.snapshot.records(qualified).values()
            }
            self._names[qualified] = names
        text = str(value)
        holder = names.get(name_key(text), ident)
        if holder is not None and holder != ident:
            text = text[: limit - len(str(suffix))].rstrip() + str(suffix)
        names[name_key(text)] = ident or f"new:{len(names)}"
        return text

    def account_types(self, refs: Any) -> list[str]:
        """The AccountType of each QBO account in `refs` (references or ids; empty ones
        skipped): what an account is, whatever the firm has renamed it."""
        if not isinstance(refs, list | tuple):
            refs = [refs]
        accounts = self.snapshot.records("qbo.Account")
        found = []
        for ref in refs[:1000]:
            ident = ref.get("value") if isinstance(ref, Mapping) else ref
            if ident in (None, ""):
                continue
            account = accounts.get(str(ident))
            if account is None:
                raise ExpressionError(f"QBO has no Account with Id {str(ident)[:40]!r}")
            found.append(str(account.get("AccountType") or ""))
        return found

    def ref(self, entity: str, name: Any) -> dict[str, str]:
        if entity == "TaxCode" and name in US_TAX_CODES:
            return {"value": str(name)}
        named = self._by_name.get(entity)
        if named is None:
            named = self._by_name[entity] = {}
            for candidate in self.snapshot.records(f"qbo.{entity}").values():
                named.setdefault(_display(candidate).casefold(), candidate)  # the first wins
        record = named.get(str(name).casefold())
        if record is not None:
            return {"value": record["Id"], "name": _display(record)}
        raise ExpressionError(
            f"QBO has no {entity} named '{name}'",
            hint="create it in QBO, or change the rule that names it",
        )

    def _source_id(self, mapping: MappingRule, key: Any) -> str | None:
        system = system_of(mapping.source)
        record = self.by_key(mapping.source, mapping.key, key)
        if record is None:
            return self._found_by_link(mapping, key)
        return str(record["id"] if system == "tps" else record["Id"])

    def linked(self, system: str, mapping_id: str, key: Any) -> Any:
        # `system` first: bound positionally (a partial with a keyword costs as much again)
        # Asked for every line of every invoice; what a key links to does not change while
        # a plan is made (a link, or a record this plan creates), only whether it is left out.
        known = self._linked.get((mapping_id, key, system)) if type(key) is str else None
        if known is not None:
            source_key, reference = known
            if source_key in self.links.excluded:
                raise ExcludedReference(source_key, self.links.excluded[source_key])
            return dict(reference) if type(reference) is dict else reference
        mapping = self.mapping(mapping_id)
        pair = pair_of(mapping)
        if key is None:
            return None
        if system_of(mapping.source) == system:
            ident = self._source_id(mapping, key)
            if ident is None:
                raise ExpressionError(
                    f"{mapping.source} has no record with {mapping.key} "
                    f"as given (mapping {mapping.id})"
                )
            target = self.links.other(pair, system, ident)
            source_key = record_key(mapping.source, ident)
            if target is not None and source_key in self.links.excluded:
                # linked, but out of scope now (an excluded office): what refers to it waits
                raise ExcludedReference(source_key, self.links.excluded[source_key])
            if target is None:
                if source_key in self.links.excluded:
                    raise ExcludedReference(source_key, self.links.excluded[source_key])
                if source_key in self.links.planned:
                    target = f"{PENDING}{source_key}"
                elif source_key in self.links.held:
                    raise ExpressionError(
                        f"{source_key} waits for review, so it is not in {mapping.target}: "
                        f"{self.links.held[source_key]}",
                        hint=f"settle the review of {source_key} (its Warning) first",
                    )
                else:
                    raise ExpressionError(
                        f"{source_key} is not in {mapping.target} yet",
                        hint=f"sync mapping {mapping.id} first",
                    )
            reference = self._as_reference(mapping.target, target)
            if type(key) is str:
                kept = dict(reference) if type(reference) is dict else reference
                self._linked[(mapping_id, key, system)] = (source_key, kept)
            return reference
        ident = self.links.other(pair, system, str(key))
        if ident is None:
            return self._unlinked(mapping, str(key))
        record = self.snapshot.find(mapping.source, ident)
        return record.get(mapping.key) if record is not None else ident

    def _unlinked(self, mapping: MappingRule, key: str) -> Any:
        """A record of this side that `mapping` has not linked: written this same run by a
        mapping of the other direction (a QBO-made invoice a QBO payment also pays), left
        out, a customer only QBO knows, or a real gap."""
        referred = record_key(mapping.target, key)
        if referred in self.links.planned:
            return f"{PENDING}{referred}"
        if referred in self.links.held:
            raise ExpressionError(
                f"{referred} waits for review, so it is not in {mapping.source}: "
                f"{self.links.held[referred]}",
                hint=f"settle the review of {referred} (its Warning) first",
            )
        if referred in self.links.excluded:
            raise ExcludedReference(referred, self.links.excluded[referred])
        found = self.snapshot.find(mapping.target, key)
        if found is not None and mapping.source == "tps.Client":
            raise ExcludedReference(
                referred,
                f"the QBO customer '{_display(found)}' is not linked to a TPS client (a "
                "customer only QBO knows, such as a walk-in); add the client in TPS and pin "
                "it, or add a mapping from qbo.Customer to tps.Client to create such clients",
            )
        carrier = self._linked_elsewhere(mapping, key)
        if carrier is not None:
            raise ExpressionError(
                f"{referred} is the copy of {carrier[1]} (mapping {carrier[0]}), not a record "
                f"of mapping {mapping.id}",
                hint="TPS applies payments to invoices only: enter this one in TPS by hand and "
                "take it out of the sync with `tpsqbo-engine ignore`, or change the rule to "
                "apply only lines_to_apply(Line), as the standard qbo-payments mapping does",
            )
        raise ExpressionError(
            f"{mapping.target} {key} has no partner in {mapping.source}",
            hint=f"sync mapping {mapping.id} first, or pin the record",
        )

    def _linked_elsewhere(self, mapping: MappingRule, key: str) -> tuple[str, str] | None:
        """(the mapping, its source record) that links this QBO record when `mapping` does
        not: a finance charge's or an increase's QBO invoice, read as an invoice."""
        if system_of(mapping.target) != "qbo":
            return None
        for other in carriers(self.rules):  # a disabled mapping's links too
            if other.target != mapping.target or other.pair == pair_of(mapping):
                continue
            tps_id = self.links.other(other.pair, "qbo", key)
            if tps_id is not None:
                return other.id, record_key(other.source, tps_id)
        return None

    def _as_reference(self, qualified: str, ident: str) -> Any:
        if system_of(qualified) == "tps":
            return ident
        record = self.snapshot.find(qualified, ident)
        return {"value": ident, "name": _display(record)} if record else {"value": ident}

    def record(self, system: str, mapping_id: str, key: Any) -> Any:
        mapping = self.mapping(mapping_id)
        if system_of(mapping.source) == system:
            qualified, found = mapping.source, self.by_key(mapping.source, mapping.key, key)
            if found is None:
                self._missed(mapping.source, mapping.key, key)
        else:
            qualified, found = mapping.target, self.snapshot.find(mapping.target, str(key))
        shape = entity_catalog().get(qualified)
        if found is None or shape is None:
            return found
        # Filled once per record and run: rules cannot change it (the sandbox is immutable),
        # and a field rule that writes inside a copied value gets its own copy (_put).
        known = self._filled.get(id(found))
        if known is None or known[0] is not found:
            known = self._filled[id(found)] = (found, filled(found, shape))
        return known[1]


def name_key(name: str) -> str:
    """A display name as QBO compares it for Duplicate Name (6240): without case or
    surrounding spaces, so "Smith & Co" and "smith & co " are one name."""
    return name.strip().casefold()


def context(qualified: str, record: Record, resolver: Resolver) -> dict[str, Any]:
    """Every name rules see for `record`: its fields filled, the functions over them."""
    return resolver.add_functions(
        _filled(qualified, record, resolver), system_of(qualified), record
    )


def _filled(qualified: str, record: Record, resolver: Resolver) -> dict[str, Any]:
    shape = resolver.rules.catalog().get(qualified)
    base = filler(shape)(record) if shape is not None else record
    # filled records are new dicts; the record itself is never changed
    return dict(record) if base is record else base
