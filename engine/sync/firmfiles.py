"""The files a firm config names besides the rules: the state, the pins file and the saved
QBO connection. Each is checked when opened, and what is wrong with it is the user's to fix,
so it is a usage error naming the file (and the line, where there is one), never a crash."""

from __future__ import annotations

import json
from collections.abc import Set
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator

from tpsqbo_engine import resources
from tpsqbo_engine.connectors.qbo.errors import ReconnectRequired
from tpsqbo_engine.connectors.qbo.tokens import TokenStore
from tpsqbo_engine.errors import ConfigError, UsageError
from tpsqbo_engine.problems import Problem
from tpsqbo_engine.ruleset.checking import did_you_mean
from tpsqbo_engine.ruleset.schema_check import check_with
from tpsqbo_engine.ruleset.source import SourceDocument, load_file, pointer_join
from tpsqbo_engine.state import StateStore
from tpsqbo_engine.sync.config import FirmConfig

PINS_HINT = "fix the pins file; schemas/pins.schema.json describes it"


def open_state(path: Path) -> StateStore:
    """The firm's state store; a path that is a folder, or a folder that cannot be made or
    written, is the config's `state:` to fix."""
    hint = "set `state:` in the firm config to a file in a folder you can write"
    if path.is_dir():
        raise UsageError(f"the state file {path} is a folder", hint=hint)
    try:
        return StateStore(path)
    except OSError as exc:
        raise UsageError(
            f"cannot use the state folder {path.parent}: {exc.strerror}", hint=hint
        ) from None


@cache
def _pins_validator() -> Draft202012Validator:
    schema = json.loads((resources.schemas_dir() / "pins.schema.json").read_text())
    return Draft202012Validator(schema)


def read_pins(path: Path, mappings: Set[str]) -> dict[tuple[str, str], str]:
    """(mapping, source id) -> target id or "new". A pin must name a mapping of the rules: a
    misspelt one would otherwise do nothing while the user believes the record pinned."""
    if not path.is_file():
        return {}
    documents, problems = load_file(path)
    if not problems and len(documents) > 1:
        problems = [documents[1].problem("", "pins.documents", "a pins file is one document")]
    if not problems and documents and documents[0].data is not None:
        problems = check_with(documents[0], _pins_validator()) or _pin_problems(
            documents[0], mappings
        )
    if problems:
        raise ConfigError(problems, what=f"the pins file {path}", hint=PINS_HINT)
    if not documents or documents[0].data is None:
        return {}  # an empty file pins nothing
    pins = documents[0].data["pins"]
    return {(p["mapping"], str(p["source"])): str(p["target"]) for p in pins}


def _pin_problems(document: SourceDocument, mappings: Set[str]) -> list[Problem]:
    """Pins of a mapping the rules do not have, and a record pinned twice (which one would
    hold is not for the engine to guess)."""
    problems, seen = [], set()
    for index, pin in enumerate(document.data["pins"]):
        where = pointer_join("/pins", index)
        if pin["mapping"] not in mappings:
            problems.append(
                document.problem(
                    pointer_join(where, "mapping"),
                    "pins.unknown-mapping",
                    f"no mapping '{pin['mapping']}' in the rules",
                    hint=did_you_mean(pin["mapping"], sorted(mappings))
                    or f"the mappings are: {', '.join(sorted(mappings))}",
                )
            )
        key = (pin["mapping"], str(pin["source"]))
        if key in seen:
            problems.append(
                document.problem(
                    where,
                    "pins.duplicate",
                    f"{key[1]} is pinned twice for the mapping {key[0]}",
                    hint="keep one pin per record and mapping",
                )
            )
        seen.add(key)
    return problems


def pins_problems(firm: FirmConfig) -> list[Problem]:
    """The pins file's problems against the mappings of the firm's rules (which must load),
    for `validate`: the same checks as every run's, shown before a run."""
    from tpsqbo_engine.ruleset.model import load_ruleset

    if not firm.pins.is_file() or len(firm.rules) != 1:
        return []
    try:
        read_pins(firm.pins, {m.id for m in load_ruleset(firm.rules[0]).mappings})
    except ConfigError as exc:
        return list(exc.problems)
    return []


# Intuit's own discovery documents name the same environments as the short names do.
_INTUIT_DISCOVERY = {
    "https://developer.intuit.com/.well-known/openid_sandbox_configuration": "sandbox",
    "https://developer.intuit.com/.well-known/openid_configuration": "production",
}


def _environment(name: str) -> str:
    plain = name.strip().rstrip("/")
    return _INTUIT_DISCOVERY.get(plain.lower(), plain if "://" in plain else plain.lower())


def same_place(one: str, other: str) -> bool:
    """Whether two environment names (short names or discovery URLs) are the same one."""
    return _environment(one) == _environment(other)


def same_environment(store: TokenStore, configured: str, config: Path) -> None:
    """The saved connection must be to the environment the firm config names: a firm moved
    to production by its config must not go on syncing the sandbox company, nor the reverse.
    A missing or unreadable connection is left to the client, which says so when used."""
    try:
        saved = store.load().environment
    except ReconnectRequired:
        return
    if not same_place(saved, configured):
        raise UsageError(
            f"the saved connection ({store.path}) is to {saved!r}; "
            f"the firm config says qbo.environment {configured!r}",
            hint=f"connect again with `tpsqbo-engine connect -c {config}`, "
            "or set qbo.environment to the one meant",
        )
