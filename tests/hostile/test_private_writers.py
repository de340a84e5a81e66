"""Two writers of one file in one process: each writes its own temporary file, so neither
finds its temporary file taken by the other (the emulator's background save and its save on
stop raced this way)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tpsqbo_engine import private
from tpsqbo_engine.emulators.serving import LoopbackServer
from tpsqbo_engine.sync.checks import take_backup


def test_threads_writing_one_file_each_finish_whole(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    start, failures = threading.Barrier(8), []

    def write(n: int) -> None:
        start.wait()
        for _ in range(50):
            try:
                private.write_private(target, str(n) * 10_000)
            except OSError as error:
                failures.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    text = target.read_text()
    assert len(set(text)) == 1 and len(text) == 10_000
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = private.write_private(tmp_path / "plan.json", "old")
    try:
        private.write_private(target, object())  # type: ignore[arg-type]
    except TypeError:
        pass
    else:
        raise AssertionError("a write of something not text went through")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


def test_stop_waits_for_a_background_save_before_its_own(tmp_path: Path) -> None:
    saving, overlaps, saves = threading.Lock(), [], []
    started = threading.Event()

    def slow_save() -> None:
        if not saving.acquire(blocking=False):
            overlaps.append(time.monotonic())
            return
        try:
            started.set()
            time.sleep(0.3)
            saves.append(time.monotonic())
        finally:
            saving.release()

    server = LoopbackServer(lambda environ, respond: [], "127.0.0.1", 0, slow_save)
    server.start()
    server.mark_dirty()
    assert started.wait(5), "the background save never ran"
    server.stop()
    assert overlaps == [] and len(saves) == 2


class _QboFailingMidRead:
    realm_id = "9130"

    def query_batch(self, wanted: dict[str, str]) -> dict[str, Iterator[dict[str, str]]]:
        def customers() -> Iterator[dict[str, str]]:
            yield {"Id": "1", "DisplayName": "Acme Ltd"}
            raise ConnectionError("QBO went away on page 2")

        return {"Customer": customers()}


def test_a_backup_cut_short_leaves_no_file_behind(tmp_path: Path) -> None:
    with pytest.raises(ConnectionError):
        take_backup(_QboFailingMidRead(), ["Customer"], tmp_path, state=None)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
