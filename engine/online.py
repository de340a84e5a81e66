"""`validate --online`: the names rules use in QBO exist in the connected company.

Accounts, items, tax codes, terms... named in `ref()` calls, directly or through the lookup
tables feeding them, are looked up in the company the firm's config connects to; a name
QBO does not have is reported at the lookup entry (or the rule) that writes it, with the
closest name QBO has.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tpsqbo_engine.errors import EngineError
from tpsqbo_engine.problems import Problem
from tpsqbo_engine.ruleset.packs import LoadedPacks
from tpsqbo_engine.ruleset.references import name_uses
from tpsqbo_engine.ruleset.typecheck import did_you_mean

# QBO's US companies have two pseudo tax codes that are not TaxCode records.
US_TAX_CODES = frozenset({"TAX", "NON"})
# Names are read with inactive ones too: naming an inactive account is its own problem.
WITH_INACTIVE = frozenset({"Account", "Item", "Term", "PaymentMethod", "Customer", "Vendor"})
Names = Callable[[str], list[str]]


def not_connected(reason: str) -> Problem:
    return Problem(
        "<online>",
        1,
        1,
        "online.not-connected",
        f"cannot check against QBO: {reason}",
        hint="give the firm's config with --config (default ./tpsqbo.yaml), connect with "
        "`tpsqbo-engine connect -c <config>`, and export the app's client secret",
    )


def company_names(config_path: Path) -> Names:
    """A function listing the names of a QBO entity in the company `config_path` connects to."""
    from tpsqbo_engine.connectors.qbo.auth import QboAuth
    from tpsqbo_engine.connectors.qbo.client import QboClient
    from tpsqbo_engine.connectors.qbo.tokens import TokenStore
    from tpsqbo_engine.sync.config import load_config
    from tpsqbo_engine.sync.firmfiles import same_environment

    config = load_config(config_path)
    secret = os.environ.get(config.qbo.client_secret_env, "")
    if not secret:
        raise EngineError(f"no QBO client secret in {config.qbo.client_secret_env}")
    store = TokenStore(config.qbo.token_file)
    same_environment(store, config.qbo.environment, config.path)  # the company the config names
    client = QboClient(QboAuth(store, secret))

    def names(entity: str) -> list[str]:
        where = "Active IN (true, false)" if entity in WITH_INACTIVE else ""
        return [_name(r) for r in client.query_all(entity, where)]

    return names


def _name(record: dict[str, Any]) -> str:
    return str(
        record.get("FullyQualifiedName") or record.get("DisplayName") or record.get("Name") or ""
    )


def check_online(packs: Iterable[LoadedPacks], names: Names) -> list[Problem]:
    known: dict[str, dict[str, str]] = {}
    problems: list[Problem] = []
    for pack in packs:
        for use in name_uses(pack.documents):
            if use.entity == "TaxCode" and use.name in US_TAX_CODES:
                continue
            if use.entity not in known:
                listed = names(use.entity)
                known[use.entity] = {n.casefold(): n for n in listed}
                known[use.entity] |= {n.rsplit(":", 1)[-1].casefold(): n for n in listed}
            if use.name.casefold() in known[use.entity]:
                continue
            problems.append(
                use.doc.source.problem(
                    use.pointer,
                    "online.unknown-name",
                    f"the connected company has no {use.entity} named '{use.name}'",
                    hint=did_you_mean(use.name, set(known[use.entity].values()))
                    or f"create it in QBO, or use one of its {use.entity} names",
                )
            )
    return sorted(set(problems))
