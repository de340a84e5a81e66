"""The order the suite starts its tests in (tests/conftest.py): the slow modules it names
exist, and come first, in their order, every other module keeping its place."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import STARTED_FIRST, pytest_collection_modifyitems

TESTS = Path(__file__).parent


def test_every_module_started_first_exists() -> None:
    missing = [name for name in STARTED_FIRST if not (TESTS / name).is_file()]
    assert missing == [], "renamed or removed: update STARTED_FIRST in tests/conftest.py"


def test_the_named_modules_move_first_and_the_rest_keep_their_order() -> None:
    names = ["a/test_x.py", STARTED_FIRST[1], "b/test_y.py", STARTED_FIRST[0], "a/test_x.py"]
    items = [SimpleNamespace(path=TESTS / name, n=n) for n, name in enumerate(names)]
    items.append(SimpleNamespace(path=Path("/elsewhere/test_z.py"), n=5))
    pytest_collection_modifyitems(items)  # type: ignore[arg-type]
    assert [item.n for item in items] == [3, 1, 0, 2, 4, 5]


def test_this_run_is_in_that_order(request: pytest.FixtureRequest) -> None:
    rank = {name: n for n, name in enumerate(STARTED_FIRST)}
    places = [
        rank.get(item.path.relative_to(TESTS).as_posix(), len(rank))
        for item in request.session.items
        if item.path.is_relative_to(TESTS)
    ]
    assert places == sorted(places)
