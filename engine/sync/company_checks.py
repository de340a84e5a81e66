"""Checklist checks written as expressions over the QBO company: `company` (CompanyInfo),
`preferences`, `phase`, and `count()`, `exists()`, `query()` of any QBO entity, e.g.
`{{ count('qbo.Bill') == 0 }}`. The functions come from the one registry
(engine/functions.py) the checker reads too."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import islice
from typing import Any

from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.expr import ExpressionError
from tpsqbo_engine.functions import bound_functions
from tpsqbo_engine.ruleset.model import Check

MAX_QUERY = 1_000


class CompanyFunctions:
    """The checklist side of the function registry, answered by the QBO client."""

    def __init__(self, qbo: QboClient) -> None:
        self.qbo = qbo
        self._counts: dict[tuple[str, str], int] = {}

    @staticmethod
    def _entity(qualified: Any) -> str:
        system, _, entity = str(qualified).partition(".")
        if system != "qbo" or not entity:
            raise ExpressionError("name a QBO entity like 'qbo.Bill'")
        return entity

    def count(self, qualified: Any, where: Any = "") -> int:
        key = (self._entity(qualified), str(where or ""))
        if key not in self._counts:
            self._counts[key] = self.qbo.count(*key)
        return self._counts[key]

    def exists(self, qualified: Any, where: Any = "") -> bool:
        return self.count(qualified, where) > 0

    def query(self, qualified: Any, where: Any = "") -> list[dict[str, Any]]:
        found = self.qbo.query_all(self._entity(qualified), str(where or ""))
        return list(islice(found, MAX_QUERY))

    def bound_function(
        self, name: str, system: str, record: Mapping[str, Any]
    ) -> Callable[..., Any]:
        method: Callable[..., Any] = getattr(self, name)
        return method


def check_context(qbo: QboClient, phase: str) -> dict[str, Any]:
    functions = CompanyFunctions(qbo)
    return {
        "company": qbo.company_info(),
        "preferences": qbo.preferences(),
        "phase": phase,
        **bound_functions(functions, "qbo", {}, scope="checks"),
    }


def expression_check(check: Check, qbo: QboClient, phase: str) -> tuple[bool, list[str]]:
    if check.expect is None:
        return False, ["the check has no expression"]
    try:
        value = check.expect.evaluate(check_context(qbo, phase))
    except ExpressionError as failure:
        return False, [failure.message]
    return bool(value), [f"{check.expect.source} is {'true' if value else 'false'}"]
