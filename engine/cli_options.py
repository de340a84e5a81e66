"""What the firm commands share: the firm config and output format options, and opening a
firm's Session from its config."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tpsqbo_engine.errors import UsageError

if TYPE_CHECKING:
    from tpsqbo_engine.sync.session import Session

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The firm config.")]
FormatOption = Annotated[str, typer.Option("--format", "-f", help="text or json.")]


def output_format(value: str) -> str:
    """`--format` as typed: text or json, anything else a usage error."""
    if value not in ("text", "json"):
        raise UsageError(f"--format is text or json, not {value!r}")
    return value


def open_session(config: Path) -> Session:
    from tpsqbo_engine.sync.config import load_config
    from tpsqbo_engine.sync.session import Session

    return Session(load_config(config))


def check_named(session: Session, records: list[str]) -> None:
    """Record names the user typed: a typo is refused, not acted on as nothing."""
    from tpsqbo_engine.sync.records import check_records

    for warning in check_records(session, records):
        typer.echo(f"warning: {warning}", err=True)


def echo_lines(lines: list[str]) -> None:
    for line in lines:
        typer.echo(line)
