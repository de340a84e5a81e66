"""The watcher's list cache: one CDC call brings every cached list up to date, and what it
serves is what reading the lists whole gives."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.watch.listcache import CACHED, WHOLE, ListCachingClient


def _tokens(client: object, entity: str) -> dict[str, str]:
    """The list as the sync reads it: with inactive rows for customers and items."""
    rows = client.query_all(entity, WHOLE[entity])  # type: ignore[attr-defined]
    return {
        r["Id"]: f"{r['SyncToken']}{'' if r.get('Active', True) else ' inactive'}" for r in rows
    }


def test_lists_are_kept_up_to_date_by_one_cdc_call(tmp_path: Path) -> None:
    with demo_firm(tmp_path) as (session, qbo, _):
        session.backup()
        session.sync()
        dropped = qbo.company.create("Customer", {"DisplayName": "Leaving Soon Ltd"})
        plain = session.qbo
        cached = ListCachingClient.wrapping(plain)
        stats = cached.stats
        before, batches = stats.calls, stats.batch_calls
        assert {e: _tokens(cached, e) for e in CACHED} == {e: _tokens(plain, e) for e in CACHED}
        # whole, in one batch call of queries (and plain's, a query each)
        assert (stats.calls - before, stats.batch_calls - batches) == (1 + len(CACHED), 1)

        changed = next(iter(qbo.company.table("Customer").values()))
        qbo.company.update(
            "Customer",
            {"Id": changed["Id"], "SyncToken": changed["SyncToken"], "Notes": "new"},
            sparse=True,
        )
        qbo.company.update(
            "Customer",
            {"Id": dropped["Id"], "SyncToken": dropped["SyncToken"], "Active": False},
            sparse=True,
        )
        before = stats.calls
        assert _tokens(cached, "Customer") == _tokens(cached, "Customer")  # cache still fresh
        assert stats.calls == before
        cached.new_run()
        before = stats.calls
        now = {e: _tokens(cached, e) for e in CACHED}
        assert stats.calls - before == 1  # one CDC call for every list
        assert now == {e: _tokens(plain, e) for e in CACHED}
        assert now["Customer"][dropped["Id"]].endswith(" inactive")  # matching still sees it
        assert now["Customer"][changed["Id"]] != "0"
        cached.invalidate()
        before = stats.calls
        _tokens(cached, "Item")
        assert stats.calls - before == 1  # read whole again, in one batch call
        before = stats.calls
        list(cached.query_all("Customer", "Active = true"))  # a filtered read is not cached
        assert stats.calls - before == 1
        cached.max_age = timedelta(0)  # runs back to back: whole again once it is too old
        cached.new_run()
        before = stats.calls
        _tokens(cached, "Term")
        assert stats.calls - before == 1  # every list, in one batch call
