"""Stopping: a busy redirect port is a usage error, Ctrl-C is 130 at any moment, and SIGTERM
finishes the write in flight and commits it before the engine ends with 143."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tpsqbo_engine import signals
from tpsqbo_engine.state import StateStore

ENGINE = [sys.executable, "-m", "tpsqbo_engine"]


def test_connect_on_a_busy_redirect_port_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tpsqbo_engine import cli
    from tpsqbo_engine.connectors.qbo import connect

    monkeypatch.setenv("TPSQBO_QBO_CLIENT_ID", "app")
    monkeypatch.setenv("TPSQBO_QBO_CLIENT_SECRET", "secret")
    monkeypatch.setattr(connect, "AuthClient", lambda *args: object())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = cli.main(["connect", "--redirect-uri", f"http://127.0.0.1:{port}/callback"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}" in err and "--redirect-uri" in err


@pytest.fixture(scope="module")
def slow_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pack that takes `validate` seconds, so a Ctrl-C within the first second always
    lands while the engine is at work (1,200 one-office mappings, each checked in full)."""
    root = tmp_path_factory.mktemp("slow-pack")
    (root / "pack.yaml").write_text("kind: pack\nid: slow\nversion: 1.0.0\n")
    for n in range(1200):
        (root / f"clients-{n:03d}.yaml").write_text(
            f"kind: mapping\nid: clients-{n:03d}\nsource: tps.Client\ntarget: qbo.Customer\n"
            f"direction: one-way\nwhen: \"{{{{ active and office == 'Office {n}' }}}}\"\n"
            'fields:\n  DisplayName: "{{ name | qbo_display_name }}"\n'
            '  CompanyName: "{{ name }}"\n  Notes: "TPS client {{ code }} ({{ office }})"\n'
        )
    return root


@pytest.mark.parametrize("after", [0.0, 0.05, 0.3, 0.8])
def test_ctrl_c_in_the_first_second_exits_130(slow_pack: Path, after: float) -> None:
    # A terminal starts a command with Ctrl-C at its default; an ignored SIGINT would be
    # inherited from this process (and Python then installs no handler at all).
    engine = subprocess.Popen(
        [*ENGINE, "validate", str(slow_pack)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(after)
    engine.send_signal(signal.SIGINT)
    _, err = engine.communicate(timeout=60)
    assert engine.returncode != 0, f"validate finished before the signal: {err[-300:]!r}"
    if after < 0.1 and b"Fatal Python error: init" in err:
        return  # the interpreter itself was still starting: no engine code had run yet
    assert engine.returncode in (130, -signal.SIGINT), err
    if after < 0.1 and engine.returncode == -signal.SIGINT:
        return  # still importing: before the engine's handler, SIGINT's default action applies
    # The engine said so and answered 130 (a shell reports a death by SIGINT as 130 too).
    assert b"interrupted" in err and b"Traceback" not in err, err


def test_sigterm_exits_143(tmp_path: Path) -> None:
    engine = subprocess.Popen(
        [*ENGINE, "emulate", "tps", "--print-json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    time.sleep(0.3)
    engine.send_signal(signal.SIGTERM)
    _, err = engine.communicate(timeout=30)
    assert engine.returncode in (0, 143), err  # the emulator stops cleanly on SIGTERM itself
    assert b"Traceback" not in err


def _store(tmp_path: Path) -> tuple[StateStore, int]:
    store = StateStore(tmp_path / "state.db")
    return store, store.start_run("incremental")


def test_sigterm_during_a_write_waits_for_its_commit(tmp_path: Path) -> None:
    store, run = _store(tmp_path)
    with signals.installed():
        journal = store.intend(run, "create:c1", "create", "qbo.Customer")
        os.kill(os.getpid(), signal.SIGTERM)  # the call is in flight: nothing raised yet
        with pytest.raises(signals.Terminated), store.transaction():
            store.link("client", "c1", "58", mapping="clients")
            store.conclude(journal, "written", "58")
    assert store.links("client")[0]["qbo_id"] == "58"  # committed before stopping
    assert not store.unfinished("create:c1")


def test_sigterm_during_a_batch_waits_for_every_commit(tmp_path: Path) -> None:
    store, run = _store(tmp_path)
    with signals.installed():
        journals = [store.intend(run, f"create:c{n}", "create", "qbo.Customer") for n in range(3)]
        os.kill(os.getpid(), signal.SIGTERM)
        for n, journal in enumerate(journals[:-1]):
            with store.transaction():
                store.link("client", f"c{n}", str(n), mapping="clients")
                store.conclude(journal, "written", str(n))
        with pytest.raises(signals.Terminated), store.transaction():
            store.link("client", "c2", "2", mapping="clients")
            store.conclude(journals[-1], "written", "2")
    assert len(store.links("client")) == 3


def test_sigterm_between_writes_stops_at_once(tmp_path: Path) -> None:
    store, _ = _store(tmp_path)
    with signals.installed(), pytest.raises(signals.Terminated):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.5)  # the handler raises here, before any new write
    assert not store.unfinished("create:c1")


def test_a_held_sigterm_is_raised_after_the_grace_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signals, "GRACE_SECONDS", 0.1)
    store, run = _store(tmp_path)
    with signals.installed():
        store.intend(run, "create:c1", "create", "qbo.Customer")
        started = time.monotonic()
        with pytest.raises(signals.Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # a call that never returns
    assert time.monotonic() - started < 2


def test_a_settled_sigterm_leaves_no_grace_timer_behind(tmp_path: Path) -> None:
    store, run = _store(tmp_path)
    with signals.installed():
        journal = store.intend(run, "create:c1", "create", "qbo.Customer")
        os.kill(os.getpid(), signal.SIGTERM)
        assert signals._grace is not None and signals._grace.is_alive()
        timer = signals._grace
        with pytest.raises(signals.Terminated), store.transaction():
            store.conclude(journal, "written", "58")
    timer.join(1)
    assert not timer.is_alive()  # cancelled: it would terminate whatever runs next


def test_sigterm_during_a_long_command_exits_143(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    (pack / "templates").mkdir(parents=True)
    (pack / "pack.yaml").write_text("kind: pack\nid: slow\nversion: 0.1.0\n")
    loops = "{% for a in [0] * 10000 %}{% for b in [0] * 9 %}{% endfor %}{% endfor %}"
    (pack / "templates" / "slow.txt").write_text(loops)
    documents = [
        f"kind: template\nid: slow-{n}\nfor: tps.Invoice\nformat: text\n"
        f"file: templates/slow.txt\ncontext: {{invoice: tps.Invoice}}\n"
        for n in range(60)
    ]
    (pack / "templates.yaml").write_text("---\n".join(documents))
    engine = subprocess.Popen(
        [*ENGINE, "validate", str(pack)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    time.sleep(1.5)
    engine.send_signal(signal.SIGTERM)
    _, err = engine.communicate(timeout=60)
    assert engine.returncode == 143, err
    assert b"terminated" in err and b"Traceback" not in err
