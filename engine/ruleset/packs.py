"""Rule packs: find their files, resolve `extends`, and merge documents by kind and id.

A pack is a folder with `pack.yaml` at its root; every other `*.yaml`/`*.yml` below it is a
rule document, except inside sub-folders that are packs themselves (vendored packs, which
are reached only through `extends`). `extends` names an installed pack or a folder inside
this pack: rule packs are shared between firms, so a pack can never point outside itself.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from tpsqbo_engine import resources
from tpsqbo_engine.problems import Problem
from tpsqbo_engine.ruleset.schema_check import check_document
from tpsqbo_engine.ruleset.source import (
    SourceDocument,
    display_path,
    folders_linked_out,
    load_file,
)

PACK_FILE = "pack.yaml"
# A pack's own test cases (`tpsqbo-engine test`) live here; they are not rule documents.
TESTS_FOLDER = "tests"
STANDARD_PACK = "tps-qbo-standard"
ENTRY_POINT_GROUP = "tpsqbo_engine.packs"


@dataclass(frozen=True)
class RuleDocument:
    """A schema-valid rule document and the pack folder it belongs to."""

    source: SourceDocument
    pack_root: Path
    # A document that failed its schema still names its kind and id, so references to it
    # resolve and one mistake does not cascade into "no mapping 'clients'" everywhere.
    schema_valid: bool = True

    @property
    def kind(self) -> str:
        return str(self.source.data["kind"])

    @property
    def id(self) -> str:
        return str(self.source.data["id"])

    @property
    def data(self) -> dict[str, object]:
        data: dict[str, object] = self.source.data
        return data


@dataclass(frozen=True)
class PackInfo:
    """One pack of the resolved chain: what `pack info` shows."""

    id: str
    version: str
    root: Path
    source: str  # how it was found: the pack itself, a folder, an installed pack
    depth: int
    changelog: Path | None = None


@dataclass(frozen=True)
class Disabled:
    """An inherited document a pack took out with `disable:`."""

    kind: str
    id: str
    by: str  # the pack that disabled it
    where: str  # file:line of the disable entry
    entities: tuple[str, ...] = ()  # a mapping's source and target

    def describe(self) -> str:
        return f"{self.kind} '{self.id}' is disabled by pack {self.by} ({self.where})"


@dataclass
class LoadedPacks:
    """The effective documents of a pack after `extends`, and every problem met on the way."""

    root: Path
    documents: list[RuleDocument] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    pack: RuleDocument | None = None
    loaded: set[Path] = field(default_factory=set)
    chain: list[PackInfo] = field(default_factory=list)
    disabled: list[Disabled] = field(default_factory=list)


def _entry_point_folder(entry: EntryPoint) -> Path | None:
    """`package` is that package's folder; `package:sub/folder` a folder inside it. Found
    through the import system, so it works from any working directory."""
    module, _, inner = entry.value.partition(":")
    try:
        spec = importlib.util.find_spec(module.strip())
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        base = Path(next(iter(spec.submodule_search_locations)))
    elif spec.origin:
        base = Path(spec.origin).parent
    else:
        return None
    return (base / inner.strip()).resolve() if inner.strip() else base.resolve()


def installed_packs() -> dict[str, Path]:
    """Pack name → folder, for every installed pack."""
    return {name: folder for name, (folder, _) in installed_pack_sources().items()}


def installed_pack_sources() -> dict[str, tuple[Path, str]]:
    """Pack name → (folder, where it came from)."""
    packs = {STANDARD_PACK: (resources.rules_dir(), "shipped with the engine")}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        folder = _entry_point_folder(entry)
        if folder is not None:
            dist = entry.dist.name if entry.dist is not None else "?"
            packs.setdefault(entry.name, (folder, f"installed ({dist}, entry point {entry.value})"))
    return packs


def changelog_of(root: Path) -> Path | None:
    for name in ("CHANGELOG.md", "CHANGELOG.txt", "CHANGELOG"):
        if (root / name).is_file():
            return root / name
    return None


def find_pack_root(path: Path) -> Path | None:
    """The nearest folder at or above `path` that holds a pack.yaml."""
    start = path if path.is_dir() else path.parent
    for folder in [start, *start.parents]:
        if (folder / PACK_FILE).is_file():
            return folder
    return None


def pack_files(root: Path) -> Iterator[Path]:
    tests = root / TESTS_FOLDER
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            continue
        if path.is_relative_to(tests):
            continue
        if any((parent / PACK_FILE).is_file() for parent in _folders_between(root, path)):
            continue  # belongs to a vendored pack inside this one
        yield path


def cases_linked_out(root: Path) -> list[Problem]:
    """The pack's test cases that are links to somewhere outside it (`test` neither reads nor
    writes them), reported here since the pack's loading skips tests/."""
    inside, tests = root.resolve(), root / TESTS_FOLDER
    if not tests.is_dir() or not tests.resolve().is_relative_to(inside):
        return []  # no cases, or the folder itself leads out (folders_linked_out says so)
    return [
        Problem(
            display_path(path),
            1,
            1,
            "pack.symlink-escape",
            "this test case is a link to somewhere outside the pack's folder",
            hint="copy the case into the pack's tests/ folder instead of linking to it",
        )
        for path in sorted(tests.glob("*.y*ml"))
        if not path.resolve().is_relative_to(inside)
    ]


