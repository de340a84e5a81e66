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
        plain = _json_ready(value)
    except _Unusual:  # a tuple or another container of its own: the general way
        text = json.dumps(_canonical(value), sort_keys=True, default=str, ensure_ascii=False)
    else:
        text = _ENCODER.encode(plain)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class _Unusual(Exception):
    pass


def _amount_text(value: Any) -> str:
    # json.dumps asks for what it cannot write itself (a date...), as _canonical gives it
    return str(value.normalize()) if type(value) is Decimal else str(value)


# What json.dumps(..., sort_keys=True, default=_amount_text, ensure_ascii=False) makes, with the
# encoder made once: json.dumps makes a new one per call when given options, a third of the
# time of hashing a payload. An encoder keeps no state between calls.
_ENCODER = json.JSONEncoder(sort_keys=True, default=_amount_text, ensure_ascii=False)


_SIMPLE = frozenset({str, bool, int, float, type(None)})


def _json_ready(value: Any) -> Any:
    """What `_canonical` makes, for the dicts, lists and amounts payloads are made of: a
    copy with amounts as their text (json.dumps then writes it without asking back for
    every amount) and references without their names."""
    kind = type(value)
    if kind is dict:
        out = {}
        for key, inner in value.items():
            inner_kind = type(inner)
            if inner_kind in _SIMPLE:
                out[key] = inner
            elif inner_kind is Decimal:
                out[key] = str(inner.normalize())
            else:
                out[key] = _json_ready(inner)
        if "name" in out and "value" in out:
            del out["name"]  # a reference is its id
        return out
    if kind is list:
        return [inner if type(inner) in _SIMPLE else _json_ready(inner) for inner in value]
    if kind is Decimal:
        return str(value.normalize())
    if kind in _SIMPLE:
        return value
    if isinstance(value, Mapping | list | tuple | Decimal):
        raise _Unusual  # _canonical treats these its own way
    return value  # a date...: json.dumps asks _amount_text
