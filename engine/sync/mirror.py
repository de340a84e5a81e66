"""The firm's copy of the records every run needs whole: TPS clients and work codes, QBO
customers and the QBO lists rules name (accounts, items, terms, payment methods).

Reading them whole on every run made an unchanged re-sync grow with the firm. After the
first run they are kept here, beside the firm's state, and brought up to date from what the run
reads anyway: QBO's CDC (the same call that brings the changed transactions, deletions
included) and TPS's `updated_at` cursors. A mirror that cannot be trusted is rebuilt from a
whole read, and the run says why: none yet, another QBO company, or older than the window
QBO's CDC looks back over.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tpsqbo_engine.private import private_file
from tpsqbo_engine.state import StateStore

Record = dict[str, Any]
# QBO's CDC looks back 30 days; a day's margin for clocks and runs that last.
CDC_WINDOW = timedelta(days=29)
# The transactions that move a customer's open balance.
BALANCE_MOVERS = ("Invoice", "Payment", "CreditMemo", "SalesReceipt", "RefundReceipt")


def moved_customer(entity: str, record: Record) -> str | None:
    """The customer whose Balance this QBO record moves, if it is such a transaction."""
    customer = (record.get("CustomerRef") or {}).get("value")
    return customer if entity in BALANCE_MOVERS and isinstance(customer, str) else None


MIRRORED = frozenset(
    {"tps.Client", "tps.WorkCode"}
    | {f"qbo.{e}" for e in ("Customer", "Account", "Item", "Term", "PaymentMethod")}
)
# Mirrored entities that grow with the firm: an incremental run holds those it reads as
# changed and those its records name (engine/sync/referenced.py), not all of them.
FIRM_SIZED = frozenset({"tps.Client", "qbo.Customer"})


_DECIMAL = "$decimal"


def tagged(value: Decimal) -> dict[str, str]:
    """An amount in JSON kept exactly: 100.00 stays 100.00, never a float (also plan files)."""
    return {_DECIMAL: str(value)}


def untagged(value: dict[str, Any]) -> Any:
    """The amount `value` stands for when it is one `tagged` made, else `value` itself;
    decimal.InvalidOperation when its text is not an amount."""
    if len(value) == 1 and _DECIMAL in value:
        return Decimal(str(value[_DECIMAL]))
    return value


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return tagged(value)
    raise TypeError(f"{type(value).__name__} cannot be kept in the mirror")


def dumps(record: Record) -> str:
    return json.dumps(record, default=_encode, ensure_ascii=False, sort_keys=True)


def loads(text: str) -> Record:
    loaded: Record = json.loads(text, object_hook=untagged)
    return loaded


def _companions(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def _ident(system: str, record: Record) -> str:
    return str(record["id"] if system == "tps" else record["Id"])


def _version(system: str, record: Record) -> str:
    return str(record.get("version") if system == "tps" else record.get("SyncToken", ""))


def _stamp(record: Record) -> str:
    return str((record.get("MetaData") or {}).get("LastUpdatedTime", ""))


class Mirror:
    """A cache of reads beside the firm's state, in a file of its own (`state.db.mirror`):
    rows of `mirror` (one per record) and `mirror_meta` (the QBO company it copies). Kept
    out of the state, which is copied before every run; a file that cannot be read is a
    missing mirror, rebuilt by the next run's whole read."""

    def __init__(self, state: StateStore) -> None:
        self.path = state.path.with_name(state.path.name + ".mirror")
        try:
            self.db = self._open()
        except sqlite3.DatabaseError:  # damaged: a cache, so made afresh
            for file in (self.path, *_companions(self.path)):
                file.unlink(missing_ok=True)
            self.db = self._open()

    def _open(self) -> sqlite3.Connection:
        private_file(self.path)
        db = sqlite3.connect(self.path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "create table if not exists mirror (system text, entity text, id text, "
            "version text, json text, primary key (system, entity, id))"
        )
        db.execute("create table if not exists mirror_meta (name text primary key, value text)")
        db.commit()
        for file in _companions(self.path):
            if file.exists():
                private_file(file)
        return db

    # Whether it can be used ---------------------------------------------------------------
    def meta(self, name: str) -> str:
        row = self.db.execute("select value from mirror_meta where name = ?", [name]).fetchone()
        return str(row[0]) if row else ""

    def _set_meta(self, name: str, value: str) -> None:
        self.db.execute("insert or replace into mirror_meta values (?, ?)", [name, value])

    def unusable(self, realm: str, since: str, entities: Iterable[str]) -> str:
        """Why the mirror must be rebuilt from a whole read, or '' when it can be used for
        a run whose QBO changes are read from `since`."""
        built = set(filter(None, self.meta("entities").split(",")))
        if not self.meta("realm"):
            return "there is no mirror of the lists and customers yet"
        if self.meta("realm") != realm:
            return (
                f"the mirror of the lists and customers is of another QBO company "
                f"({self.meta('realm')}, not {realm})"
            )
        missing = sorted(set(entities) - built)
        if missing:
            return f"the mirror does not hold {', '.join(missing)} yet"
        if not since or too_old(since):
            return (
                "the mirror of the lists and customers is older than the 30 days QBO's CDC "
                "looks back over"
            )
        return ""

    # Reading ------------------------------------------------------------------------------
    def records(self, qualified: str) -> dict[str, Record]:
        system, entity = qualified.split(".", 1)
        rows = self.db.execute(
            "select json from mirror where system = ? and entity = ? order by id",
            [system, entity],
        )
        return {_ident(system, r): r for r in (loads(text) for (text,) in rows)}

    def scan(self, qualified: str) -> Iterator[Record]:
        """Every record of an entity, one row at a time: for a search that keeps few."""
        system, entity = qualified.split(".", 1)
        rows = self.db.execute(
            "select json from mirror where system = ? and entity = ? order by id",
            [system, entity],
        )
        for (text,) in rows:
            yield loads(text)

    def find(self, qualified: str, ids: Iterable[str]) -> dict[str, Record]:
        """The records of these ids the mirror holds, looked up by key."""
        system, entity = qualified.split(".", 1)
        rows = self.db.execute(
            "select json from mirror where system = ? and entity = ? and id in "
            "(select value from json_each(?)) order by id",
            [system, entity, json.dumps(sorted(set(ids)))],
        )
        return {_ident(system, r): r for r in (loads(text) for (text,) in rows)}

    def count(self, qualified: str) -> int:
        system, entity = qualified.split(".", 1)
        (total,) = self.db.execute(
            "select count(*) from mirror where system = ? and entity = ?", [system, entity]
        ).fetchone()
        return int(total)

    # Writing ------------------------------------------------------------------------------
    def rebuild(self, realm: str, whole: dict[str, Iterable[Record]]) -> None:
        """Replaces the mirror with whole reads (`qualified` -> every record)."""
        with self.db:
            self.db.execute("delete from mirror")
            for qualified, records in whole.items():
                self.put(qualified, records)
            self._set_meta("realm", realm)
            self._set_meta("entities", ",".join(sorted(whole)))
            self._set_meta("rebuilt_at", datetime.now(UTC).isoformat(timespec="seconds"))

    def apply(self, qualified: str, changed: Iterable[Record], deleted: Iterable[str] = ()) -> None:
        """Changes since the last look: newer versions replace older ones, deleted ids go."""
        system, entity = qualified.split(".", 1)
        with self.db:
            self.put(qualified, _newest(system, changed))
            for ident in deleted:
                self.db.execute(
                    "delete from mirror where system = ? and entity = ? and id = ?",
                    [system, entity, ident],
                )

    def put(self, qualified: str, records: Iterable[Record]) -> None:
        system, entity = qualified.split(".", 1)
        self.db.executemany(
            "insert or replace into mirror (system, entity, id, version, json) "
            "values (?, ?, ?, ?, ?)",
            ((system, entity, _ident(system, r), _version(system, r), dumps(r)) for r in records),
        )


