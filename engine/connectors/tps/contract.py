"""The TPS contract (docs/tps-contract.md): resources, their entities, and how a firm's own
endpoint may name them.

TPS publishes no API, so the engine defines one. A firm whose endpoint uses other paths or
field names declares them in its firm config; `TpsContract` carries those choices, with the
documented names as defaults, and translates records both ways.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# resource (URL segment) -> entity (schemas/tps/<Entity>.json)
RESOURCES: Mapping[str, str] = MappingProxyType(
    {
        "clients": "Client",
        "work-codes": "WorkCode",
        "wip": "WipEntry",
        "invoices": "Invoice",
        "payments": "Payment",
        "adjustments": "Adjustment",
        "finance-charges": "FinanceCharge",
    }
)
API_PREFIX = "/api/v1"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class TpsContract:
    """Paths per resource and field renames per entity (engine name -> the endpoint's name)."""

    paths: Mapping[str, str] = field(
        default_factory=lambda: {resource: f"{API_PREFIX}/{resource}" for resource in RESOURCES}
    )
    fields: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    firm_path: str = f"{API_PREFIX}/firm"

    def path(self, resource: str) -> str:
        if resource not in RESOURCES:
            raise KeyError(f"unknown TPS resource {resource!r}")
        return self.paths.get(resource, f"{API_PREFIX}/{resource}")

    def to_remote(self, resource: str, record: Mapping[str, Any]) -> dict[str, Any]:
        renames = self.fields.get(RESOURCES[resource], {})
        return {renames.get(k, k): v for k, v in record.items()}

    def from_remote(self, resource: str, record: Mapping[str, Any]) -> dict[str, Any]:
        back = {remote: local for local, remote in self.fields.get(RESOURCES[resource], {}).items()}
        return {back.get(k, k): v for k, v in record.items()}
