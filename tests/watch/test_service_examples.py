"""The service examples start the watcher with options it accepts."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from tpsqbo_engine.cli import main

SERVICE = Path(__file__).parents[2] / "examples" / "service"


def _exec_start() -> list[str]:
    text = (SERVICE / "tpsqbo-watch@.service").read_text(encoding="utf-8")
    found = re.search(r"^ExecStart=\S+ (.*)$", text, re.MULTILINE)
    assert found is not None
    return shlex.split(found.group(1).replace("%i", "harbor-pine"))


def _container_cmd() -> list[str]:
    text = (SERVICE / "Containerfile").read_text(encoding="utf-8")
    found = re.search(r"^CMD (\[.*\])$", text, re.MULTILINE)
    assert found is not None
    return list(json.loads(found.group(1)))


@pytest.mark.parametrize("argv", [_exec_start(), _container_cmd()], ids=["systemd", "container"])
def test_the_examples_options_are_accepted(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TPSQBO_WEBHOOK_VERIFIER", "x")
    assert argv[0] == "watch"
    # Every option parses; what stops it is the firm config, absent here.
    assert main(argv) == 2
    assert "no firm config at /" in capsys.readouterr().err


def test_bad_watch_options_are_usage_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TPSQBO_WEBHOOK_VERIFIER", "x")
    assert main(["watch", "--poll", "soon"]) == 2
    assert "--poll 'soon' is not an interval" in capsys.readouterr().err
    assert main(["watch", "--log-format", "xml"]) == 2
    assert "text or json" in capsys.readouterr().err
    assert main(["watch", "--debounce", "-1"]) == 2
    assert main(["demo", "--watch", "--firm", "awkward"]) == 2
    assert "--watch runs with the demo firm" in capsys.readouterr().err
    monkeypatch.delenv("TPSQBO_WEBHOOK_VERIFIER")
    assert main(["watch"]) == 2
    assert "no webhook verifier token in TPSQBO_WEBHOOK_VERIFIER" in capsys.readouterr().err