def _folders_between(root: Path, path: Path) -> Iterable[Path]:
    folder = path.parent
    while folder != root and root in folder.parents:
        yield folder
        folder = folder.parent


def load_pack(root: Path) -> LoadedPacks:
    result = LoadedPacks(root)
    _load_into(result, root.resolve(), chain=(), source="this pack")
    return result


def _load_into(result: LoadedPacks, root: Path, chain: tuple[Path, ...], source: str) -> None:

    if root in result.loaded:
        return  # reached twice through extends (a diamond): its documents are already in
    result.loaded.add(root)
    own, pack = _load_own(result, root)
    if chain == ():
        result.pack = pack
    if pack is not None:
        result.chain.append(
            PackInfo(
                pack.id,
                str(pack.data.get("version", "")),
                root,
                source,
                len(chain),
                changelog_of(root),
            )
        )
        inherit.check_engine(result, pack)
        inherit.check_changelog(result, pack, changelog_of(root))
        for base, how in _extends(result, pack, (*chain, root)):
            _load_into(result, base, (*chain, root), how)
    _override(result, own)
    if pack is not None and pack.schema_valid:
        inherit.patch(result, pack)
        inherit.disable(result, pack)


def _load_own(result: LoadedPacks, root: Path) -> tuple[list[RuleDocument], RuleDocument | None]:
    documents: list[RuleDocument] = []
    result.problems.extend(folders_linked_out(root))
    result.problems.extend(cases_linked_out(root))
    for path in pack_files(root):
        sources, problems = load_file(path, root)
        result.problems.extend(problems)
        if problems:
            documents.extend(_declared_ids(path, root))
        for source in sources:
            schema_problems = check_document(source)
            result.problems.extend(schema_problems)
            if not schema_problems:
                documents.append(RuleDocument(source, root))
            elif _names_itself(source.data):
                documents.append(RuleDocument(source, root, schema_valid=False))
    packs = [d for d in documents if d.kind == "pack"]
    if not (root / PACK_FILE).is_file():
        result.problems.append(
            Problem(
                display_path(root),
                1,
                1,
                "pack.missing",
                f"no {PACK_FILE} in this folder",
                hint="add pack.yaml with kind: pack, id and version",
            )
        )
    for extra in packs[1:]:
        result.problems.append(
            extra.source.problem(
                "/kind",
                "pack.duplicate",
                "a pack has exactly one pack document",
                hint=f"keep the one in {PACK_FILE}",
            )
        )
    _report_duplicate_ids(result, documents)
    return [d for d in documents if d.kind != "pack"], (packs[0] if packs else None)


_TOP_LEVEL = re.compile(r"^(kind|id):[ \t]*['\"]?([\w.-]+)['\"]?[ \t]*(#.*)?$")


