"""`tpsqbo-engine test [PACK]`: run a pack's own test cases offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.packtest import as_json, as_junit, case_files, run_pack_tests
from tpsqbo_engine.problems import REPORTERS
from tpsqbo_engine.ruleset.model import build_ruleset
from tpsqbo_engine.ruleset.shapes import schema_folders
from tpsqbo_engine.ruleset.validate import default_pack_root, pack_roots, validate_pack

OUTPUTS = ("text", "json", "junit")


def test(
    pack: Annotated[
        Path | None,
        typer.Argument(
            help="The pack folder. Default: ./rules if it is a pack, else the standard."
        ),
    ] = None,
    update: Annotated[
        bool,
        typer.Option("--update", help="Accept what the rules plan now as each case's expect:."),
    ] = False,
    output: Annotated[str, typer.Option("--format", "-f", help="text, json or junit.")] = "text",
) -> None:
    """Run the pack's test cases (tests/*.yaml): records in, the planned writes and exclusions
    compared with each case's `expect:`. Exit 1 on any difference."""
    if output not in OUTPUTS:
        raise UsageError(f"--format is one of {', '.join(OUTPUTS)}, not {output!r}")
    (root,) = pack_roots([pack]) if pack is not None else (default_pack_root(),)
    loaded = validate_pack(root)
    errors = [p for p in loaded.problems if p.is_error]
    if errors:
        typer.echo(REPORTERS["text"](errors))
        typer.echo("the pack has errors: its tests cannot run", err=True)
        raise typer.Exit(1)
    if not case_files(root):
        raise UsageError(
            f"no test cases in {root / 'tests'}",
            hint="add tests/<case>.yaml (see docs/rules.md#testing-a-pack), or run "
            "`tpsqbo-engine init` for a first one",
        )
    rules = build_ruleset(
        loaded.pack, loaded.documents, tuple(loaded.disabled), schema_folders(loaded.loaded)
    )
    results = run_pack_tests(root, rules, update=update)
    if output == "json":
        typer.echo(as_json(results))
    elif output == "junit":
        typer.echo(as_junit(results, loaded.pack.id if loaded.pack else root.name))
    else:
        for result in results:
            status = "updated" if result.updated else ("ok" if result.passed else "FAILED")
            typer.echo(f"{status:8} {result.name}")
            if not result.passed:
                for line in result.diff():
                    typer.echo(f"    {line}")
        failed = sum(1 for r in results if not r.passed)
        typer.echo(f"{len(results)} case(s), {failed} failed")
    raise typer.Exit(1 if any(not r.passed for r in results) else 0)


def register(app: typer.Typer) -> None:
    app.command()(test)