def _newest(system: str, records: Iterable[Record]) -> Iterator[Record]:
    """One record per id: CDC may bring two versions of a record that changed twice."""
    if system == "tps":
        yield from records
        return
    latest: dict[str, Record] = {}
    for record in records:
        ident = _ident(system, record)
        if ident not in latest or _stamp(record) >= _stamp(latest[ident]):
            latest[ident] = record
    yield from latest.values()


def too_old(moment: str) -> bool:
    """Whether QBO's CDC no longer reaches back to `moment`."""
    try:
        then = datetime.fromisoformat(moment)
    except ValueError:
        return True
    then = then if then.tzinfo else then.replace(tzinfo=UTC)
    return datetime.now(UTC) - then > CDC_WINDOW


class Written:
    """What the run's writes left of mirrored QBO records, put in the mirror together (one
    transaction, not one per write): its echo may never be read back. A written invoice,
    payment or credit moves its customer's Balance without QBO listing the customer as
    changed, so those customers are read again (`reread`, by ids) when the writes are put."""

    def __init__(self, mirror: Mirror, reread: Callable[[list[str]], Iterable[Record]]) -> None:
        self.mirror, self.reread = mirror, reread
        self.pending: dict[str, dict[str, Record]] = {}
        self.moved: set[str] = set()  # customers whose balances the writes moved

    def __call__(self, entity: str, record: Record, action: str) -> None:
        if f"qbo.{entity}" in MIRRORED:
            self.pending.setdefault(f"qbo.{entity}", {})[str(record.get("Id"))] = record
        customer = moved_customer(entity, record)
        if customer is not None:
            self.moved.add(customer)

    def flush(self) -> None:
        pending, self.pending = self.pending, {}
        moved, self.moved = self.moved, set()
        if not self.mirror.meta("realm"):
            return  # no mirror yet: the next run builds it whole
        if moved:
            customers = pending.setdefault("qbo.Customer", {})
            customers.update({str(r["Id"]): r for r in self.reread(sorted(moved))})
        with self.mirror.db:
            for qualified, records in pending.items():
                self.mirror.put(qualified, records.values())