def _declared_ids(path: Path, root: Path) -> Iterator[RuleDocument]:
    """Kinds and ids of a file that does not parse, read line by line, so the rest of the
    pack can still refer to them; the file's own problems are already reported."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    for section in re.split(r"(?m)^---", text):
        found: dict[str, str] = {}
        for line in section.splitlines():
            if match := _TOP_LEVEL.match(line):
                found[match.group(1)] = match.group(2)
        if "kind" in found and "id" in found:
            source = SourceDocument(path, display_path(path), found, {}, {})
            yield RuleDocument(source, root, schema_valid=False)


def _names_itself(data: object) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("kind"), str)
        and isinstance(data.get("id"), str)
    )


def _report_duplicate_ids(result: LoadedPacks, documents: list[RuleDocument]) -> None:
    seen: dict[tuple[str, str], RuleDocument] = {}
    for doc in documents:
        first = seen.setdefault((doc.kind, doc.id), doc)
        if first is not doc:
            at = first.source.locate("/id")
            result.problems.append(
                doc.source.problem(
                    "/id",
                    "rules.duplicate-id",
                    f"another {doc.kind} already has the id '{doc.id}'",
                    hint=f"first defined at {first.source.display}:{at.line}; ids are unique per "
                    "kind within a pack (an extending pack may override by id)",
                )
            )


def _extends(
    result: LoadedPacks, pack: RuleDocument, chain: tuple[Path, ...]
) -> Iterator[tuple[Path, str]]:
    for index, entry in enumerate(pack.source.data.get("extends", [])):
        pointer = f"/extends/{index}"
        name = str(entry["pack"] if isinstance(entry, dict) else entry)
        if isinstance(entry, dict):
            pointer = f"{pointer}/pack"
        found = _resolve_extends(result, pack, name, pointer)
        if found is None:
            continue
        base, how = found
        constraint = entry.get("version") if isinstance(entry, dict) else None
        if constraint is not None:
            # Reported, and loaded all the same: the rest of the pack is still checked
            # against what is installed rather than drowning in "no document" problems.
            inherit.version_fits(result, pack, base, str(constraint), f"/extends/{index}")
        if base in chain:
            cycle = " → ".join(p.name for p in (*chain[chain.index(base) :], base))
            result.problems.append(
                pack.source.problem(
                    pointer,
                    "pack.extends-cycle",
                    f"packs extend each other in a cycle: {cycle}",
                    hint="remove one of the extends entries",
                )
            )
            continue
        yield base, how


def _resolve_extends(
    result: LoadedPacks, pack: RuleDocument, name: str, pointer: str
) -> tuple[Path, str] | None:
    if name.startswith(".") or "/" in name or "\\" in name:
        base = (pack.pack_root / name).resolve()
        if not base.is_relative_to(pack.pack_root):
            result.problems.append(
                pack.source.problem(
                    pointer,
                    "pack.path-escape",
                    f"'{name}' points outside the pack's folder",
                    hint="vendor the pack into this folder, or install it and extend it by name",
                )
            )
            return None
        how = f"folder {name}"
    else:
        known = installed_pack_sources()
        if name not in known:
            result.problems.append(
                pack.source.problem(
                    pointer,
                    "pack.unknown-extends",
                    f"no installed pack named '{name}'",
                    hint=f"installed packs: {', '.join(sorted(known))}",
                )
            )
            return None
        base, how = known[name][0].resolve(), known[name][1]
    if not (base / PACK_FILE).is_file():
        result.problems.append(
            pack.source.problem(
                pointer,
                "pack.extends-not-found",
                f"'{name}' has no {PACK_FILE}",
                hint="extends names a pack folder (one with pack.yaml) or an installed pack",
            )
        )
        return None
    return base, how


def _override(result: LoadedPacks, own: list[RuleDocument]) -> None:
    replaced = {(d.kind, d.id) for d in own}
    result.documents = [d for d in result.documents if (d.kind, d.id) not in replaced] + own


from tpsqbo_engine.ruleset import inherit  # noqa: E402 - it builds on this module's types
