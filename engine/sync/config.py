"""The firm config (`tpsqbo.yaml`): loaded safely, checked against schemas/firm.schema.json,
then frozen. Relative paths are relative to the config file."""

from __future__ import annotations

import json
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
from tpsqbo_engine.ruleset.schema_check import check_with
from tpsqbo_engine.ruleset.source import load_file

CONFIG_FILE = "tpsqbo.yaml"


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


def load_config(path: Path) -> FirmConfig:
    if not path.is_file():
        raise UsageError(
            f"no firm config at {path}",
            hint=f"write a {CONFIG_FILE} (see examples/demo-firm/), or pass --config",
        )
    documents, problems = load_file(path)
    if not problems and len(documents) != 1:
        raise UsageError(f"{path} must hold exactly one YAML document")
    if not problems:
        problems = check_with(documents[0], _validator())
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
