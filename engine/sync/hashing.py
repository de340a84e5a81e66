"""The content hash of what the rules want for a record: kept on the link, so that the next
run knows whether the source changed since. Stored hashes must stay comparable from one
version of the engine to the next: the hash of a value never changes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

# Values that are neither mappings, lists nor amounts: they stand for themselves.
_AS_THEY_ARE = frozenset({str, int, float, bool, type(None)})


def _canonical(value: Any) -> Any:
    # A reference is its id: the display name QBO echoes back is not part of the content.
    kind = type(value)
    if kind in _AS_THEY_ARE:
        return value
    if kind is dict or isinstance(value, Mapping):
        reference = "value" in value
        return {
            k: v if type(v) in _AS_THEY_ARE else _canonical(v)
            for k, v in value.items()
            if not (reference and k == "name")
        }
    if isinstance(value, list):
        return [v if type(v) in _AS_THEY_ARE else _canonical(v) for v in value]
    if isinstance(value, Decimal):
        return str(value.normalize())
    return value


def content_hash(value: Any) -> str:
    try:
        plain = _without_names(value)
    except _Unusual:  # a tuple or another container of its own: the general way
        text = json.dumps(_canonical(value), sort_keys=True, default=str, ensure_ascii=False)
    else:
        text = json.dumps(plain, sort_keys=True, default=_amount_text, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class _Unusual(Exception):
    pass


def _amount_text(value: Any) -> str:
    # json.dumps asks for what it cannot write itself: amounts, as _canonical gives them
    return str(value.normalize()) if type(value) is Decimal else str(value)


def _without_names(value: Any) -> Any:
    """What `_canonical` makes, as JSON sees it, copying only the containers it changes:
    amounts are left to `_amount_text`, so only references lose their names."""
    kind = type(value)
    if kind in _AS_THEY_ARE or kind is Decimal:
        return value
    if kind is dict:
        changed = None
        for key, inner in value.items():
            if type(inner) in _AS_THEY_ARE or type(inner) is Decimal:
                continue
            made = _without_names(inner)
            if made is not inner:
                changed = changed if changed is not None else dict(value)
                changed[key] = made
        if "name" in value and "value" in value:
            changed = changed if changed is not None else dict(value)
            del changed["name"]
        return value if changed is None else changed
    if kind is list:
        made_items = [_without_names(inner) for inner in value]
        same = all(made is inner for made, inner in zip(made_items, value, strict=True))
        return value if same else made_items
    if isinstance(value, Mapping | list | tuple | Decimal):
        raise _Unusual  # _canonical treats these its own way
    return value
