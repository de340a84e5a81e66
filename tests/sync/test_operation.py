"""An operation's hand-written __init__ takes the dataclass's fields, in their order, with
their defaults, and the operation stays frozen."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import FrozenInstanceError, asdict, fields, replace

import pytest

from tpsqbo_engine.sync.plan import Operation


def test_init_takes_every_field_in_order_with_its_default() -> None:
    parameters = list(inspect.signature(Operation.__init__).parameters.values())[1:]
    assert [p.name for p in parameters] == [f.name for f in fields(Operation)]
    for parameter, declared in zip(parameters, fields(Operation), strict=True):
        if declared.default_factory is not dataclasses.MISSING:
            assert parameter.default is None  # stands for a fresh value of the factory
        elif declared.default is dataclasses.MISSING:
            assert parameter.default is inspect.Parameter.empty
        else:
            assert parameter.default == declared.default


def test_defaults_and_given_values_land_in_their_fields() -> None:
    op = Operation("clients", "tps.Client:c-1", "exclude", "qbo.Customer", level="Excluded")
    assert asdict(op) == {
        "mapping": "clients",
        "record": "tps.Client:c-1",
        "action": "exclude",
        "target": "qbo.Customer",
        "body": {},
        "diff": {},
        "message": "",
        "rule": "",
        "level": "Excluded",
        "target_version": "",
        "peer_version": "",
        "content_hash": "",
        "reverse": False,
    }
    other = Operation("clients", "tps.Client:c-2", "exclude", "qbo.Customer")
    assert op.body is not other.body and op.diff is not other.diff  # fresh, as the factory's
    given = {f.name: f"{f.name}-value" for f in fields(Operation)} | {"reverse": True}
    assert asdict(Operation(**given)) == given


def test_it_stays_frozen_and_replaceable() -> None:
    op = Operation("clients", "tps.Client:c-1", "create", "qbo.Customer", body={"A": 1})
    with pytest.raises(FrozenInstanceError):
        op.action = "update"  # type: ignore[misc]
    changed = replace(op, message="carried")
    assert changed.message == "carried" and changed.body is op.body and op.message == ""
    assert changed != op and replace(changed, message="") == op
    assert "action='create'" in repr(op)
