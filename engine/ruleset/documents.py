"""Templates bound by declaration: what fills each context variable, and which files a
template may reach (the pack's templates through extends/include, images in `assets/`).

Both `validate` and the renderer read this module, so a variable that validates is one the
renderer can fill.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tpsqbo_engine import resources

ENGINE_TEMPLATES = "@templates/"
ASSETS_FOLDER = "assets"
MAX_ASSET_BYTES = 512 * 1024
ASSET_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/svg+xml", "image/webp"})
MAX_TEMPLATE_DEPTH = 8

# Scalar variables the engine fills for documents of an entity.
ENGINE_VARIABLES: Mapping[str, Mapping[str, str]] = {
    "tps.Invoice": {"payment_link": "string?", "qbo_invoice_id": "string?"},
}
FIRM = "tps.Firm"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def reference_field(entity: str) -> str:
    """The field naming a record of `entity`: tps.Client → client_id."""
    return f"{_snake(entity.split('.', 1)[1])}_id"


@dataclass(frozen=True)
class Binding:
    """How the engine fills a variable declared without a value."""

    how: str  # "record" | "firm" | "reference" | "engine"
    field: str = ""


def binding(
    for_entity: str, name: str, type_name: str, fields: Mapping[str, object]
) -> Binding | None:
    """What gives `name: type_name` its value in a document for `for_entity`, or None."""
    if type_name == for_entity:
        return Binding("record")
    if type_name == FIRM:
        return Binding("firm")
    if "." in type_name:
        ref = reference_field(type_name)
        return Binding("reference", ref) if ref in fields else None
    if name in ENGINE_VARIABLES.get(for_entity, {}):
        return Binding("engine")
    return None


def template_root(name: str, pack_root: Path) -> tuple[Path, Path]:
    """(the file, the folder it must stay inside) for a template name."""
    if name.startswith(ENGINE_TEMPLATES):
        root = resources.templates_dir().resolve()
        return (root / name.removeprefix(ENGINE_TEMPLATES)).resolve(), root
    return (pack_root / name).resolve(), pack_root.resolve()


def asset_names(pack_root: Path) -> list[str]:
    """The images a document of the pack may carry: files of the pack's assets/ folder that
    really are there (a shared pack could link `logo.png` to the firm's token file)."""
    return sorted(p.name for p in _asset_files(pack_root) if not _linked_out(p, pack_root))


def assets_linked_out(pack_root: Path) -> list[Path]:
    """The pack's assets/ images that are links to somewhere outside that folder: never read."""
    return sorted(p for p in _asset_files(pack_root) if _linked_out(p, pack_root))


def _linked_out(path: Path, pack_root: Path) -> bool:
    """Whether `path` (in assets/) leads outside the pack's assets/ folder, or that folder
    outside the pack."""
    folder = (pack_root / ASSETS_FOLDER).resolve()
    inside = folder.is_relative_to(pack_root.resolve()) and path.resolve().is_relative_to(folder)
    return not inside


def _asset_files(pack_root: Path) -> list[Path]:
    folder = pack_root / ASSETS_FOLDER
    if not folder.is_dir():
        return []
    return [
        p
        for p in folder.iterdir()
        if p.is_file() and mimetypes.guess_type(p.name)[0] in ASSET_TYPES
    ]


def asset_problem(path: Path) -> str:
    """Why an asset file cannot be used, or ""."""
    if path.stat().st_size > MAX_ASSET_BYTES:
        return f"over {MAX_ASSET_BYTES // 1024} KiB"
    return ""


def assets(pack_root: Path) -> dict[str, str]:
    """The pack's images as data: URIs, so a document carries its logo with it."""
    found: dict[str, str] = {}
    for name in asset_names(pack_root):
        path = pack_root / ASSETS_FOLDER / name
        if asset_problem(path):
            continue
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        found[name] = f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"
    return found
