"""`sync --fail-on new`: a standing failure stays "not new" when the engine is reinstalled,
upgraded or the pack moves, though its message names the rule file by a path that moved; a
failure that says something else is new."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tpsqbo_engine import cli
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.failures import identity, is_new
from tpsqbo_engine.sync.session import Session

ELSEWHERE = "/opt/old/.venv/lib/python3.12/site-packages/tpsqbo_engine/_data/rules/"
LOCATED = re.compile(r"^(\S*[\\/])?invoices\.yaml:\d+:\d+: ")


def _failed(message: str, mapping: str = "payments", run_id: int = 1) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "record": "tps.Payment:p-6",
        "mapping": mapping,
        "status": "Failed",
        "message": message,
    }


def test_a_located_message_is_the_same_failure_wherever_the_pack_lives() -> None:
    said = "payments.yaml:22:18: tps.Invoice:i-1 waits for review; settle it first"
    moved = [
        f"/work/main/rules/{said}",
        f"/work/main/.venv/lib/python3.11/site-packages/tpsqbo_engine/_data/rules/{said}",
        f"rules/{said}",
        f"C:\\Firm\\rules\\{said}",
        f"/srv/firm/rules/{said} (intuit_tid 1-abc)",
    ]
    assert {identity(_failed(m)) for m in moved} == {("tps.Payment:p-6", "payments", said)}


def test_a_sheet_named_by_its_path_is_the_same_wherever_the_firm_folder_is() -> None:
    said = "payments-to-enter.csv was changed by hand; move it out of outbox/"
    assert identity(_failed(f"/srv/old/tps-files/outbox/{said}")) == identity(
        _failed(f"/home/firm/tps-files/outbox/{said}")
    )
    dated = "Date 12/31/2026 is not a date TPS exports"
    assert identity(_failed(dated)) != identity(_failed(dated.replace("12/31", "11/30")))


def test_what_tells_failures_apart_still_does() -> None:
    said = "/a/rules/payments.yaml:22:18: tps.Invoice:i-1 waits for review"
    before = [_failed(said)]
    assert not is_new(_failed(said.replace("/a/", "/b/"), run_id=2), before)
    assert is_new(_failed(said.replace(":22:18", ":23:18"), run_id=2), before)  # another rule
    assert is_new(_failed(said.replace("i-1", "i-2"), run_id=2), before)
    assert is_new(_failed(said, mapping="payment-applications", run_id=2), before)
    assert is_new(_failed(said, run_id=2), [])
    assert is_new(
        _failed(said, run_id=3), [*before, {**_failed(said, run_id=2), "status": "Successful"}]
    )


def _relocate(session: Session, run_id: int, change: str = "") -> None:
    """Rewrite the run's located messages as an install elsewhere would have written them."""
    for item in session.state.items(run_id, "Failed"):
        if not LOCATED.match(item["message"]):
            continue
        message = LOCATED.sub(lambda m: ELSEWHERE + m.group(0).rpartition("/")[2], item["message"])
        session.state.db.execute(
            "update run_items set message = ? where id = ?", [message + change, item["id"]]
        )


def test_a_standing_failure_is_not_new_after_a_reinstall(tmp_path: Path) -> None:
    runner = CliRunner()
    with demo_firm(tmp_path) as (session, _, tps):
        config = str(session.config.path)
        tps.firm.table("invoices")["inv-1002"]["lines"][0]["amount"] = "NaN"
        session.backup()
        first = session.sync()
        located = [
            i for i in session.state.items(first.run_id, "Failed") if LOCATED.match(i["message"])
        ]
        assert [i["record"] for i in located] == ["tps.Invoice:inv-1002"]

        _relocate(session, first.run_id)
        assert session.state.items(first.run_id, "Failed")[0]["message"].startswith(ELSEWHERE)
        result = runner.invoke(cli.app, ["sync", "-c", config, "--fail-on", "new"])
        assert result.exit_code == 0, result.output
        assert "3 Failed" in result.output and "(0 new)" in result.output

        second = session.state.runs(1)[0]["id"]
        _relocate(session, second, change=" (said otherwise)")
        result = runner.invoke(cli.app, ["sync", "-c", config, "--fail-on", "new"])
        assert result.exit_code == 1 and "(1 new)" in result.output
