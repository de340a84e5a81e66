"""A plan: every intended write with its field-level diff, and every record left alone, why."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.sync.compare import flatten
from tpsqbo_engine.sync.mirror import tagged, untagged

ACTIONS = ("create", "update", "link", "void")
PHASES = ("initial", "ongoing", "undo")  # what a plan is for: the planner's two, and undo's


@dataclass(frozen=True)
class Operation:
    mapping: str
    record: str  # the source record: "tps.Invoice:inv-1001"
    action: str  # create | update | link | exclude | block | review | fail | ignore
    target: str  # "qbo.Invoice" or "qbo.Invoice:238"
    body: dict[str, Any] = field(default_factory=dict)
    diff: Mapping[str, list[Any]] = field(default_factory=dict)  # field -> [now, wanted]
    message: str = ""
    rule: str = ""
    level: str = ""  # for non-writes: the history status they end with
    target_version: str = ""  # the written record's version when planned
    peer_version: str = ""  # the other side's version, kept on the link
    content_hash: str = ""
    reverse: bool = False  # a `both` mapping writing back to the source side

    @property
    def writes(self) -> bool:
        return self.action in ACTIONS

    @classmethod
    def of(
        cls,
        mapping: str,
        record: str,
        action: str,
        target: str,
        *,
        body: dict[str, Any] | None = None,
        diff: Mapping[str, list[Any]] | None = None,
        message: str = "",
        rule: str = "",
        level: str = "",
        peer_version: str = "",
    ) -> Operation:
        """`Operation(...)` for the planner, which makes one for every record it decides: the
        fields it sets put in one step rather than by one frozen-dataclass `__setattr__`
        each, which cost more than deciding an excluded record. The others it never sets
        (`target_version`, `content_hash`, `reverse`) read as their defaults, from the
        class. Equal to the same `Operation(...)` in every way."""
        made = object.__new__(cls)
        made.__dict__.update(
            mapping=mapping,
            record=record,
            action=action,
            target=target,
            body={} if body is None else body,  # a body and a diff of its own
            diff={} if diff is None else diff,
            message=message,
            rule=rule,
            level=level,
            peer_version=peer_version,
        )
        return made


if {f.name for f in fields(Operation) if f.default_factory is not MISSING} != {"body", "diff"}:
    raise TypeError("Operation.of makes a fresh body and diff: keep it in step with the fields")


class NewRecordDiff(Mapping[str, list[Any]]):
    """A create's diff: every field of its body, each [None, value]. Made when first read:
    the executor never reads a create's diff, and making one per record planned cost as
    much as deciding the record's partner (bench/plan.py). Equal to the same fields in a
    dict, and copied (`asdict`: plan files, the chunks' plans) as that dict."""

    __slots__ = ("_body", "_fields")

    def __init__(self, body: Mapping[str, Any]) -> None:
        self._body = body
        self._fields: dict[str, list[Any]] | None = None

    def _made(self) -> dict[str, list[Any]]:
        fields = self._fields
        if fields is None:
            fields = self._fields = {path: [None, v] for path, v in flatten(self._body).items()}
        return fields

    def __getitem__(self, path: str) -> list[Any]:
        return self._made()[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._made())

    def __len__(self) -> int:
        return len(self._made())

    def __repr__(self) -> str:
        return repr(self._made())

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, list[Any]]:
        return copy.deepcopy(self._made(), memo)


@dataclass
class Plan:
    phase: str
    operations: list[Operation] = field(default_factory=list)
    created_at: str = ""

    def writes(self) -> list[Operation]:
        return [op for op in self.operations if op.writes]

    def estimated_calls(self) -> int:
        # Creates go to QBO in batches of 30; updates need a read and a write.
        creates = sum(1 for op in self.writes() if op.action == "create")
        updates = sum(1 for op in self.writes() if op.action == "update")
        return -(-creates // 30) + 2 * updates

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=_json, ensure_ascii=False)

    @classmethod
    def from_file(cls, path: Path) -> Plan:
        """A plan written by `plan --out`; anything else (a missing file, a file cut short
        or edited out of shape) is a usage error naming the file and, where known, where."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
            raise UsageError(f"cannot read the plan {path}: {reason}", hint=_AGAIN) from None
        try:
            data = json.loads(
                text, parse_float=Decimal, parse_constant=_no_constant, object_hook=_exact_amount
            )
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"{path}:{exc.lineno}:{exc.colno}: not a plan file ({exc.msg})", hint=_AGAIN
            ) from None
        return cls(*_plan_parts(path, data))


_AGAIN = "write it again with `tpsqbo-engine plan --out`"
_FIELD_NAMES = frozenset(f.name for f in fields(Operation))
_REQUIRED = frozenset(
    f.name for f in fields(Operation) if f.default is MISSING and f.default_factory is MISSING
)
# What each field of an operation holds in JSON; a field of a type not named here fails at
# import, so the check cannot fall behind the dataclass.
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "bool": (bool,),
    "dict[str, Any]": (dict,),
    "Mapping[str, list[Any]]": (dict,),
}
_FIELD_TYPES = {f.name: _JSON_TYPES[str(f.type)] for f in fields(Operation)}


def _plan_parts(path: Path, data: Any) -> tuple[str, list[Operation], str]:
    """The phase, operations and creation time of a plan file's JSON, its shape checked."""

    def wrong(where: str, what: str) -> UsageError:
        return UsageError(f"{path}: not a plan file: {where} {what}", hint=_AGAIN)

    if not isinstance(data, dict):
        raise wrong("the file", "must hold a JSON object")
    if data.get("phase") not in PHASES:
        raise wrong("'phase'", f"must be one of {', '.join(PHASES)}")
    if not isinstance(data.get("created_at", ""), str):
        raise wrong("'created_at'", "must be text")
    found = data.get("operations")
    if not isinstance(found, list):
        raise wrong("'operations'", "must be a list")
    operations = []
    for index, op in enumerate(found):
        where = f"operations[{index}]"
        if not isinstance(op, dict):
            raise wrong(where, "must be an object")
        unknown = sorted(set(op) - _FIELD_NAMES)
        missing = sorted(_REQUIRED - set(op))
        if unknown or missing:
            raise wrong(
                where, f"has no field {unknown[0]!r}" if unknown else f"needs {missing[0]!r}"
            )
        for name, value in op.items():
            if not isinstance(value, _FIELD_TYPES[name]):
                raise wrong(f"{where}.{name}", f"must be {_FIELD_TYPES[name][0].__name__}")
        operations.append(Operation(**op))
    return data["phase"], operations, data.get("created_at", "")


# An amount is written as a JSON number when that number reads back as the same amount (any
# amount in cents up to about 15 digits), readable in a plan under review; any other (more
# digits, infinite, not a number) as the mirror keeps amounts, {"$decimal": "its digits"}.
def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        if value.is_finite() and Decimal(repr(float(value))) == value:
            return float(value)
        return tagged(value)
    return str(value)


def _exact_amount(found: dict[str, Any]) -> Any:
    try:
        return untagged(found)
    except InvalidOperation:
        raise UsageError(
            f"the plan file holds an amount that is not one: {str(found)[:60]}",
            hint="make the plan again with `tpsqbo-engine plan --out`",
        ) from None


def _no_constant(name: str) -> Any:
    raise UsageError(
        f"the plan file holds {name}, which is not an amount",
        hint="make the plan again with `tpsqbo-engine plan --out`",
    )
