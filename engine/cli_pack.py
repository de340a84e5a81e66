"""`tpsqbo-engine pack info`: the resolved chain of packs with versions and sources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.ruleset.packs import LoadedPacks
from tpsqbo_engine.ruleset.validate import default_pack_root, pack_roots, validate_pack

pack_app = typer.Typer(help="Rule packs: what a pack is built from.", no_args_is_help=True)


def _summary(loaded: LoadedPacks) -> dict[str, object]:
    return {
        "chain": [
            {
                "id": info.id,
                "version": info.version,
                "folder": str(info.root),
                "source": info.source,
                "depth": info.depth,
                "changelog": str(info.changelog) if info.changelog else None,
            }
            for info in loaded.chain
        ],
        "documents": sorted(f"{d.kind}/{d.id}" for d in loaded.documents),
        "disabled": [d.describe() for d in loaded.disabled],
        "problems": len(loaded.problems),
    }


@pack_app.command("info")
def info(
    path: Annotated[
        Path | None, typer.Argument(help="The pack folder. Default: ./rules, else the standard.")
    ] = None,
    output: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
) -> None:
    """Show the pack, the packs it extends (with versions and where each was found), the
    documents in effect and what was disabled."""
    if output not in ("text", "json"):
        raise UsageError(f"--format is text or json, not {output!r}")
    (root,) = pack_roots([path]) if path is not None else (default_pack_root(),)
    loaded = validate_pack(root)
    summary = _summary(loaded)
    if output == "json":
        typer.echo(json.dumps(summary, indent=2))
        raise typer.Exit(1 if loaded.problems else 0)
    for pack in loaded.chain:
        indent = "  " * pack.depth
        note = f"  changelog: {pack.changelog.name}" if pack.changelog else ""
        typer.echo(f"{indent}{pack.id} {pack.version}  {pack.root}  ({pack.source}){note}")
    typer.echo(f"{len(loaded.documents)} documents in effect")
    for line in summary["disabled"]:  # type: ignore[attr-defined]
        typer.echo(f"disabled: {line}")
    if loaded.problems:
        typer.echo(f"{len(loaded.problems)} problem(s): run `tpsqbo-engine validate {root}`")
    raise typer.Exit(1 if loaded.problems else 0)


def register(app: typer.Typer) -> None:
    app.add_typer(pack_app, name="pack")
