"""`undo` of the initial sync when the backup taken before it cannot be read (moved away,
cut short, not a backup): the writes are still taken back, the summary is printed, the
check says QBO could not be compared with the backup and why, and the exit is 1, never
"a bug" (3) nor "interrupted" (130)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.sync.test_undo_truth import _old_walk_in
from tpsqbo_engine import cli
from tpsqbo_engine.cli_watch import _undo_header
from tpsqbo_engine.errors import ConnectorError
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.session import Session
from tpsqbo_engine.sync.undo import plan_undo
from tpsqbo_engine.sync.undo_apply import apply_undo
from tpsqbo_engine.sync.undo_compare import BackupUnreadable, compare_with_backup


def _moved(path: Path) -> None:
    path.rename(path.with_suffix(".archived"))


def _cut_short(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:200])


def _backup_path(session: Session) -> Path:
    (backup,) = list(session.state.db.table("backups").rows)
    return Path(backup["path"])


@pytest.mark.parametrize(
    ("damage", "why", "output"),
    [(_moved, "no such file", "text"), (_cut_short, "cut short", "json")],
    ids=["moved-text", "cut-short-json"],
)
def test_an_undo_whose_backup_cannot_be_read_prints_its_summary_and_exits_1(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: Callable[[Path], None],
    why: str,
    output: str,
) -> None:
    with demo_firm(tmp_path) as (session, _, _):
        config = str(session.config.path)
        assert cli.main(["backup", "-c", config]) == 0
        assert cli.main(["sync", "-c", config]) == 0
        run = session.state.runs()[0]["id"]
        path = _backup_path(session)
        damage(path)
        capsys.readouterr()
        if damage is _moved:  # said before any write, too
            assert cli.main(["undo", "-c", config, "--run", str(run), "--plan"]) == 0
            assert "QBO will not be compared with it" in capsys.readouterr().out

        code = cli.main(["undo", "-c", config, "--run", str(run), "--format", output])
        said = capsys.readouterr()
        assert code == 1, said
        assert "bug" not in said.err and "interrupted" not in said.err
        assert not list((tmp_path / ".tpsqbo").glob("crash-*"))
        cannot = f"the backup {path} cannot be read"
        if output == "json":
            summary = json.loads(said.out)
            assert summary["complete"] is True and summary["ok"] is False
            assert summary["back_to_backup"] is None  # not compared, so not said either way
            (line,) = summary["backup_check"]
            assert line.startswith(cannot) and why in line and "not compared" in line
            assert why in summary["unchecked"]
            assert any("not known to be back" in v for v in summary["not_as_before"])
        else:
            assert f"run {run + 1} (undo of run {run}):" in said.out  # the counts
            assert cannot in said.out and why in said.out
            assert "check the books against it by hand" in said.out
            assert "not known to be back to the backup" in said.out
        # Every write was taken back and recorded as such.
        phases = [(r["id"], r["phase"], r["status"]) for r in session.state.runs()]
        assert (run + 1, "undo", "completed") in phases and (run, "initial", "undone") in phases


_ENTRY = b'{"entity": "Customer", "record": {"Id": "1"}}\n'


def _gzipped(path: Path, text: str) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(text)


@pytest.mark.parametrize(
    ("write", "why"),
    [
        (lambda p: p.write_bytes(b"not a gzip file at all"), "BadGzipFile"),
        (lambda p: p.write_bytes(gzip.compress(_ENTRY * 50)[:-12]), "cut short"),
        (lambda p: _gzipped(p, "{not json\n"), "JSONDecodeError"),
        (lambda p: _gzipped(p, '{"entity": "Customer", "record": {}}\n'), "line 1 is not"),
        (lambda p: _gzipped(p, "[1, 2]\n"), "line 1 is not"),
        (lambda p: p.write_bytes(gzip.compress(b"\xff\xfe\n")), "UnicodeDecodeError"),
    ],
    ids=["not-gzip", "truncated-stream", "not-json", "no-id", "not-an-entry", "not-utf8"],
)
def test_a_damaged_backup_is_said_to_be_unreadable_and_why(
    tmp_path: Path, write: Callable[[Path], None], why: str
) -> None:
    path = tmp_path / "qbo.jsonl.gz"
    write(path)
    backup = {"path": str(path), "taken_at": "2026-11-01T00:00:00+00:00"}
    with pytest.raises(BackupUnreadable) as raised:
        compare_with_backup(None, backup, [])
    assert raised.value.message.startswith(f"the backup {path} cannot be read (")
    assert why in raised.value.message


def test_a_backup_unreadable_when_planning_is_said_in_the_plan_and_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The undo needs the backup to plan (the lines of paid history the initial sync read
    without them): those are then known neither way, and listed, not guessed."""
    with demo_firm(tmp_path) as (session, qbo, _tps):
        old = _old_walk_in(qbo)
        monkeypatch.setattr(session, "pins", lambda: {("invoices", "inv-1002"): old["Id"]})
        session.backup()
        run = session.sync().run_id
        written = qbo.company.get("Invoice", old["Id"])
        path = _backup_path(session)
        _moved(path)

        undo = plan_undo(session, run)
        assert undo.unreadable.startswith(f"the backup {path} cannot be read (no such file")
        (op,) = [op for op in undo.plan.operations if op.target == f"qbo.Invoice:{old['Id']}"]
        assert op.action == "review" and "cannot be read" in op.message
        assert f"{undo.unreadable}: QBO will not be compared with it" in "\n".join(
            _undo_header(undo)  # what `undo --plan` shows first
        )
        summary = apply_undo(session, undo, "test")
        assert qbo.company.get("Invoice", old["Id"])["Line"] == written["Line"]  # untouched
        assert summary.unchecked == undo.unreadable and not summary.ok
        assert summary.backup_check == [
            f"{undo.unreadable}: QBO is not compared with it; check the books against it by hand"
        ]


def test_qbo_not_answering_for_the_check_still_gives_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writes are taken back, then QBO fails the check's reads: said, not raised (run N
    is marked undone: the undo cannot be run again for the check)."""
    with demo_firm(tmp_path) as (session, _qbo, _tps):
        session.backup()
        run = session.sync().run_id
        undo = plan_undo(session, run)
        assert not undo.unreadable

        def down(*_: object, **__: object) -> object:
            raise ConnectorError("QBO answered 503 three times")

        monkeypatch.setattr(session.qbo, "query_all", down)
        summary = apply_undo(session, undo, "test")
        assert summary.complete and not summary.ok and summary.back_to_backup is None
        assert summary.backup_check == [
            "QBO could not be read to compare it with the backup (QBO answered 503 three "
            "times): QBO is not compared with it; check the books against it by hand"
        ]
        assert "QBO answered 503" in summary.unchecked
