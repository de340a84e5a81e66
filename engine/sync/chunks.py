"""The initial sync of a big firm, a group of clients at a time.

Held whole, a firm's TPS transactions and the plan for them grow with its history: 600 MB
for 5,000 clients. So the initial sync reads TPS's transactions page by page into a spool
on disk, by client, and plans and applies a chunk of clients at a time: their invoices,
payments, adjustments and finance charges, the QBO customers that are theirs (linked, or
matching them by the clients mapping's keys) and those customers' QBO transactions. What
belongs to no client (walk-in customers, journal entries, deposits...) is planned last, once
the clients are linked. Namesakes fall in one chunk (clients go in name order), so unique
display names hold. Every chunk is planned before the first write (the checklist sees the
whole plan), each plan kept in the spool, then applied a chunk at a time; a chunk's records
refer to another's only through the records every chunk holds (work codes), which one
executor map of created records resolves.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.tps.client import TpsSource
from tpsqbo_engine.errors import StateError
from tpsqbo_engine.private import private_file
from tpsqbo_engine.ruleset.model import MatchKey, RuleSet
from tpsqbo_engine.state import StateStore
from tpsqbo_engine.sync.links import pair_of
from tpsqbo_engine.sync.matching import NORMALIZERS
from tpsqbo_engine.sync.mirror import MIRRORED, Mirror, dumps, loads
from tpsqbo_engine.sync.plan import Operation
from tpsqbo_engine.sync.snapshot import TPS_RESOURCES, Snapshot, read_snapshot

Record = dict[str, Any]
CHUNK_CLIENTS = 1000
# TPS transactions: read into the spool by client, never all held at once.
SPOOLED = frozenset(
    {"tps.Invoice", "tps.Payment", "tps.Adjustment", "tps.FinanceCharge", "tps.WipEntry"}
)
CLIENT = "tps.Client"


class Spool:
    """TPS records read once, kept on disk by client, read back a chunk at a time."""

    def __init__(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        private_file(path)
        self.path = path
        self.db = sqlite3.connect(path)
        self.db.execute("create table spool (entity text, id text, client text, json text)")
        self.db.execute("create index by_client on spool (client)")
        self.db.execute("create table clients (id text primary key)")
        self.db.execute("create table plans (chunk integer, json text)")

    def add(self, qualified: str, records: Iterable[Record]) -> None:
        self.db.executemany(
            "insert into spool values (?, ?, ?, ?)",
            ((qualified, str(r["id"]), str(r.get("client_id")), dumps(r)) for r in records),
        )

    def known(self, clients: Iterable[str]) -> None:
        """The clients there are: records of any other client are the rest's."""
        self.db.executemany("insert or ignore into clients values (?)", ((c,) for c in clients))
        self.db.commit()

    def chunk(self, clients: list[str]) -> dict[str, dict[str, Record]]:
        self.db.execute("create temp table if not exists wanted (id text primary key)")
        self.db.execute("delete from wanted")
        self.db.executemany("insert or ignore into wanted values (?)", ((c,) for c in clients))
        found: dict[str, dict[str, Record]] = {}
        self._load(found, "select entity, json from spool where client in wanted", [])
        return found

    def orphans(self) -> dict[str, dict[str, Record]]:
        """Records of no client TPS listed."""
        found: dict[str, dict[str, Record]] = {}
        self._load(found, "select entity, json from spool where client not in clients", [])
        return found

    def everything(self) -> dict[str, dict[str, Record]]:
        found: dict[str, dict[str, Record]] = {}
        self._load(found, "select entity, json from spool order by rowid", [])
        return found

    def _load(self, found: dict[str, dict[str, Record]], sql: str, args: list[str]) -> None:
        for qualified, text in self.db.execute(sql, args):
            record = loads(text)
            found.setdefault(qualified, {})[str(record["id"])] = record

    def keep_plan(self, chunk: int, operations: list[Operation]) -> None:
        self.db.executemany(
            "insert into plans values (?, ?)", ((chunk, dumps(asdict(op))) for op in operations)
        )
        self.db.commit()

    def plan(self, chunk: int) -> list[Operation]:
        rows = self.db.execute("select json from plans where chunk = ? order by rowid", [chunk])
        return [Operation(**loads(text)) for (text,) in rows]

    def close(self) -> None:
        self.db.close()
        self.path.unlink(missing_ok=True)


def read_spooled(
    tps: TpsSource,
    qbo: QboClient,
    names: set[str],
    mirror: Mirror,
    slim: Callable[[str, Record], Record],
    spool: Spool,
) -> Snapshot:
    """The initial read: TPS transactions into the spool, a page at a time; the rest as
    always (QBO's paid history kept short)."""
    snapshot = read_snapshot(tps, qbo, names - SPOOLED, mirror=mirror, slim=slim)
    for name in sorted(names & SPOOLED):
        entity = name.split(".", 1)[1]
        mark = ""
        page: list[Record] = []
        for record in tps.records(TPS_RESOURCES[entity]):
            mark = max(mark, record["updated_at"])
            page.append(slim(name, record))
            if len(page) >= 500:
                spool.add(name, page)
                page = []
        spool.add(name, page)
        snapshot.tps_marks[entity] = mark
    spool.db.commit()
    return snapshot


def client_chunks(clients: dict[str, Record], size: int) -> list[list[str]]:
    """Clients in name order, `size` to a chunk, never parting two of the same name."""
    ordered = sorted(clients.values(), key=lambda c: (_name(c), str(c["id"])))
    chunks: list[list[str]] = [[]]
    for client in ordered:
        current = chunks[-1]
        if len(current) >= size and _name(clients[current[-1]]) != _name(client):
            chunks.append(current := [])
        current.append(str(client["id"]))
    return [c for c in chunks if c]


