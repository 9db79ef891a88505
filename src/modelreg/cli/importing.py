"""Bringing another registry's state over: import-gto."""

from __future__ import annotations

from pathlib import Path

import click

from modelreg.cli.app import Options, cli, echo, emit_json, pass_options, terminal_progress


@cli.command("import-gto")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--model", "models", multiple=True, metavar="NAME", help="Import only this model; repeat it."
)
@click.option("--no-push", is_flag=True, help="Do not upload the artifacts to the DVC remote.")
@click.option(
    "--dry-run", is_flag=True, help="Read and check everything; write nothing, say what would be."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def import_gto_command(
    options: Options,
    source: Path,
    models: tuple[str, ...],
    no_push: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Import the GTO registry in the git repository SOURCE (its tags).

    Versions are numbered in semantic-version order, each from the file
    artifacts.yaml names at its commit (stored in git, or in SOURCE's DVC cache),
    keeping the GTO version in the tag gto.version. Stage assignments,
    unassignments and deprecations are replayed in GTO's order, one commit per
    stage change by the tag's tagger at its date, so 'modelreg history' lists
    them as 'gto history' does and 'show NAME@STAGE' answers what 'gto show
    NAME#STAGE' does. Each model lands as one transaction; every model is
    checked before any is written. GTO stages must be declared in registry.yaml;
    a model already imported is skipped, any other existing one refused.
    """
    from modelreg.api import import_gto

    result = import_gto(
        source,
        repo=options.repo,
        models=models,
        push=not no_push,
        dry_run=dry_run,
        progress=terminal_progress(),
    )
    if as_json:
        emit_json(result.to_json())
        return
    for done in result.models:
        plural = "s" if len(done.versions) != 1 else ""
        stages = ", ".join(f"{s} v{v}" for s, v in done.stages.items()) or "no stage"
        changes = "s" if done.stage_changes != 1 else ""
        what = f"{len(done.versions)} version{plural}, {done.stage_changes} stage change{changes}"
        if done.state == "unchanged":
            echo(f"{done.name}: already imported ({what}), nothing to do")
        elif done.state == "planned":
            echo(f"{done.name}: would import {what}; {stages}")
        else:
            commit = done.commit[:12] if done.commit else "-"
            echo(f"{done.name}: {what}; {stages}; committed {commit}")
        if done.deprecated and done.state != "unchanged":
            echo(f"  deprecated: {', '.join(done.deprecated)}")
    for tag, why in result.ignored:
        echo(f"ignored {tag}: {why}")
