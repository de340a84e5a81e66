from __future__ import annotations

from pathlib import Path

import pytest

from tpsqbo_engine import resources

CASES = Path(__file__).parent / "cases"


@pytest.fixture
def standard_pack() -> Path:
    return resources.rules_dir()
