"""The initial sync a chunk of clients at a time ends with the same books as in one go."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tpsqbo_engine.errors import StateError
from tpsqbo_engine.state import StateStore
from tpsqbo_engine.sync import chunks
from tpsqbo_engine.sync.awkward import build_books
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.mirror import Mirror
from tpsqbo_engine.sync.session import Session
from tpsqbo_engine.sync.snapshot import Snapshot

LISTS = ("Account", "Item", "Term", "PaymentMethod", "TaxCode")


def _books(qbo: Any, tps: Any) -> dict[str, list[tuple[str, ...]]]:
    company = qbo.company
    names = {c["Id"]: c["DisplayName"] for c in company.table("Customer").values()}

    # Not the DocNumber: QBO numbers what TPS did not, in the order the writes came.
    def sales(entity: str) -> list[tuple[str, ...]]:
        return sorted(
            (
                names.get(r["CustomerRef"]["value"], "?"),
                str(r.get("TotalAmt")),
                str(r.get("Balance", r.get("UnappliedAmt"))),
            )
            for r in company.table(entity).values()
        )

    return {
        "customers": sorted(
            (c["DisplayName"], str(c.get("Active"))) for c in company.table("Customer").values()
        ),
        "invoices": sales("Invoice"),
        "payments": sales("Payment"),
        "credit memos": sales("CreditMemo"),
        "tps clients": sorted((c["name"],) for c in tps.firm.table("clients").values()),
        "tps invoices": sorted(
            (i["doc_number"], i["balance"]) for i in tps.firm.table("invoices").values()
        ),
    }


def _initial(folder: Path, chunk: int, awkward: bool) -> tuple[Any, ...]:
    rules = str(Path(__file__).parents[2] / "examples" / "awkward-firm" / "rules")
    options = {"tps_seed": "empty", "rules": rules} if awkward else {"tps_seed": "demo"}
    with (
        pytest.MonkeyPatch.context() as patch,
        demo_firm(folder, **options) as (session, qbo, tps),
    ):
        patch.setattr(chunks, "CHUNK_CLIENTS", chunk)
        if awkward:
            for record, reason in build_books(session.tps, session.qbo).ignored.items():
                session.state.ignore(record, reason)
        session.backup()
        first = session.sync(force_reason="the books as they are", render_to=folder / "docs")
        rendered = sorted(p.name for p in (folder / "docs").glob("*.html"))
        again = Session(session.config).sync()
        statuses = sorted(
            (i["record"], i["status"], i["message"][:90])
            for i in session.state.items(first.run_id)
            if i["status"] != "Successful"
        )
        return first.counts, statuses, _books(qbo, tps), rendered, again.counts, first.notes


@pytest.mark.parametrize("awkward", [False, True], ids=["demo firm", "awkward firm"])
def test_chunks_of_clients_end_with_the_books_of_one_go(tmp_path: Path, awkward: bool) -> None:
    whole = _initial(tmp_path / "whole", 100_000, awkward)
    chunked = _initial(tmp_path / "chunked", 4, awkward)
    assert not any("chunks of clients" in note for note in whole[5])
    assert any("chunks of clients" in note for note in chunked[5])
    assert chunked[:5] == whole[:5]
    assert chunked[3]  # the invoice documents of every chunk
    assert sum(chunked[4].values()) == 0  # and nothing left to write afterwards


def test_a_spool_keeps_records_by_client_and_leaves_nothing_behind(tmp_path: Path) -> None:
    from decimal import Decimal

    spool = chunks.Spool(tmp_path / "state.db.spool")
    assert oct(spool.path.stat().st_mode & 0o777) == "0o600"
    spool.add("tps.Invoice", [{"id": "i1", "client_id": "c1", "balance": Decimal("1.50")}])
    spool.add("tps.Invoice", [{"id": "i2", "client_id": "c2"}, {"id": "i3", "client_id": "c9"}])
    spool.known(["c1", "c2"])
    assert spool.chunk(["c1"]) == {
        "tps.Invoice": {"i1": {"id": "i1", "client_id": "c1", "balance": Decimal("1.50")}}
    }
    assert set(spool.orphans()["tps.Invoice"]) == {"i3"}
    assert set(spool.everything()["tps.Invoice"]) == {"i1", "i2", "i3"}
    spool.close()
    assert not spool.path.exists()


def test_namesakes_share_a_chunk() -> None:
    clients = {
        str(n): {"id": str(n), "name": name}
        for n, name in enumerate(["Acme", "acme ", "Birch", "Cedar", "Dune", "Elm"])
    }
    made = chunks.client_chunks(clients, 1)
    assert sorted(made[0]) == ["0", "1"] and sum(len(c) for c in made) == 6


def test_in_chunks_the_checklist_still_refuses_before_any_write(tmp_path: Path) -> None:
    from tpsqbo_engine.sync.session import ChecklistFailed

    rules = str(Path(__file__).parents[2] / "examples" / "awkward-firm" / "rules")
    with (
        pytest.MonkeyPatch.context() as patch,
        demo_firm(tmp_path, tps_seed="empty", rules=rules) as (session, qbo, _),
    ):
        patch.setattr(chunks, "CHUNK_CLIENTS", 4)
        build_books(session.tps, session.qbo)  # QBO transactions TPS cannot read, not ignored
        session.backup()
        customers = len(qbo.company.table("Customer"))
        with pytest.raises(ChecklistFailed) as refused:
            session.sync()
        assert "no-blocking-transactions" in refused.value.message
        assert len(qbo.company.table("Customer")) == customers
        assert session.state.runs() == []


def test_between_chunks_only_what_every_chunk_holds_is_kept(tmp_path: Path) -> None:
    """The map of created records keeps the work codes and lists every chunk names, not the
    clients and invoices of the chunks before: the initial sync's memory follows a chunk."""
    from tpsqbo_engine.sync.session import Session as Kept

    begun: list[set[str]] = []
    with (
        pytest.MonkeyPatch.context() as patch,
        demo_firm(tmp_path, tps_seed="large:12") as (session, _, _),
    ):
        patch.setattr(chunks, "CHUNK_CLIENTS", 4)
        apply = Kept.apply

        def noting(self: Session, executor: Any) -> None:
            begun.append({key.split(":", 1)[0] for key in executor.created})
            apply(self, executor)

        patch.setattr(Kept, "apply", noting)
        session.backup()
        summary = session.sync()
        assert any("chunks of clients" in note for note in summary.notes)
    assert len(begun) >= 4  # three chunks of clients and the rest
    assert begun[0] == set()
    assert "tps.WorkCode" in begun[1]  # made in the first chunk, named by every later one
    assert all(entities <= {"tps.WorkCode"} | {f"qbo.{e}" for e in LISTS} for entities in begun)


def test_a_chunk_whose_client_the_mirror_lacks_is_a_clear_error(tmp_path: Path) -> None:
    mirror = Mirror(StateStore(tmp_path / "state.db"))
    mirror.put(chunks.CLIENT, [{"id": "c-1", "name": "Ann", "version": "1"}])
    plan = chunks.Chunks(clients=[["c-1", "c-2"]])
    spool = chunks.Spool(tmp_path / "state.db.spool")
    with pytest.raises(StateError, match=r"lacks 1 client.*chunk 1: c-2") as raised:
        chunks.chunk_snapshot(Snapshot(), plan, 0, spool, mirror, set())
    assert "sync --whole" in raised.value.hint
    mirror.put(chunks.CLIENT, [{"id": "c-2", "name": "Bob", "version": "1"}])
    part = chunks.chunk_snapshot(Snapshot(), plan, 0, spool, mirror, set())
    assert list(part.tps["Client"]) == ["c-1", "c-2"]
    spool.close()
