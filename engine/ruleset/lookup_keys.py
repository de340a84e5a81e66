"""How the keys of a lookup table meet the values rules look up.

A key is kept as the text written in YAML, quoted or not (`"15":` and `15:` are both the
text "15"), while a record's value is a bool, a number or a text. A bookkeeper writing
`true: TAX` (or `"true": TAX`) means "a taxable work code", so one rule serves the sync and
`validate`:
- a text finds the key written the same way (the code "100" finds `100:` and `"100":`);
- a boolean finds the key YAML reads as that boolean written unquoted (`true`, `True`,
  `yes`, `on`, ..., quoted or not);
- a number finds the key written the same way, or else the key YAML reads as the same
  number written unquoted (`1.5` finds `1.50:`, `3` finds `"3.0":`).
Texts are never read as numbers or booleans: the code "007" does not find `7:`.
Whether a key is quoted never changes what it finds: packs written either way look up the
same values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tpsqbo_engine.amounts import finite_number
from tpsqbo_engine.ruleset.source import yaml_scalar


def read_as(key: str) -> bool | Decimal | None:
    """What YAML reads `key` written unquoted as when that is a boolean or a finite number;
    None for a text, a date, a null or a number that is not finite (`.inf`)."""
    read = yaml_scalar(key)
    if isinstance(read, bool):
        return read
    return finite_number(read)


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
            read = read_as(key)
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
        text = str(value)  # a date finds the key written as it (`2024-01-31:`)
        if text in self.texts:
            return text
        number = finite_number(value)
        return None if number is None else self.numbers.get(number)

    def not_booleans(self) -> list[str]:
        """The keys a true/false value never finds."""
        return sorted(k for k in self.texts if not isinstance(read_as(k), bool))

    def not_numbers(self) -> list[str]:
        """The keys a number never finds."""
        return sorted(k for k in self.texts if not isinstance(read_as(k), Decimal))

    def same_keys(self) -> list[tuple[str, str]]:
        """Pairs of keys that one value would find both of (`true` and `yes`, `1.5` and
        `1.50`): only the first is ever used."""
        pairs: list[tuple[str, str]] = []
        for key in sorted(self.texts):
            read = read_as(key)
            if isinstance(read, bool):
                first = self.booleans[read]
            elif read is not None:
                first = self.numbers[read]
            else:
                continue
            if first != key:
                pairs.append((first, key))
        return pairs
