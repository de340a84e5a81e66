"""Files at rest: a damaged state is refused with how to restore it, a copy is kept before
every run, and everything the engine writes about a firm is 0600 in 0700 folders."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlite_utils import Database

from tpsqbo_engine import private
from tpsqbo_engine.errors import StateError
from tpsqbo_engine.state import StateStore


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _store_with_a_run(folder: Path) -> StateStore:
    store = StateStore(folder / "state" / "state.db")
    run = store.start_run("initial")
    store.link("client", "c1", "1", mapping="clients")
    store.finish_run(run, "completed")
    return store


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda p: p.write_bytes(b""), "is empty"),
        (lambda p: p.write_bytes(b"<html>not a database</html>" * 100), "not a SQLite database"),
        (
            lambda p: p.write_bytes(p.read_bytes()[:100] + b"\xff" * 8000),
            "damaged|cannot be opened",
        ),
    ],
    ids=["empty", "not-sqlite", "corrupt-pages"],
)
def test_a_damaged_state_is_refused_with_how_to_restore_it(tmp_path: Path, damage, says) -> None:
    store = _store_with_a_run(tmp_path)
    store.start_run("incremental")  # keeps a copy of the state as it was
    store.db.conn.close()
    path = store.path
    for companion in (path.with_name("state.db-wal"), path.with_name("state.db-shm")):
        companion.unlink(missing_ok=True)
    damage(path)
    with pytest.raises(StateError, match=says) as refused:
        StateStore(path)
    assert "state.db.1" in refused.value.hint and "cp " in refused.value.hint
    restored = tmp_path / "restored.db"
    restored.write_bytes(path.with_name("state.db.1").read_bytes())
    assert StateStore(restored).links("client")[0]["qbo_id"] == "1"


def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    other = Database(tmp_path / "state.db")
    other["songs"].insert({"title": "x"})
    other.conn.close()
    with pytest.raises(StateError, match="not an engine state file") as refused:
        StateStore(tmp_path / "state.db")
    assert "start afresh" in refused.value.hint


def test_a_missing_table_is_refused(tmp_path: Path) -> None:
    store = _store_with_a_run(tmp_path)
    store.db.execute("DROP TABLE journal")
    store.db.conn.close()
    with pytest.raises(StateError, match="lost its journal table"):
        StateStore(store.path)


def test_one_copy_is_rotated_before_each_run(tmp_path: Path) -> None:
    store = _store_with_a_run(tmp_path)
    copy = store.path.with_name("state.db.1")
    assert Database(copy)["runs"].count == 0  # the copy is from before the first run
    store.start_run("incremental")
    assert Database(copy)["runs"].count == 1
    kept = [p.name for p in store.path.parent.iterdir() if p.suffix not in (".db", ".db-wal")]
    assert [n for n in kept if not n.endswith(("-wal", "-shm"))] == ["state.db.1"]


def test_state_files_are_private_in_a_private_folder(tmp_path: Path) -> None:
    store = _store_with_a_run(tmp_path)
    folder = store.path.parent
    assert _mode(folder) == 0o700
    files = [p for p in folder.iterdir() if p.name.startswith("state.db")]
    assert {p.name for p in files} >= {"state.db", "state.db-wal", "state.db-shm", "state.db.1"}
    assert all(_mode(p) == 0o600 for p in files), {p.name: oct(_mode(p)) for p in files}


def test_an_existing_state_is_made_private_again(tmp_path: Path) -> None:
    store = _store_with_a_run(tmp_path)
    store.db.conn.close()
    for p in store.path.parent.iterdir():
        p.chmod(0o644)
    StateStore(store.path)
    assert _mode(store.path) == 0o600


def test_private_writes_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        written = private.write_private(tmp_path / "a" / "b" / "plan.json", "{}")
    finally:
        os.umask(previous)
    assert _mode(written) == 0o600
    assert _mode(tmp_path / "a") == 0o700 and _mode(tmp_path / "a" / "b") == 0o700
    assert [p.name for p in written.parent.iterdir()] == ["plan.json"]


def test_crash_logs_go_to_the_firm_state_folder_and_hold_no_values(tmp_path: Path) -> None:
    private.set_crash_folder(tmp_path / "state")
    try:
        try:
            raise KeyError("Acme Holdings <- a record value")
        except KeyError as inner:
            try:
                raise RuntimeError("Bearer eyJhbGciOiJSUzI1NiJ9.refresh-AB12") from inner
            except RuntimeError as outer:
                log = private.crash_log(outer)
    finally:
        private.set_crash_folder(None)
    assert log.parent == tmp_path / "state" / "crash"
    assert _mode(log) == 0o600 and _mode(log.parent) == 0o700
    text = log.read_text()
    assert "builtins.KeyError" in text and "builtins.RuntimeError" in text
    assert "Acme" not in text and "eyJ" not in text and "Bearer" not in text


def test_loading_a_firm_config_points_crash_logs_at_its_state(tmp_path: Path) -> None:
    from tpsqbo_engine.sync.config import load_config

    config = tmp_path / "tpsqbo.yaml"
    config.write_text(
        "kind: firm\nfirm: Test\ntps: {connection: files, folder: sheets}\n"
        "qbo: {environment: sandbox}\nstate: private/state.db\n"
    )
    try:
        load_config(config)
        assert private.crash_folder() == tmp_path / "private" / "crash"
    finally:
        private.set_crash_folder(None)
