"""Validation of rule packs, layers 1 to 3 (YAML and safety, JSON Schema, meaning)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tpsqbo_engine import resources
from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.problems import Problem
from tpsqbo_engine.ruleset.pack_schemas import schema_problems
from tpsqbo_engine.ruleset.packs import PACK_FILE, LoadedPacks, find_pack_root, load_pack
from tpsqbo_engine.ruleset.semantics import check_semantics
from tpsqbo_engine.ruleset.shapes import entity_catalog, schema_folders


@dataclass(frozen=True)
class Validation:
    packs: tuple[LoadedPacks, ...]
    problems: tuple[Problem, ...]


def default_pack_root(cwd: Path | None = None) -> Path:
    """`./rules` when the working directory holds a pack there, else the shipped pack."""
    local = (cwd or Path.cwd()) / "rules"
    return local if (local / PACK_FILE).is_file() else resources.rules_dir()


def pack_roots(paths: Iterable[Path]) -> list[Path]:
    roots: dict[Path, None] = {}
    for path in paths:
        if not path.exists():
            raise UsageError(
                f"no such file or folder: {path}",
                hint="give the folder of a rule pack (the one with pack.yaml)",
            )
        root = find_pack_root(path) or (path if path.is_dir() else path.parent)
        roots[root.resolve()] = None
    return list(roots)


def validate_pack(root: Path) -> LoadedPacks:
    loaded = load_pack(root)
    folders = schema_folders(loaded.loaded)
    problems = schema_problems(folders)
    loaded.problems.extend(problems)
    catalog = entity_catalog(None, () if problems else folders)
    loaded.problems.extend(check_semantics(loaded.documents, catalog))
    return loaded


def validate_paths(paths: Sequence[Path]) -> Validation:
    roots = pack_roots(paths) if paths else [default_pack_root()]
    packs = tuple(validate_pack(root) for root in roots)
    problems = sorted({p for pack in packs for p in pack.problems})
    return Validation(packs, tuple(problems))
