"""Stopping: a busy redirect port is a usage error, Ctrl-C is 130 at any moment, and SIGTERM
finishes the write in flight and commits it before the engine ends with 143."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
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


def _handling(engine: subprocess.Popen[bytes], signum: int = signal.SIGTERM) -> None:
    """Waits, at most a minute, until the engine catches `signum` (Linux: SigCgt in
    /proc/PID/status). The console script installs its SIGTERM handling first thing
    (entry.run), inside the block that turns Ctrl-C into 130: from then on a signal meets
    the engine's own handling, however slowly a busy machine started the interpreter."""
    status = Path(f"/proc/{engine.pid}/status")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if engine.poll() is not None:
            pytest.fail(f"the engine ended ({engine.returncode}) before handling signals")
        caught = next(
            (line for line in status.read_text().splitlines() if line.startswith("SigCgt:")),
            "SigCgt: 0",
        )
        if int(caught.split()[1], 16) >> (signum - 1) & 1:
            return
        time.sleep(0.005)
    engine.kill()
    pytest.fail("the engine did not install its signal handling within a minute")


def _first_line(engine: subprocess.Popen[bytes]) -> bytes:
    """The first line the engine prints on stdout, waited for at most a minute."""
    assert engine.stdout is not None
    line = b""
    deadline = time.monotonic() + 60
    with selectors.DefaultSelector() as selector:
        selector.register(engine.stdout, selectors.EVENT_READ)
        while not line.endswith(b"\n"):
            if not selector.select(max(0.0, deadline - time.monotonic())):
                engine.kill()
                pytest.fail(f"no line printed within a minute: {line!r}")
            chunk = os.read(engine.stdout.fileno(), 4096)
            if not chunk:
                pytest.fail(f"the engine ended before printing a line: {line!r}")
            line += chunk
    return line


def _stderr_once_ended(engine: subprocess.Popen[bytes], within: float = 60) -> bytes:
    """What the engine wrote on stderr, once it has ended; one that runs on after a signal
    is killed, not left behind, and the test fails with what it said."""
    try:
        _, err = engine.communicate(timeout=within)
    except subprocess.TimeoutExpired:
        engine.kill()
        _, err = engine.communicate()
        pytest.fail(f"the engine ran on {within:g} s after the signal: {err[-800:]!r}")
    return err


needs_proc = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="tells when handlers are in place by /proc"
)


@needs_proc
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
    # `after` counts from the engine's first moment (its handling installed, the CLI not yet
    # imported), not from the process start: before that moment only the interpreter runs,
    # for as long as a busy machine makes it, and SIGINT's default action applies.
    _handling(engine)
    time.sleep(after)
    engine.send_signal(signal.SIGINT)
    err = _stderr_once_ended(engine)
    assert engine.returncode != 0, f"validate finished before the signal: {err[-300:]!r}"
    assert engine.returncode in (130, -signal.SIGINT), err
    # The engine said so and answered 130 (a shell reports a death by SIGINT as 130 too).
    assert b"interrupted" in err and b"Traceback" not in err, err


