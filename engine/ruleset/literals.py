"""Literal values in rules against the type of the field they fill: `Qty: one` is caught at
validate, not by QBO refusing every invoice."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from tpsqbo_engine.ruleset.shapes import Shape
from tpsqbo_engine.ruleset.typecheck import did_you_mean


def _number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float | Decimal):
        return True
    try:
        Decimal(str(value).strip())
    except InvalidOperation:
        return False
    return True


def _fits(value: Any, json_type: str) -> bool:
    if value is None:
        return json_type == "null"
    if json_type == "integer":
        return _number(value) and Decimal(str(value)) == Decimal(str(value)).to_integral()
    if json_type == "number":
        return _number(value)
    kinds: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "boolean": bool,
        "object": dict,
        "array": list,
    }
    wanted = kinds.get(json_type)
    return wanted is None or isinstance(value, wanted)


def _node(shape: Shape) -> dict[str, Any]:
    node = shape._resolved().node
    return dict(node) if node is not None else {}


def literal_mismatch(value: Any, shape: Shape) -> str:
    """Why `value` cannot fill a field of this shape, or "" when it can (or we cannot tell)."""
    node = _node(shape)
    if value is None:
        return ""  # null leaves the field out of the write
    enum = node.get("enum")
    if isinstance(enum, list) and value not in enum:
        return f"must be one of: {', '.join(str(e) for e in enum)}"
    types = shape.json_types()
    if not types or any(_fits(value, t) for t in types):
        return ""
    shown = "text" if isinstance(value, str) else type(value).__name__
    return f"is {' or '.join(sorted(types - {'null'}))}; {value!r} is {shown}"


def literal_hint(value: Any, shape: Shape) -> str:
    node = _node(shape)
    examples = node.get("examples") or []
    enum = node.get("enum")
    if isinstance(enum, list):
        return did_you_mean(str(value), [str(e) for e in enum]) or "pick one of the allowed values"
    shown = json.dumps(examples[0], default=str) if examples else ""
    return f"for example: {shown}" if examples else "write a value of the field's type"
