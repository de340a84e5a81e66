"""How the keys of a lookup table meet the values rules look up.

A key keeps the type YAML gives it (source.py keeps it for a table's `entries`): `true:` is
the boolean, `1.50:` the number 1.5, while `"true":`, `"1":` and `Audit:` are texts. A
record's value is a bool, a number or a text. A bookkeeper writing `true: TAX` means "a
taxable work code", and one quoting `"1": Fees` means the code "1", so one rule serves the
sync and `validate`:
- a text finds the key written the same way, quoted or not (the code "100" finds `100:`);
- a boolean finds the key YAML reads as that boolean (`true`, `True`, `yes`, `on`, ...),
  never a quoted one;
- a number finds the key YAML reads as the same number (`1.5` finds `1.50:`, `3` finds
  `3.0:`), never a quoted one.
Texts are never read as numbers or booleans: the code "007" does not find `7:`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tpsqbo_engine.amounts import finite_number
from tpsqbo_engine.ruleset.source import UnquotedKey


def read_as(key: str) -> bool | Decimal | None:
    """What YAML read `key` as when it is a boolean or a finite number written unquoted;
    None for a text (quoted or not), a null or a number that is not finite (`.inf`)."""
    if not isinstance(key, UnquotedKey) or key.read is None:
        return None
    if isinstance(key.read, bool):
        return key.read
    return finite_number(key.read)


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
        number = finite_number(value)
        if number is not None:
            return self.numbers.get(number)
        text = str(value)  # a text; a date finds the key written as it (`2024-01-31:`)
        return text if text in self.texts else None

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
