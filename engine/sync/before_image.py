"""A write's before-image as the journal keeps it: the record written and the values its
changed fields had before, for `undo` to set back.

Amounts are kept as the exact text QBO or TPS gave them, tagged as the mirror and plan
files tag an amount (`{"$decimal": "120.00"}`): a JSON number would be read back through a
float by any reader that does not ask for Decimal, and written from one it loses how the
amount was spelled (120.00 became 120.0). Journals written before amounts were tagged hold
JSON numbers; they are read as Decimal, never as floats.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from tpsqbo_engine.sync.mirror import tagged, untagged


class UnreadableImage(ValueError):
    """A before-image that is not one this module wrote."""


def dumps(written: str, fields: dict[str, Any]) -> str:
    image = {"written": written, "fields": _no_floats(fields)}
    return json.dumps(image, default=_exact, ensure_ascii=False)


def _no_floats(value: Any) -> Any:
    """`value` with any float as the Decimal of its shortest text: json writes a float
    itself, never through `default`, and the journal holds no float."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _no_floats(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_no_floats(v) for v in value]
    return value


def loads(text: str) -> dict[str, Any]:
    """The before-image `dumps` wrote (or an older journal's, amounts as JSON numbers)."""
    try:
        image = json.loads(text, parse_float=Decimal, object_hook=untagged)
    except json.JSONDecodeError as exc:
        raise UnreadableImage(f"it is not JSON ({exc.msg})") from None
    except InvalidOperation:
        raise UnreadableImage("an amount in it is not a number") from None
    if not isinstance(image, dict) or not isinstance(image.get("written"), str):
        raise UnreadableImage("it names no record written")
    if not isinstance(image.setdefault("fields", {}), dict):
        raise UnreadableImage("its fields are not an object")
    return image


def _exact(value: Any) -> Any:
    if isinstance(value, Decimal):
        return tagged(value)
    raise TypeError(f"{type(value).__name__} cannot be kept in the journal")
