"""The mirror of QBO's lists and customers and of TPS's clients: an unchanged re-sync costs
the same few QBO calls at any firm size, and a mirror that cannot be trusted is rebuilt."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.mirror import Mirror, dumps, loads
from tpsqbo_engine.sync.session import Session


def _change(session: Session, statement: str) -> None:
    with Mirror(session.state).db as db:
        db.execute(statement)


def _calls_of_an_unchanged_resync(folder: Path, seed: str) -> tuple[int, int, int]:
    """(records the initial sync wrote, calls of the run after it, which reads those writes
    back once, calls of an unchanged re-sync after that)."""
    with demo_firm(folder, tps_seed=seed) as (session, _, _):
        session.backup()
        first = session.sync()
        calls = []
        for _ in range(2):
            # QBO stamps to the second and a read takes in its starting second whole (so as
            # to miss nothing): a run starting in the second the last writes were made reads
            # them again. Runs a second apart, as a scheduler's always are.
            time.sleep(1.1)
            again = Session(session.config)  # a new process: nothing kept but the state
            before = again.qbo.stats.calls
            summary = again.sync()
            assert sum(summary.counts.values()) == 0
            calls.append(again.qbo.stats.calls - before)
        return first.counts["Successful"], calls[0], calls[1]


def test_an_unchanged_resync_makes_the_same_qbo_calls_at_two_firm_sizes(tmp_path: Path) -> None:
    small_written, _, small = _calls_of_an_unchanged_resync(tmp_path / "small", "large:20")
    big_written, read_back, big = _calls_of_an_unchanged_resync(tmp_path / "big", "large:160")
    # The big firm's initial sync wrote more than one CDC answer (1,000 records) holds: the
    # run after it reads them back once, then an unchanged firm costs what a small one does.
    assert small_written < 1000 < big_written
    assert read_back > big
    assert small == big <= 3  # one CDC call and the tax codes


def test_the_mirror_holds_the_balances_the_initial_sync_left(tmp_path: Path) -> None:
    with demo_firm(tmp_path, tps_seed="large:20") as (session, qbo, _):
        session.backup()
        session.sync()
        mirrored = Mirror(session.state).records("qbo.Customer")
        owing = {i: c["Balance"] for i, c in qbo.company.table("Customer").items() if c["Balance"]}
        assert owing and {i: mirrored[i]["Balance"] for i in owing} == owing


def test_a_mirror_of_another_company_is_rebuilt_and_the_run_says_so(tmp_path: Path) -> None:
    with demo_firm(tmp_path) as (session, _, _):
        session.backup()
        session.sync()
        mirror = Mirror(session.state)
        customers = mirror.count("qbo.Customer")
        _change(
            session, "update mirror_meta set value = '4620816365000000000' where name = 'realm'"
        )
        _change(session, "delete from mirror where entity = 'Customer'")
        summary = Session(session.config).sync()
        assert any("of another QBO company" in note for note in summary.notes)
        assert mirror.meta("realm") == session.qbo.realm_id
        assert mirror.count("qbo.Customer") == customers
        (run,) = [r for r in session.state.runs() if r["id"] == summary.run_id]
        assert "of another QBO company" in run["notes"]


def test_a_mirror_older_than_the_cdc_window_is_rebuilt_by_a_whole_read(tmp_path: Path) -> None:
    with demo_firm(tmp_path) as (session, _, _):
        session.backup()
        run = session.sync().run_id
        long_ago = (datetime.now(UTC) - timedelta(days=40)).isoformat(timespec="seconds")
        session.state.move_cursor("qbo", long_ago, run)
        _change(session, "delete from mirror where entity = 'Account'")
        summary = Session(session.config).sync()  # CDC would refuse a 40-day-old moment
        assert any("older than the 30 days" in note for note in summary.notes)
        assert Mirror(session.state).count("qbo.Account") > 0
        assert session.state.cursor("qbo") > long_ago


def test_a_customer_deleted_in_qbo_leaves_the_mirror(tmp_path: Path) -> None:
    with demo_firm(tmp_path) as (session, qbo, _):
        session.backup()
        session.sync()
        mirror = Mirror(session.state)
        company = qbo.company
        # QBO deletes a customer merged into another; CDC lists it as Deleted.
        customer = company.find_by("Customer", "DisplayName", "Red Rock Diner")
        assert customer["Id"] in mirror.records("qbo.Customer")
        with company.lock:
            del company.table("Customer")[customer["Id"]]
            company.deleted.setdefault("Customer", {})[customer["Id"]] = {
                "Id": customer["Id"],
                "status": "Deleted",
                "domain": "QBO",
                "MetaData": {"LastUpdatedTime": company.timestamp()},
            }
        Session(session.config).sync()
        assert customer["Id"] not in mirror.records("qbo.Customer")


def test_a_customer_changed_in_qbo_is_changed_in_the_mirror(tmp_path: Path) -> None:
    with demo_firm(tmp_path) as (session, qbo, _):
        session.backup()
        session.sync()
        customer = qbo.company.find_by("Customer", "DisplayName", "Red Rock Diner")
        session.qbo.update("Customer", customer["Id"], {"Notes": "moved to the coast"})
        Session(session.config).sync()
        mirrored = Mirror(session.state).records("qbo.Customer")[customer["Id"]]
        assert mirrored["Notes"] == "moved to the coast"


def test_money_keeps_its_exact_decimal_places_in_the_mirror() -> None:
    from decimal import Decimal

    record = {"id": "c-1", "balance": Decimal("100.00"), "rate": Decimal("0.075")}
    again = loads(dumps(record))
    assert again == record and str(again["balance"]) == "100.00"


def test_paid_history_kept_short_is_planned_exactly_as_when_read_whole(tmp_path: Path) -> None:
    from tpsqbo_engine.sync.plan_input import PlanInput
    from tpsqbo_engine.sync.planner import Planner
    from tpsqbo_engine.sync.snapshot import entities_used, read_snapshot

    with demo_firm(tmp_path, tps_seed="large:20") as (session, _, _):
        short = session.snapshot()
        whole = read_snapshot(session.tps, session.qbo, entities_used(session.rules))
        slimmed = [i for i, r in short.records("tps.Invoice").items() if "lines" not in r]
        assert slimmed and len(slimmed) < len(whole.records("tps.Invoice"))
        assert all(whole.records("tps.Invoice")[i]["balance"] == 0 for i in slimmed)

        def planned(snapshot: object) -> list[tuple[str, str, str, str]]:
            made = Planner(PlanInput(session.rules, snapshot, {}, "initial")).plan()  # type: ignore[arg-type]
            return [(o.record, o.action, o.level, o.message) for o in made.operations]

        assert planned(short) == planned(whole)


def test_sync_whole_reads_everything_and_the_output_says_when_the_mirror_was_rebuilt(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from tpsqbo_engine import cli

    with demo_firm(tmp_path) as (session, _, _):
        config = str(session.config.path)
        session.backup()
        session.sync()
        mirror = Mirror(session.state)
        other = "update mirror_meta set value = '4620816365000000000' where name = 'realm'"
        _change(session, other)
        result = CliRunner().invoke(cli.app, ["sync", "-c", config, "--whole"])
        assert result.exit_code == 0 and "another QBO company" not in result.output
        assert mirror.meta("realm") == session.qbo.realm_id  # the whole read made it afresh
        _change(session, other)
        result = CliRunner().invoke(cli.app, ["sync", "-c", config])
        assert result.exit_code == 0 and "of another QBO company" in result.output
        history = CliRunner().invoke(cli.app, ["history", "-c", config])
        assert "of another QBO company" in history.output


def test_a_change_in_qbo_while_a_big_run_writes_keeps_the_next_read_at_its_start(
    tmp_path: Path,
) -> None:
    with demo_firm(tmp_path, tps_seed="large:160") as (session, _, _):
        session.backup()
        made: list[str] = []

        def meanwhile(done: int, total: int) -> None:
            if not made and done > total // 2:  # someone adds a customer in QBO mid-run
                made.append(
                    session.qbo.create("Customer", {"DisplayName": "Walk In"}, key="w")["Id"]
                )

        session.sync(progress=meanwhile)
        assert made and session.state.cursor("qbo") <= session.state.runs()[0]["started_at"]
        again = Session(session.config)
        again.sync()
        assert made[0] in Mirror(session.state).records("qbo.Customer")


def test_a_damaged_mirror_is_rebuilt_by_a_whole_read(tmp_path: Path) -> None:
    with demo_firm(tmp_path) as (session, _, _):
        session.backup()
        session.sync()
        path = Mirror(session.state).path
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        for file in path.parent.glob(path.name + "*"):
            file.unlink()
        path.write_bytes(b"not a database at all" * 100)
        summary = Session(session.config).sync()
        assert any("there is no mirror" in note for note in summary.notes)
        assert Mirror(session.state).count("qbo.Customer") > 0


def test_a_customer_balance_follows_an_invoice_raised_in_qbo(tmp_path: Path) -> None:
    import time
    from decimal import Decimal

    with demo_firm(tmp_path) as (session, qbo, _):
        session.backup()
        session.sync()
        time.sleep(1.1)  # the next run's read starts after every record's time so far
        Session(session.config).sync()
        customer = qbo.company.find_by("Customer", "DisplayName", "Red Rock Diner")
        item = qbo.company.find_by("Item", "Name", "Business advisory")
        before = Mirror(session.state).records("qbo.Customer")[customer["Id"]]["Balance"]
        qbo.company.create(
            "Invoice",
            {
                "CustomerRef": {"value": customer["Id"]},
                "DocNumber": "Q-78",
                "Line": [
                    {
                        "Amount": Decimal("90.00"),
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
                    }
                ],
            },
        )
        # QBO moves the customer's Balance, not its LastUpdatedTime: CDC does not bring it.
        Session(session.config).sync()
        mirrored = Mirror(session.state).records("qbo.Customer")[customer["Id"]]
        assert Decimal(str(mirrored["Balance"])) == Decimal(str(before)) + Decimal("90.00")


def test_a_state_that_has_the_run_notes_column_already_opens(tmp_path: Path) -> None:
    from tpsqbo_engine.state import StateStore

    state = StateStore(tmp_path / "state.db")
    # As a state made when this migration had another name: applied, but not by this name.
    state.db.execute("delete from _sqlite_migrations where name = 'm005_run_notes'")
    state.db.conn.commit()
    again = StateStore(tmp_path / "state.db")
    assert "notes" in again.db.table("runs").columns_dict
