"""How the keys of a lookup table meet the values rules look up.

A key is kept as it is written in YAML (source.py), so `true:` is the text "true" and `1.50:`
the text "1.50", while a record's value is a bool, a number or a text. A bookkeeper writing
`true: TAX` means "a taxable work code", so one rule serves the sync and `validate`:
- a text finds the key written the same way;
- a boolean finds the key YAML reads as that boolean (`true`, `True`, `yes`, `on`, ...);
- a number finds the key written the same way, or else the key that is the same number
  (`1.5` finds `1.50:`, `3` finds `3.0:`).
Texts are never read as numbers or booleans: the code "007" does not find `7:`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from tpsqbo_engine.amounts import finite_number

_TAG = "tag:yaml.org,2002:"
_RESOLVER = yaml.SafeLoader("")


def yaml_scalar(text: str) -> bool | Decimal | None:
    """What YAML reads `text` written unquoted as, when that is a boolean or a finite
    number; None otherwise (a text, a date, null)."""
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    if tag not in (f"{_TAG}bool", f"{_TAG}int", f"{_TAG}float"):
        return None
    value = _RESOLVER.construct_object(yaml.ScalarNode(tag, text))
    if isinstance(value, bool):
        return value
    try:
        number = Decimal(text.replace("_", "")) if tag.endswith("float") else Decimal(value)
    except InvalidOperation:
        return None  # a float YAML writes differently (.inf, .nan): never a lookup key
    return number if number.is_finite() else None


@dataclass(frozen=True)
class KeyIndex:
    """A lookup's keys, as written and as the booleans and numbers YAML reads them as."""

    texts: frozenset[str] = frozenset()
    booleans: dict[bool, str] = field(default_factory=dict)
    numbers: dict[Decimal, str] = field(default_factory=dict)

    @classmethod
    def of(cls, keys: Iterable[str]) -> KeyIndex:
        texts = list(keys)  # in the order written: the first of two same keys is used
        booleans: dict[bool, str] = {}
        numbers: dict[Decimal, str] = {}
        for key in texts:
            read = yaml_scalar(key)
            if isinstance(read, bool):
                booleans.setdefault(read, key)
            elif read is not None:
                numbers.setdefault(read, key)
        return cls(frozenset(texts), booleans, numbers)

    def key_for(self, value: Any) -> str | None:
        """The key `value` finds, or None when it finds none."""
        if value is None:
            return None
        if isinstance(value, bool):
            return self.booleans.get(value)
        text = str(value)
        if text in self.texts:
            return text
        number = finite_number(value)
        return None if number is None else self.numbers.get(number)

    def not_booleans(self) -> list[str]:
        """The keys a true/false value never finds."""
        return sorted(k for k in self.texts if not isinstance(yaml_scalar(k), bool))

    def same_keys(self) -> list[tuple[str, str]]:
        """Pairs of keys that one value would find both of (`true` and `yes`, `1.5` and
        `1.50`): only the first is ever used."""
        pairs: list[tuple[str, str]] = []
        for key in sorted(self.texts):
            read = yaml_scalar(key)
            if isinstance(read, bool):
                first = self.booleans[read]
            elif read is not None:
                first = self.numbers[read]
            else:
                continue
            if first != key:
                pairs.append((first, key))
        return pairs