@needs_proc
def test_sigterm_exits_143(tmp_path: Path) -> None:
    engine = subprocess.Popen(
        [*ENGINE, "emulate", "tps", "--print-json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    _handling(engine)  # the engine's own handling, before the emulator is up
    engine.send_signal(signal.SIGTERM)
    err = _stderr_once_ended(engine, 30)
    # Almost always still loading: 143; 0 if the emulator was already up (see below).
    assert engine.returncode in (0, 143), err
    assert engine.returncode == 0 or b"terminated" in err, err
    assert b"Traceback" not in err


def test_sigterm_stops_a_serving_emulator_cleanly(tmp_path: Path) -> None:
    engine = subprocess.Popen(
        [*ENGINE, "emulate", "tps", "--print-json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert "base_url" in json.loads(_first_line(engine))  # up and serving
    engine.send_signal(signal.SIGTERM)
    err = _stderr_once_ended(engine, 30)
    assert engine.returncode == 0, err  # the emulator stops cleanly on SIGTERM itself
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
    monkeypatch.setattr(signals, "GRACE_SECONDS", 0.5)
    store, run = _store(tmp_path)
    with signals.installed():
        store.intend(run, "create:c1", "create", "qbo.Customer")
        started = time.monotonic()
        with pytest.raises(signals.Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # a call that never returns
        held = time.monotonic() - started
    assert 0.45 <= held < 4, held  # not at once, and well before the 5 s call ends


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


@needs_proc
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
    _handling(engine)
    time.sleep(1.5)  # well into the command proper
    engine.send_signal(signal.SIGTERM)
    err = _stderr_once_ended(engine)
    assert engine.returncode == 143, err
    assert b"terminated" in err and b"Traceback" not in err


class _Lost:
    """What Python hands `sys.unraisablehook` for an exception it could not raise."""

    def __init__(self, exc: BaseException) -> None:
        self.exc_type, self.exc_value, self.exc_traceback = type(exc), exc, None
        self.err_msg, self.object = "Exception ignored in", None


def test_a_sigterm_lost_in_a_callback_is_sent_again(tmp_path: Path) -> None:
    _store(tmp_path)

    class Held:
        pass

    def callback(_gone: object) -> None:
        time.sleep(1)  # the SIGTERM arrives in here, where Python cannot raise it

    started = time.monotonic()
    with signals.installed(), pytest.raises(signals.Terminated):
        held = Held()
        watch = weakref.ref(held, callback)
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
        del held  # runs the callback, which loses the Terminated
        time.sleep(5)  # the engine running on: the signal sent again stops it
    assert watch() is None and time.monotonic() - started < 3


def test_other_lost_exceptions_go_to_the_hook_before(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[BaseException] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda lost: seen.append(lost.exc_value))
    failure = ValueError("a callback's own failure")
    with signals.installed():
        sys.unraisablehook(_Lost(failure))  # type: ignore[arg-type]
        time.sleep(2 * signals.RESEND_SECONDS)  # nothing is sent: nothing raises here
    assert seen == [failure]
    assert sys.unraisablehook is not None and not signals._resends


def test_a_resend_whose_wait_is_over_sends_nothing_once_the_engine_has_stopped_handling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A timer cancelled just after its wait ended still runs its function; a stop sent then
    would end the process by the signal after its exit code was decided."""
    sent: list[int] = []
    monkeypatch.setattr(signal, "pthread_kill", lambda _thread, stop: sent.append(stop))
    monkeypatch.setattr(threading.Timer, "cancel", lambda _timer: None)  # always too late
    with signals.installed():
        sys.unraisablehook(_Lost(KeyboardInterrupt()))  # type: ignore[arg-type]
        timers = list(signals._resends)
    for timer in timers:
        timer.join(1)
    assert timers and sent == []
    with signals.installed():  # while handling, a lost stop is sent again
        sys.unraisablehook(_Lost(KeyboardInterrupt()))  # type: ignore[arg-type]
        signals._resends[0].join(1)
    assert sent == [signal.SIGINT]


class _StopsWhenNamed:
    """A descriptor whose `__set_name__` meets a stop, as a class body run by an import does
    when Ctrl-C lands there (Python 3.11 wraps it in a RuntimeError)."""

    def __init__(self, stop: BaseException) -> None:
        self.stop = stop

    def __set_name__(self, owner: type, name: str) -> None:
        raise self.stop


def _raised_by_a_class_body(stop: BaseException) -> BaseException:
    try:
        type("Imported", (), {"address": _StopsWhenNamed(stop)})
    except BaseException as error:  # whatever this Python makes of it
        return error
    raise AssertionError("the class body raised nothing")


@pytest.mark.parametrize("stop", [KeyboardInterrupt(), signals.Terminated()])
def test_a_stop_is_found_however_it_came_wrapped(stop: BaseException) -> None:
    assert signals.stop_within(_raised_by_a_class_body(stop)) is stop
    try:
        try:
            raise stop
        except BaseException as inner:
            raise ValueError("while handling it") from inner
    except ValueError as outer:
        assert signals.stop_within(outer) is stop


def test_an_error_without_a_stop_is_left_as_it_is() -> None:
    looping = RuntimeError("one")
    looping.__context__ = ValueError("two")
    looping.__context__.__context__ = looping
    assert signals.stop_within(looping) is None
    assert signals.stop_within(RuntimeError("plain")) is None


def _wrapped_interrupt() -> RuntimeError:
    error = RuntimeError("Error calling __set_name__")
    error.__cause__ = KeyboardInterrupt()
    return error


def test_ctrl_c_wrapped_while_the_cli_is_imported_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from types import ModuleType

    from tpsqbo_engine import entry

    def interrupted(name: str) -> object:
        raise _wrapped_interrupt()

    half_imported = ModuleType("tpsqbo_engine.cli")
    half_imported.__getattr__ = interrupted  # type: ignore[method-assign]
    monkeypatch.setitem(sys.modules, "tpsqbo_engine.cli", half_imported)
    monkeypatch.setattr(signal, "signal", lambda *args: signal.SIG_DFL)  # leave pytest's
    with pytest.raises(SystemExit) as ended:
        entry.run()
    assert ended.value.code == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err


def test_ctrl_c_wrapped_inside_a_command_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from tpsqbo_engine import cli

    def interrupted(*args: object, **kwargs: object) -> object:
        raise _wrapped_interrupt()

    monkeypatch.setattr(cli, "validate_paths", interrupted)
    assert cli.main(["validate", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "bug" not in err
