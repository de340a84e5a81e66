"""Options the README documents, through the command line itself: each test fails when its
option is not wired to what it does."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tpsqbo_engine import cli
from tpsqbo_engine.sync.demo import demo_firm

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli.app, list(args))
    return result.exit_code, result.output


def test_validate_strict_fails_on_a_warning_alone(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "pack.yaml").write_text(
        "kind: pack\nid: warned\nversion: 1.1.0\nextends: [tps-qbo-standard]\n"
    )
    (pack / "CHANGELOG.md").write_text("# Changelog\n\n## 1.0.0\n\nFirst.\n")
    code, out = _run("validate", str(pack))
    assert code == 0 and "pack.changelog" in out
    code, out = _run("validate", "--strict", str(pack))
    assert code == 1 and "pack.changelog" in out


def test_sync_render_writes_every_invoice_document(tmp_path: Path) -> None:
    with demo_firm(tmp_path / "run") as (session, _, _):
        session.backup()
        folder = tmp_path / "documents"
        code, _ = _run("sync", "-c", str(session.config.path), "--render", str(folder))
        assert code == 0
        written = sorted(folder.glob("*.html"))
        invoices = [i for i in session.tps.records("invoices") if i["status"] == "outstanding"]
        assert len(written) >= len(invoices) > 0
        assert any(invoices[0]["doc_number"] in p.read_text() for p in written)


def test_retry_all_failed_and_history_status(tmp_path: Path) -> None:
    with demo_firm(tmp_path / "run") as (session, qbo, _):
        config = str(session.config.path)
        session.backup()
        assert _run("sync", "-c", config)[0] == 0
        # QBO's account renamed, then a TPS work code booked to it changed: it fails
        (account,) = [
            a for a in qbo.company.table("Account").values() if a["Name"] == "Tax Preparation Fees"
        ]
        session.qbo.update("Account", account["Id"], {"Name": "Tax Prep (renamed)"})
        code = next(
            w
            for w in session.tps.records("work-codes")
            if w.get("work_type") == "Tax" and w.get("node_type") == "work_code" and w["active"]
        )
        changes = {"name": f"{code['name']} (revised)"}
        session.tps.update("work-codes", code["id"], changes, version=code["version"])
        assert _run("sync", "-c", config)[0] == 1
        listed = _run("history", "-c", config, "--run", "2", "--status", "Failed", "-f", "json")
        failed = json.loads(listed[1])
        assert {row["status"] for row in failed} == {"Failed"}
        assert f"tps.WorkCode:{code['id']}" in {row["record"] for row in failed}
        initial = json.loads(_run("history", "-c", config, "--run", "1", "-f", "json")[1])
        excluded = _run("history", "-c", config, "--run", "1", "--status", "Excluded", "-f", "json")
        assert 0 < len(json.loads(excluded[1])) < len(initial)
        assert {row["status"] for row in json.loads(excluded[1])} == {"Excluded"}
        session.qbo.update("Account", account["Id"], {"Name": "Tax Preparation Fees"})
        exit_code, out = _run("retry", "-c", config, "--all-failed", "--format", "json")
        assert exit_code == 0, out
        retried = json.loads(out)
        assert retried["counts"]["Failed"] == 0
        rows = _run("history", "-c", config, "--run", str(retried["run"]), "-f", "json")[1]
        successful = {row["record"] for row in json.loads(rows) if row["status"] == "Successful"}
        assert f"tps.WorkCode:{code['id']}" in successful
        assert not session.failed_records()  # the others had nothing left to write
        (item,) = [i for i in qbo.company.table("Item").values() if i.get("Sku") == code["code"]]
        assert item["Name"].endswith("(revised)")
