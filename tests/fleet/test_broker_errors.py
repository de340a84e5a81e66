"""A broker that cannot be reached is a usage error naming its URL (never its password),
exit 2, not "a bug"."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tpsqbo_engine.cli import main
from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.fleet.reach import reaching, redacted


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once it is closed


@pytest.mark.parametrize(
    "command",
    [
        ["fleet", "status"],
        ["fleet", "schedule", "FLEET", "--every", "15m"],
        ["fleet", "run", "FLEET"],
        ["fleet", "run", "--due"],
    ],
)
def test_an_unreachable_broker_is_named_without_its_password(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    firm = tmp_path / "fleet" / "acme" / "tpsqbo.yaml"
    firm.parent.mkdir(parents=True)
    firm.write_text("kind: firm\n", encoding="utf-8")
    url = f"redis://:s3cret-pass@127.0.0.1:{_closed_port()}/0"
    args = [str(tmp_path / "fleet") if a == "FLEET" else a for a in command]
    assert main([*args, "--broker", url]) == 2
    err = capsys.readouterr().err
    assert f"cannot reach the broker at redis://:***@127.0.0.1:{url.rsplit(':', 1)[1]}" in err
    assert "s3cret-pass" not in err and "is redis-server running" in err
    assert "bug" not in err


def test_a_broker_url_that_is_not_one_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["fleet", "status", "--broker", "http://user:pw@queue/0"]) == 2
    err = capsys.readouterr().err
    assert "http://user:***@queue/0 cannot be used" in err and "pw@" not in err


def test_redacted_keeps_everything_but_the_password() -> None:
    assert redacted("redis://queue:6379/0") == "redis://queue:6379/0"
    assert redacted("redis://me:pw@queue:6379/0") == "redis://me:***@queue:6379/0"
    assert redacted("rediss://:pw@queue/1") == "rediss://:***@queue/1"


def test_a_result_store_given_up_on_is_the_broker_unreachable(
    capsys: pytest.CaptureFixture[str], fresh_redis: str
) -> None:
    gone = f"redis://:pw@127.0.0.1:{_closed_port()}/0"
    refused = r"cannot reach the broker at redis://:\*\*\*@"
    with pytest.raises(UsageError, match=refused), reaching(gone):
        raise RuntimeError("Retry limit exceeded while trying to reconnect to the store")
    # A broker that answers: that RuntimeError is something else, and stays itself.
    with pytest.raises(RuntimeError, match="something else"), reaching(fresh_redis):
        raise RuntimeError("something else")
