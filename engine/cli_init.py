"""`tpsqbo-engine init [DIR]`: scaffold a firm's folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def init(
    folder: Annotated[Path, typer.Argument(help="Where to create the firm's files.")] = Path(),
    name: Annotated[str, typer.Option(help="The firm's name.")] = "My Firm CPA",
) -> None:
    """Create a firm: tpsqbo.yaml, a rule pack extending the standard one, a test case and
    the CI workflow that validates and tests the pack. Existing files are never overwritten."""
    from tpsqbo_engine.scaffold import init_firm

    made = init_firm(folder, name)
    for path in made.written:
        typer.echo(f"wrote {path}")
    typer.echo(
        "next: edit tpsqbo.yaml (TPS endpoint, QBO environment), "
        f"`tpsqbo-engine connect -c {folder / 'tpsqbo.yaml'}`, "
        f"then `tpsqbo-engine validate {folder / 'rules'}` and `tpsqbo-engine test "
        f"{folder / 'rules'}`"
    )


def register(app: typer.Typer) -> None:
    app.command()(init)
