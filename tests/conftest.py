from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tpsqbo_engine import resources

CASES = Path(__file__).parent / "cases"

# The modules whose tests take seconds each, mostly waiting (on real workers, subprocesses,
# sleeps a second apart as scheduled runs are), slowest first (measured, `--durations`). The
# parallel run (`make test`) starts them first, so the quick tests fill their waits instead
# of the run ending on one of them; every other module keeps its place.
STARTED_FIRST = (
    "fleet/test_celery.py",
    "watch/test_watcher.py",
    "test_bench_scripts.py",
    "sync/test_rename_collision.py",
    "fleet/test_embedded.py",
    "sync/test_mirror.py",
    "sync/test_referenced.py",
    "fleet/test_true_floor.py",
    "sync/test_chunks.py",
    "sync/test_undo.py",
    "sync/test_cli_sync.py",
    "fleet/test_coord.py",
    "sync/test_sync.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: n for n, name in enumerate(STARTED_FIRST)}
    tests = Path(__file__).parent

    def place(item: pytest.Item) -> int:
        if not item.path.is_relative_to(tests):
            return len(rank)
        return rank.get(item.path.relative_to(tests).as_posix(), len(rank))

    items.sort(key=place)  # stable: a module's tests stay together, in their order


@pytest.fixture
def standard_pack() -> Path:
    return resources.rules_dir()


@pytest.fixture(autouse=True)
def _environment_kept() -> Iterator[None]:
    """What a test puts in os.environ (the demo exports its emulators' secrets there) goes
    with it: the suite runs across processes, and which tests share one varies by run."""
    before = dict(os.environ)
    yield
    if dict(os.environ) != before:
        os.environ.clear()
        os.environ.update(before)
