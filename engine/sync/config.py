"""The firm config (`tpsqbo.yaml`): loaded safely, checked against schemas/firm.schema.json,
then frozen. Relative paths are relative to the config file."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jsonschema import Draft202012Validator

from tpsqbo_engine import resources
from tpsqbo_engine.connectors.qbo.connect import CLIENT_SECRET_ENV
from tpsqbo_engine.connectors.tps import sheetio
from tpsqbo_engine.connectors.tps.client import TOKEN_ENV
from tpsqbo_engine.errors import ConfigError, UsageError
from tpsqbo_engine.private import set_crash_folder
from tpsqbo_engine.problems import Problem
from tpsqbo_engine.ruleset.checking import did_you_mean
from tpsqbo_engine.ruleset.schema_check import check_with
from tpsqbo_engine.ruleset.source import SourceDocument, load_file

CONFIG_FILE = "tpsqbo.yaml"
ENVIRONMENTS = ("sandbox", "production")


@dataclass(frozen=True)
class TpsSettings:
    connection: str
    base_url: str = ""
    token_env: str = TOKEN_ENV
    paths: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    folder: Path | None = None
    encoding: str = ""  # of the sheets (files); "" detects


@dataclass(frozen=True)
class QboSettings:
    environment: str
    token_file: Path
    client_secret_env: str = CLIENT_SECRET_ENV
    limits: str = "real"


@dataclass(frozen=True)
class FirmConfig:
    path: Path
    firm: str
    rules: tuple[Path, ...]
    tps: TpsSettings
    qbo: QboSettings
    state: Path
    pins: Path
    workdir: Path


def _validator() -> Draft202012Validator:
    schema = json.loads((resources.schemas_dir() / "firm.schema.json").read_text())
    return Draft202012Validator(schema)


def _rule_path(base: Path, name: str) -> Path:
    from tpsqbo_engine.ruleset.packs import installed_packs

    packs = installed_packs()
    return packs[name] if name in packs and not (base / name).exists() else base / name


def _encoding(path: Path, name: str) -> str:
    try:
        return sheetio.known(name)
    except ValueError:
        raise UsageError(
            f"{path.name}: tps.encoding: Python knows no encoding {name!r}",
            hint="use utf-8, utf-16, cp1252 (Windows) or latin-1; leave it out to detect",
        ) from None


def limits_problem(spec: str) -> str:
    """Why `spec` is not a pacing the client can keep, or "": the schema's pattern cannot say
    that scale=0 would divide by zero or that scale=1x is not a number."""
    from tpsqbo_engine.connectors.qbo.limits import Limits

    try:
        Limits.parse(spec)
    except ValueError as exc:
        return str(exc)
    return ""


def _value_problems(document: SourceDocument) -> list[Problem]:
    """What the schema accepts but the engine cannot use, located at the field."""
    qbo = document.data["qbo"]
    problems = []
    problem = limits_problem(qbo.get("limits", "real"))
    if problem:
        problems.append(
            document.problem(
                "/qbo/limits",
                "config.bad-limits",
                problem,
                hint="real, off, or scale=N[,minute=N,second=N,batch=N], e.g. scale=2",
            )
        )
    environment = qbo["environment"]
    if environment not in ENVIRONMENTS and not re.match(r"^https?://[^\s/]+", environment):
        problems.append(
            document.problem(
                "/qbo/environment",
                "config.bad-environment",
                f"qbo.environment {environment!r} is not sandbox, production or a URL",
                hint=did_you_mean(environment, ENVIRONMENTS)
                or "sandbox, production, or the OAuth discovery URL of an emulator",
            )
        )
    return problems


def load_config(path: Path) -> FirmConfig:
    if not path.is_file():
        raise UsageError(
            f"no firm config at {path}",
            hint=f"`tpsqbo-engine init` writes a {CONFIG_FILE} to fill in, or pass --config",
        )
    documents, problems = load_file(path)
    if not problems and len(documents) != 1:
        raise UsageError(f"{path} must hold exactly one YAML document")
    if not problems:
        problems = check_with(documents[0], _validator()) or _value_problems(documents[0])
    if problems:
        raise ConfigError(problems)
    data: dict[str, Any] = documents[0].data
    base = path.resolve().parent
    tps, qbo = data["tps"], data["qbo"]
    workdir = base / data.get("workdir", ".tpsqbo")
    state = base / data.get("state", ".tpsqbo/state.db")
    set_crash_folder(state.parent)
    return FirmConfig(
        path=path.resolve(),
        firm=data["firm"],
        rules=tuple(_rule_path(base, r) for r in data.get("rules", ["rules"])),
        tps=TpsSettings(
            tps["connection"],
            tps.get("base_url", ""),
            tps.get("token_env", TOKEN_ENV),
            MappingProxyType(dict(tps.get("paths", {}))),
            MappingProxyType(dict(tps.get("fields", {}))),
            base / tps["folder"] if "folder" in tps else None,
            _encoding(path, tps.get("encoding", "")),
        ),
        qbo=QboSettings(
            qbo["environment"],
            base / qbo.get("token_file", ".tpsqbo/qbo-tokens.json"),
            qbo.get("client_secret_env", CLIENT_SECRET_ENV),
            qbo.get("limits", "real"),
        ),
        state=state,
        pins=base / data.get("pins", "pins.yaml"),
        workdir=workdir,
    )
