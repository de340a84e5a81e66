"""What a pack does with what it builds on: the versions it requires (`requires.engine`,
`extends` ranges, its changelog) and the changes it makes to inherited documents
(`patches:`, `disable:`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tpsqbo_engine import __version__
from tpsqbo_engine.problems import Level
from tpsqbo_engine.ruleset.packs import PACK_FILE, Disabled, LoadedPacks, RuleDocument
from tpsqbo_engine.ruleset.patches import Patch, apply_patch, where
from tpsqbo_engine.ruleset.schema_check import check_document
from tpsqbo_engine.ruleset.source import load_file
from tpsqbo_engine.ruleset.typecheck import did_you_mean
from tpsqbo_engine.ruleset.versions import BadVersion, satisfies


def check_changelog(result: LoadedPacks, pack: RuleDocument, changelog: Path | None) -> None:
    """A pack that keeps a changelog says what changed in the version it declares."""
    version = str(pack.data.get("version", ""))
    if changelog is None or not version:
        return
    heading = re.compile(rf"(?m)^#+\s*\[?v?{re.escape(version)}\]?(\s|$)")
    if not heading.search(changelog.read_text(encoding="utf-8", errors="replace")):
        result.problems.append(
            pack.source.problem(
                "/version",
                "pack.changelog",
                f"{changelog.name} has no entry for version {version}",
                level=Level.WARNING,
                hint=f"add a heading '## {version}' saying what changed since the last version",
            )
        )


def check_engine(result: LoadedPacks, pack: RuleDocument) -> None:
    requires: dict[str, Any] = pack.data.get("requires") or {}  # type: ignore[assignment]
    wanted = requires.get("engine")
    if not isinstance(wanted, str):
        return
    try:
        fits = satisfies(__version__, wanted)
    except BadVersion as exc:
        result.problems.append(
            pack.source.problem("/requires/engine", "pack.bad-version", str(exc))
        )
        return
    if not fits:
        result.problems.append(
            pack.source.problem(
                "/requires/engine",
                "pack.engine-version",
                f"pack '{pack.id}' needs engine {wanted}; this is tpsqbo-engine {__version__}",
                hint="install an engine version the pack supports, or use a version of the pack "
                "made for this engine",
            )
        )


def version_fits(
    result: LoadedPacks, pack: RuleDocument, base: Path, constraint: str, pointer: str
) -> bool:
    version = _pack_version(base)
    try:
        fits = satisfies(version, constraint)
    except BadVersion as exc:
        result.problems.append(
            pack.source.problem(f"{pointer}/version", "pack.bad-version", str(exc))
        )
        return False
    if not fits:
        result.problems.append(
            pack.source.problem(
                f"{pointer}/version",
                "pack.version-mismatch",
                f"'{base.name}' is version {version}, which does not satisfy {constraint}",
                hint="install a version of that pack in the range, or widen the constraint "
                "(see its changelog for what changed)",
            )
        )
    return fits


def _pack_version(root: Path) -> str:
    sources, _ = load_file(root / PACK_FILE)
    data = sources[0].data if sources else {}
    return str(data.get("version", "0.0.0")) if isinstance(data, dict) else "0.0.0"


def _named(result: LoadedPacks, pack: RuleDocument, name: str, pointer: str) -> RuleDocument | None:
    """The effective document a patch or disable entry names: `id` or `kind/id`."""
    kind, _, ident = name.rpartition("/")
    found = [d for d in result.documents if d.id == ident and (not kind or d.kind == kind)]
    if len(found) == 1:
        return found[0]
    if not found:
        known = sorted({f"{d.kind}/{d.id}" for d in result.documents})
        by_id = did_you_mean(ident, [d.id for d in result.documents])
        result.problems.append(
            pack.source.problem(
                pointer,
                "pack.patch-unmatched",
                f"no inherited document '{name}'",
                hint=by_id or (f"documents: {', '.join(known[:12])}" if known else ""),
            )
        )
        return None
    kinds = ", ".join(f"{d.kind}/{d.id}" for d in found)
    result.problems.append(
        pack.source.problem(
            pointer,
            "pack.patch-ambiguous",
            f"'{name}' names several documents ({kinds})",
            hint="write kind/id, e.g. mapping/clients",
        )
    )
    return None


def patch(result: LoadedPacks, pack: RuleDocument) -> None:
    patches: list[dict[str, Any]] = pack.data.get("patches", [])  # type: ignore[assignment]
    for index, entry in enumerate(patches):
        pointer = f"/patches/{index}"
        target = _named(result, pack, str(entry["document"]), f"{pointer}/document")
        if target is None:
            continue
        patched, problems = apply_patch(target.source, Patch(pack.source, pointer, entry))
        result.problems.extend(problems)
        schema_problems = check_document(patched)
        result.problems.extend(schema_problems)
        replacement = RuleDocument(patched, target.pack_root, schema_valid=not schema_problems)
        result.documents = [replacement if d is target else d for d in result.documents]


def disable(result: LoadedPacks, pack: RuleDocument) -> None:
    names: list[str] = pack.data.get("disable", [])  # type: ignore[assignment]
    for index, name in enumerate(names):
        pointer = f"/disable/{index}"
        target = _named(result, pack, str(name), pointer)
        if target is None:
            continue
        display, at = where(pack.source, pointer)
        entities = tuple(
            str(target.data[k]) for k in ("source", "target", "entity") if k in target.data
        )
        result.disabled.append(
            Disabled(target.kind, target.id, pack.id, f"{display}:{at.line}", entities)
        )
        result.documents = [d for d in result.documents if d is not target]
