"""A failure waiting cannot mend (a broken config, rules that fail to validate, a missing
secret) is reported failed at once; a transient one (a connection error, a 5xx) is retried."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from tpsqbo_engine.cli import main
from tpsqbo_engine.errors import ConfigError, RetriableConnectorError, RuleError, UsageError
from tpsqbo_engine.fleet import runner
from tpsqbo_engine.fleet.embedded import EmbeddedFleet, RetryPolicy
from tpsqbo_engine.fleet.firms import load_fleet
from tpsqbo_engine.fleet.local_coord import LocalCoordinator
from tpsqbo_engine.problems import Problem

from .conftest import Firms, Workers

BROKEN_MAPPING = "kind: mapping\nid: clients\nsource: tps.Client\n"


def _with_broken_rules(config: Path) -> None:
    rules = config.parent / "rules"
    rules.mkdir()
    (rules / "clients.yaml").write_text(BROKEN_MAPPING, encoding="utf-8")
    text = config.read_text(encoding="utf-8").replace("[tps-qbo-standard]", "[rules]")
    config.write_text(text, encoding="utf-8")


def test_embedded_fleet_fails_permanent_errors_at_once(
    firms: Firms,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    firms.make("alpha")
    _with_broken_rules(firms.make("badrules").config)
    firms.make("nosecret")
    monkeypatch.delenv("QBO_SECRET_NOSECRET")
    broken = firms.root / "broken" / "tpsqbo.yaml"
    broken.parent.mkdir()
    broken.write_text("kind: firm\nfirm: broken\n", encoding="utf-8")
    argv = [
        "fleet",
        "run",
        str(firms.root),
        "--coord",
        str(tmp_path / "fleet.db"),
        "--backup-first",
    ]
    # Retried, each of the three would wait 30 s and then 60 s before it is reported.
    argv += ["--attempts", "3", "--backoff", "30", "--threads", "2", "--format", "json"]
    started = time.monotonic()
    code = main(argv)
    elapsed = time.monotonic() - started
    runs = {r["firm"]: r for r in json.loads(capsys.readouterr().out)}
    assert code == 1
    assert elapsed < 30
    assert (runs["alpha"]["status"], runs["alpha"]["permanent"]) == ("completed", False)
    for name in ("badrules", "nosecret", "broken"):
        run = runs[name]
        assert (run["status"], run["attempt"], run["permanent"]) == ("failed", 1, True), run
    assert "missing required field 'qbo'" in runs["broken"]["error"]
    assert "QBO_SECRET_NOSECRET" in runs["nosecret"]["error"]
    assert "the rules have" in runs["badrules"]["error"]
    coord = str(tmp_path / "fleet.db")
    assert main(["fleet", "status", "--coord", coord, "--format", "json"]) == 0
    shown = {r["firm"]: (r["status"], r["permanent"]) for r in json.loads(capsys.readouterr().out)}
    assert shown == {n: (r["status"], r["permanent"]) for n, r in runs.items()}
    assert main(["fleet", "status", "--coord", coord]) == 0
    text = capsys.readouterr().out
    assert f"{'nosecret':24} failed    attempt 1 (not retried: a usage or config error): " in text
    assert f"{'badrules':24} failed    attempt 1 (not retried: the rules fail validate): " in text
    assert "alpha                    completed attempt 1 (" in text


def test_on_workers_rule_and_config_errors_fail_at_once_a_bad_token_is_retried(
    firms: Firms, workers: Workers, capsys: pytest.CaptureFixture[str]
) -> None:
    _with_broken_rules(firms.make("badrules").config)
    firms.make("poisoned", tps_token="not-the-token")  # TPS refuses it: exit 1, retried
    broken = firms.root / "broken" / "tpsqbo.yaml"
    broken.parent.mkdir()
    broken.write_text("kind: firm\nfirm: broken\n", encoding="utf-8")
    workers.start("w1", "--busy-wait", "0.5", "--lease-ttl", "3")
    argv = ["fleet", "run", str(firms.root), "--broker", workers.broker, "--attempts", "2"]
    code = main([*argv, "--backoff", "0.5", "--timeout", "90", "--format", "json"])
    runs = {r["firm"]: r for r in json.loads(capsys.readouterr().out)}
    assert code == 1
    tried = {n: (r["status"], r["attempt"], r["permanent"]) for n, r in runs.items()}
    assert tried == {
        "badrules": ("failed", 1, True),
        "broken": ("failed", 1, True),
        "poisoned": ("failed", 2, False),
    }
    assert "the rules have" in runs["badrules"]["error"]
    assert "missing required field 'tps'" in runs["broken"]["error"]


@pytest.mark.parametrize(
    "transient",
    [
        RetriableConnectorError("QBO answered 503", hint="try again later"),
        requests.ConnectionError("connection refused"),
    ],
)
def test_a_transient_failure_is_still_retried_with_backoff(
    transient: Exception, firms: Firms, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    firm = firms.make("flaky")
    real_open = runner._open
    tries: list[float] = []

    def flaky_open(firm: object) -> object:
        tries.append(time.monotonic())
        if len(tries) < 3:
            raise transient
        return real_open(firm)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "_open", flaky_open)
    coordinator = LocalCoordinator(tmp_path / "fleet.db")
    policy = RetryPolicy(attempts=3, backoff=0.3)
    fleet = EmbeddedFleet(coordinator, policy=policy, backup_first=True)
    [run] = fleet.run(load_fleet([firm.config]))
    assert (run.status, run.attempt, run.permanent) == ("completed", 3, False)
    # The backoff doubles: 0.3 s before the 2nd try, 0.6 s before the 3rd.
    assert tries[1] - tries[0] >= 0.3 and tries[2] - tries[1] >= 0.6


def test_which_failures_are_permanent() -> None:
    problem = Problem("rules.yaml", 1, 1, "schema.required", "missing required field 'id'")
    assert runner.permanent(ConfigError([problem]))
    assert runner.permanent(UsageError("no TPS token in TPS_TOKEN"))
    assert runner.permanent(RuleError([problem]))
    assert runner.why_permanent(RuleError([problem])) == "the rules fail validate"
    assert not runner.permanent(RetriableConnectorError("QBO answered 429"))
    assert not runner.permanent(requests.ConnectionError("refused"))
    assert not runner.permanent(RuntimeError("a bug"))
