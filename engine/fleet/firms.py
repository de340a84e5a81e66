"""A fleet is a list of firm configs: folders whose sub-folders each hold a `tpsqbo.yaml`
(each firm's state and tokens stay in its own folder), or the firm config files themselves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.sync.config import CONFIG_FILE


@dataclass(frozen=True)
class Firm:
    name: str
    config: Path


def _firm_of(path: Path) -> Firm:
    name = path.parent.name if path.name == CONFIG_FILE else path.stem
    return Firm(name, path.resolve())


def load_fleet(paths: Sequence[Path]) -> list[Firm]:
    if not paths:
        raise UsageError("no firms given", hint="give a fleet folder or firm config files")
    firms: list[Firm] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob(f"*/{CONFIG_FILE}"))
            if path.joinpath(CONFIG_FILE).is_file():
                found.insert(0, path / CONFIG_FILE)
            if not found:
                raise UsageError(
                    f"{path}: no firm configs in this folder",
                    hint=f"give each firm a sub-folder holding its {CONFIG_FILE}",
                )
            firms.extend(_firm_of(p) for p in found)
        elif path.is_file():
            firms.append(_firm_of(path))
        else:
            raise UsageError(f"{path}: no such file or folder", hint="check the fleet's paths")
    names: dict[str, Path] = {}
    for firm in firms:
        if firm.name in names and names[firm.name] != firm.config:
            raise UsageError(
                f"two firms are named {firm.name!r}: {names[firm.name]} and {firm.config}",
                hint="a firm is named by its folder (or file stem): rename one",
            )
        names[firm.name] = firm.config
    return list({f.config: f for f in firms}.values())
