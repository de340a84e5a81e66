"""What the expression checker works with: the scope of names an expression may use, the
findings it reports, and "did you mean" hints."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from tpsqbo_engine.functions import RULE_FUNCTIONS
from tpsqbo_engine.ruleset.lookup_keys import KeyIndex
from tpsqbo_engine.ruleset.shapes import EntityCatalog, Shape

QBO_REF_ENTITIES = (
    "Account",
    "Item",
    "TaxCode",
    "Term",
    "PaymentMethod",
    "Class",
    "Department",
    "Customer",
    "Vendor",
)
# What an escape attempt evaluates to: one problem is reported, nothing after it.
REFUSED = Shape(None, label="refused")


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    hint: str = ""
    lineno: int = 1
    level: str = "error"


@dataclass(frozen=True)
class Scope:
    """What an expression may name: record fields, tables and mappings of the pack.

    `mapping_entities` maps a mapping id to its (source, target) entity names.
    """

    catalog: EntityCatalog
    variables: Mapping[str, Shape]
    system: str = "tps"
    lookups: frozenset[str] = frozenset()
    mapping_entities: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # lookup id → (its keys, whether it has a default), so constant keys can be checked
    lookup_keys: Mapping[str, tuple[KeyIndex, bool]] = field(default_factory=dict)
    # the functions callable here: rule functions, or checklist functions (functions.py)
    functions: frozenset[str] = RULE_FUNCTIONS

    def with_variables(self, extra: Mapping[str, Shape]) -> Scope:
        return replace(self, variables={**self.variables, **extra})


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def choices_hint(name: str, choices: Iterable[str]) -> str:
    options = sorted(choices)
    suggestion = did_you_mean(name, options)
    if suggestion:
        return suggestion
    shown = ", ".join(options[:12]) + (", ..." if len(options) > 12 else "")
    return f"available: {shown}" if options else ""
