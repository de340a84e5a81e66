"""Operation.of, the planner's way of making an operation, makes the very Operation(...)."""

from __future__ import annotations

import copy
import pickle
from dataclasses import FrozenInstanceError, asdict, replace

import pytest

from tpsqbo_engine.sync.plan import Operation


def test_it_equals_the_dataclass_made_the_usual_way() -> None:
    made = Operation.of("invoices", "tps.Invoice:1", "exclude", "qbo.Invoice", level="Excluded")
    usual = Operation("invoices", "tps.Invoice:1", "exclude", "qbo.Invoice", level="Excluded")
    assert made == usual
    assert repr(made) == repr(usual)
    assert asdict(made) == asdict(usual)


def test_each_has_a_body_and_a_diff_of_its_own() -> None:
    one = Operation.of("m", "tps.Client:1", "create", "qbo.Customer")
    other = Operation.of("m", "tps.Client:2", "create", "qbo.Customer")
    one.body["DisplayName"] = "Ana"
    assert other.body == {} and one.diff is not other.diff


def test_it_stays_frozen_and_refuses_a_name_that_is_not_a_field() -> None:
    made = Operation.of("m", "tps.Client:1", "create", "qbo.Customer")
    with pytest.raises(FrozenInstanceError):
        made.action = "update"  # type: ignore[misc]
    with pytest.raises(TypeError, match="unexpected keyword argument 'messsage'"):
        Operation.of("m", "tps.Client:1", "fail", "qbo.Customer", messsage="typo")
    with pytest.raises(TypeError, match="multiple values for argument 'action'"):
        Operation.of("m", "tps.Client:1", "fail", "qbo.Customer", action="create")


def test_the_fields_it_leaves_to_their_defaults_travel_as_set() -> None:
    """A plan is pickled to its chunks' processes and copied; the fields `of` never sets read
    from the class, in a copy too."""
    made = Operation.of("m", "tps.Client:1", "create", "qbo.Customer", rule="r:1")
    usual = Operation("m", "tps.Client:1", "create", "qbo.Customer", rule="r:1")
    for copied in (pickle.loads(pickle.dumps(made)), copy.deepcopy(made), copy.copy(made)):
        assert copied == usual and copied.reverse is False and copied.content_hash == ""
    assert replace(made, content_hash="h") == replace(usual, content_hash="h")
