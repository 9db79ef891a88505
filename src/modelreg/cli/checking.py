"""Checking a registry and its files: validate, pull, compare."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from modelreg.api import (
        ValidationReport,
    )

from modelreg.cli.app import (
    Options,
    cli,
    complete_model,
    complete_ref,
    echo,
    emit_json,
    pass_options,
    progress_bar,
    table,
)


@cli.command()
@click.option(
    "--base", metavar="REV", help="Also check the change against this revision (e.g. origin/main)."
)
@click.option("--offline", is_flag=True, help="Do not look for artifacts in the DVC cache/remote.")
@click.option("--jobs", type=click.IntRange(min=1), help="Worker processes (default: CPUs).")
@click.option(
    "--no-cache",
    is_flag=True,
    help="Parse every file again instead of reusing unchanged ones (.git/modelreg).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--github",
    is_flag=True,
    help="In GitHub Actions: also print each finding as an annotation on its file and line, "
    "and add them to the job summary ($GITHUB_STEP_SUMMARY).",
)
@pass_options
@click.pass_context
def validate(
    ctx: click.Context,
    options: Options,
    base: str | None,
    offline: bool,
    jobs: int | None,
    no_cache: bool,
    as_json: bool,
    github: bool,
) -> None:
    """Check every registry file against the schemas and the registry's rules.

    Files that passed parsing and their schema before are remembered by content
    under .git/modelreg/, so an unchanged file is not parsed again; an edited
    file never matches and is checked in full.
    """
    from modelreg.api import validate as run_validation

    if as_json and github:
        raise click.UsageError("--json and --github are two formats: give one")
    report = run_validation(options.repo, base=base, offline=offline, jobs=jobs, cache=not no_cache)
    if as_json:
        emit_json(report.to_json())
    else:
        scope = "the change is" if report.scope == "changed" else "the registry is"
        counts = (
            f"{len(report.errors)} errors, {len(report.warnings)} warnings in "
            f"{report.files_checked} files"
        )
        verdict = f"ok: {scope} valid ({counts})" if report.ok else f"invalid: {counts}"
        if github:
            _validate_for_github(report, verdict)
        else:
            for finding in report.findings:
                echo(finding.render())
            echo(verdict)
    if not report.ok:
        ctx.exit(1)


def _validate_for_github(report: ValidationReport, verdict: str) -> None:
    """The findings as text (read by no runner as a command: they quote pull request
    text), then as annotations, and as a table in the job summary."""
    from modelreg.validation.annotations import annotation, command_pause, findings_summary

    pause, resume = command_pause()
    echo(pause)
    for finding in report.findings:
        echo(finding.render())
    echo(resume)
    for finding in report.findings:
        echo(annotation(finding))
    echo(verdict)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary and report.findings:  # a clean change: the report step's summary says so
        with Path(summary).open("a", encoding="utf-8") as out:
            out.write(findings_summary(report.findings, verdict))


@cli.command()
@click.argument("ref", shell_complete=complete_ref)
@click.option("--remote", metavar="NAME", help="The DVC remote to fetch from (default: DVC's).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def pull(options: Options, ref: str, remote: str | None, as_json: bool) -> None:
    """Fetch one version's artifacts by hash into the working tree, verified.

    Objects come from the DVC cache or the remote by the md5 the version records, so
    no old revision is checked out. Nothing in the working tree changes unless every
    object of the version is present and verified.
    """
    from modelreg.api import pull as pull_version

    with options.registry() as registry:
        version = registry.resolve(ref).version
        with progress_bar(transfer=True) as progress:
            result = pull_version(registry.root, version, remote=remote, progress=progress)
    if as_json:
        emit_json(result.to_json())
        return
    echo(f"{result.ref}: {len(result.artifacts)} artifacts, verified by md5")
    table(
        None,
        ["artifact", "path", "md5", "size", "from"],
        [
            [p.artifact.name, str(p.location), p.artifact.md5, f"{p.artifact.size:,}", p.source]
            for p in result.artifacts
        ],
    )


@cli.command()
@click.argument("name", shell_complete=complete_model)
@click.argument("versions", nargs=-1, required=True)
@click.option("--all", "everything", is_flag=True, help="Include per-class metrics.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--markdown", is_flag=True, help="Print a Markdown table (for pull requests).")
@pass_options
def compare(
    options: Options,
    name: str,
    versions: tuple[str, ...],
    everything: bool,
    as_json: bool,
    markdown: bool,
) -> None:
    """Compare versions of model NAME side by side; the first is the baseline.

    VERSIONS are numbers, 'latest', stages or aliases (e.g. production 4 5).
    Shows every metric with its change against the baseline (the best value
    marked *), the params that differ, artifact sizes and lineage.
    """
    from modelreg.api import compare_versions, render_markdown
    from modelreg.reporting.compare import table_rows

    if as_json and markdown:
        raise click.UsageError("give --json or --markdown, not both")
    if len(versions) < 2:
        raise click.UsageError("name at least two versions to compare, e.g. 'compare NAME 1 2'")
    with options.registry() as registry:
        comparison = compare_versions(registry, name, versions)
    if as_json:
        emit_json(comparison.to_json())
    elif markdown:
        echo(render_markdown(comparison, everything=everything), nl=False)
    else:
        table(
            f"{comparison.model}: changes against {comparison.refs[0]}, best value marked *",
            ["", "", *comparison.refs],
            table_rows(comparison, everything=everything),
        )
        notes = (
            [f"{comparison.hidden} per-class metrics hidden (--all shows them)"]
            if comparison.hidden and not everything
            else []
        )
        if comparison.same_params:
            notes.append(f"{comparison.same_params} params equal in every version")
        if comparison.score:
            notes.append(f"score: {comparison.score}; rank 1 is the highest")
        if notes:
            echo("; ".join(notes))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@pass_options
def doctor(options: Options, ctx: click.Context, as_json: bool) -> None:
    """Check that this machine and repository are ready: git, the registry, DVC and its
    remote, commit signing, a GitHub token (who it acts as, its scopes) and which
    extras are installed. One line a check; exits 1 if any check fails."""
    from modelreg.api import diagnose

    found = diagnose(options.repo)
    if as_json:
        emit_json(found.to_json())
    else:
        for check in found.checks:
            label = {"ok": "ok", "warn": "warn", "fail": "FAIL"}[check.status]
            echo(f"{label:<5} {check.name:<11} {check.detail}")
    if not found.ok:
        ctx.exit(1)
