"""`tpsqbo-engine render record ENTITY:ID --template ID`: a document for any TPS record its
template is `for:` (a client letter, a statement), beside `render invoice`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.sync.config import CONFIG_FILE


def render_record_command(
    record: Annotated[str, typer.Argument(help="The record, e.g. tps.Client:c-1001.")],
    template: Annotated[str, typer.Option(help="Template id from the pack.")],
    out: Annotated[Path | None, typer.Option(help="Write here instead of printing.")] = None,
    config: Annotated[Path, typer.Option("--config", "-c", help="The firm config.")] = Path(
        CONFIG_FILE
    ),
) -> None:
    """Render a TPS record with a template whose `for:` is the record's entity."""
    from tpsqbo_engine.sync.bindings import render_record
    from tpsqbo_engine.sync.config import load_config
    from tpsqbo_engine.sync.session import Session

    qualified, _, ident = record.partition(":")
    if not ident:
        raise UsageError(f"{record!r} is not ENTITY:ID", hint="e.g. tps.Client:c-1001")
    session = Session(load_config(config))
    chosen = session.rules.templates.get(template)
    if chosen is None or chosen.for_entity != qualified:
        fitting = [t.id for t in session.rules.templates.values() if t.for_entity == qualified]
        raise UsageError(
            f"the pack has no template '{template}' for {qualified}",
            hint=f"templates for {qualified}: {', '.join(fitting) or 'none'}",
        )
    text = render_record(session, chosen, ident)
    if out is None:
        typer.echo(text)
        return
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out}")


def register(render_app: typer.Typer) -> None:
    render_app.command("record")(render_record_command)
