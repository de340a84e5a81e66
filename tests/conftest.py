from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tpsqbo_engine import resources

CASES = Path(__file__).parent / "cases"


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