def _name(client: Record) -> str:
    return str(client.get("name") or "").strip().casefold()


@dataclass
class Chunks:
    """Which chunk each client, customer and QBO transaction belongs to; the last index
    (len(clients)) is the rest."""

    clients: list[list[str]]
    customers: dict[str, int] = field(default_factory=dict)
    qbo: dict[str, int] = field(default_factory=dict)  # "Invoice:238" -> chunk

    @property
    def rest(self) -> int:
        return len(self.clients)


def assign(
    rules: RuleSet, base: Snapshot, state: StateStore, pins: dict[tuple[str, str], str]
) -> Chunks:
    chunks = Chunks(client_chunks(base.records(CLIENT), CHUNK_CLIENTS))
    of_client = {c: n for n, ids in enumerate(chunks.clients) for c in ids}
    for mapping in [m for m in rules.mappings if {m.source, m.target} == {CLIENT, "qbo.Customer"}]:
        for row in state.links(pair_of(mapping)):
            if row["tps_id"] in of_client:
                chunks.customers.setdefault(row["qbo_id"], of_client[row["tps_id"]])
        if mapping.source == CLIENT:
            for (mapping_id, client), pinned in pins.items():
                if mapping_id == mapping.id and client in of_client:
                    chunks.customers.setdefault(pinned, of_client[client])
            for key in mapping.match:
                _by_match(key, base, of_client, chunks.customers)
    for entity, records in base.qbo.items():
        if f"qbo.{entity}" in MIRRORED or entity == "TaxCode":
            continue
        for ident, record in records.items():
            owner = str((record.get("CustomerRef") or {}).get("value", ""))
            chunks.qbo[f"{entity}:{ident}"] = chunks.customers.get(owner, chunks.rest)
    return chunks


def _by_match(
    key: MatchKey, base: Snapshot, of_client: dict[str, int], customers: dict[str, int]
) -> None:
    """Customers a client would match by this key go to that client's chunk (the first, if
    several clients match one: the planner then sees them together only there)."""
    normalize = NORMALIZERS[key.normalize]
    index: dict[str, list[str]] = {}
    for ident, customer in base.records("qbo.Customer").items():
        value = _get(customer, key.target)
        if value not in (None, ""):
            index.setdefault(normalize(value), []).append(ident)
    clients = base.records(CLIENT)
    for ident, n in of_client.items():
        value = _get(clients[ident], key.source)
        for found in index.get(normalize(value), []) if value not in (None, "") else []:
            customers.setdefault(found, n)


def _get(record: Record, path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _all_mirrored(ids: list[str], clients: dict[str, Record], n: int) -> None:
    missing = [i for i in ids if i not in clients]
    if missing:  # planning without them would leave their records unsynced, unsaid
        raise StateError(
            f"the mirror of this firm's TPS clients lacks {len(missing)} client(s) the"
            f" sync planned in chunk {n + 1}: {', '.join(missing[:5])}",
            hint="run `tpsqbo-engine sync --whole` to rebuild the mirror, then sync again",
        )


def chunk_snapshot(
    base: Snapshot, chunks: Chunks, n: int, spool: Spool, mirror: Mirror, linked: set[str]
) -> Snapshot:
    """What chunk `n` plans from: its clients and their records, the lists as they are now
    (earlier chunks may have written some), and the QBO records that are its own. The rest
    (n == chunks.rest) has no clients, TPS records of unknown clients, and the customers
    no client has (`linked`: customers linked to a client)."""
    part = Snapshot(firm=base.firm, qbo_mark=base.qbo_mark)
    ids = chunks.clients[n] if n < chunks.rest else []
    clients = mirror.find(CLIENT, ids)  # the firm's clients are not held between chunks
    _all_mirrored(ids, clients, n)
    part.tps["Client"] = {i: clients[i] for i in ids}  # in the chunk's order
    own = spool.chunk(ids) if n < chunks.rest else spool.orphans()
    for qualified, records in {**base_shared(base), **own}.items():
        part.records(qualified).update(records)
    for qualified in sorted(q for q in MIRRORED if q.startswith("qbo.") and q[4:] in base.qbo):
        if qualified == "qbo.Customer":
            now = {
                ident: r
                for r in mirror.scan(qualified)
                if chunks.customers.get(ident := str(r["Id"]), chunks.rest) == n
                and (n < chunks.rest or ident not in linked)
            }
        else:
            now = mirror.records(qualified)
        part.records(qualified).update(now)
    for entity, records in base.qbo.items():
        if f"qbo.{entity}" in MIRRORED:
            continue
        part.qbo[entity] = (
            records
            if entity == "TaxCode"
            else {i: r for i, r in records.items() if chunks.qbo.get(f"{entity}:{i}") == n}
        )
    return part


def base_shared(base: Snapshot) -> dict[str, dict[str, Record]]:
    """What every chunk sees whole: TPS's work codes (each chunk's invoices name them)."""
    return {f"tps.{e}": r for e, r in base.tps.items() if e != "Client"}


def shared_records(base: Snapshot) -> frozenset[str]:
    """Entities every chunk holds: their records are decided, and reported, once."""
    return frozenset(f"tps.{e}" for e in base.tps if e != "Client") | frozenset(
        q for q in MIRRORED if q.startswith("qbo.") and q != "qbo.Customer"
    )
