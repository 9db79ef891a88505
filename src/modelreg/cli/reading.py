"""Reading the registry: list, versions, show, resolve, history, diff, report, dashboard."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from modelreg.api import (
        ModelView,
        VersionView,
    )

from modelreg.cli.app import (
    Options,
    cli,
    complete_model,
    complete_ref,
    complete_stage,
    date_text,
    echo,
    emit_json,
    first_line,
    flat,
    metric_text,
    pass_options,
    status_text,
    table,
)


@cli.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def list_models(options: Options, as_json: bool) -> None:
    """List the registry's models with their stages."""
    from modelreg.api import list_models as models_of

    found = models_of(options.repo)
    if as_json:
        emit_json(found.to_json())
        return
    if not found.models:
        echo("no models registered yet; add one with 'modelreg register NAME --weights FILE'")
        return
    stages = found.stages
    rows = [
        [e.model.name, str(len(e.versions)), str(e.versions[-1]) if e.versions else "-"]
        + [str(e.stages[s].version) if s in e.stages else "-" for s in stages]
        + [("(deleted) " if e.model.deleted else "") + first_line(e.model.description, 50)]
        for e in found.models
    ]
    table(None, ["MODEL", "VERSIONS", "LATEST", *[s.upper() for s in stages], "DESCRIPTION"], rows)


@cli.command()
@click.argument("name", shell_complete=complete_model)
@click.option(
    "--sort",
    type=click.Choice(["version", "score"]),
    default="version",
    help="Newest first (default), or best weighted score first (registry.yaml's score).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def versions(options: Options, name: str, sort: str, as_json: bool) -> None:
    """List the versions of model NAME, newest first (or by score)."""
    from modelreg.api import list_versions
    from modelreg.core.model import author_name

    listing = list_versions(name, options.repo)
    if sort == "score":
        if listing.score is None:
            raise click.UsageError("--sort score needs a 'score' in registry/registry.yaml")
        listing = listing.sorted_by_score()
    if as_json:
        emit_json(listing.to_json())
        return
    if not listing.versions:
        echo(f"{listing.model} has no versions yet")
        return
    found = [view.version for view in listing.versions]
    metric_names = list(dict.fromkeys(k for v in found for k in v.metrics))[:3]
    scored = listing.score is not None
    semvers = any(v.semver for v in found)  # the column only where the model uses them
    rows = [
        [str(v.version), *([v.semver or "-"] if semvers else []), date_text(v.created),
         author_name(v.author), status_text(view.status, v.deprecated)]
        + ([_score_text(listing.score_of(view))] if scored else [])
        + [metric_text(v.metrics[m]) if m in v.metrics else "-" for m in metric_names]
        + [first_line(v.description, 40)]
        for view in listing.versions
        for v in (view.version,)
    ]  # fmt: skip
    columns = ["VERSION", *(["SEMVER"] if semvers else []), "CREATED (UTC)", "AUTHOR", "STAGE",
               *(["SCORE"] if scored else []),
               *metric_names, "DESCRIPTION"]  # fmt: skip
    table(f"{listing.model}: {len(found)} versions", columns, rows)
    if listing.score is not None:
        echo(f"score: {listing.score.describe()}")


def _score_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


@cli.command()
@click.argument("ref", shell_complete=complete_ref)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def show(options: Options, ref: str, as_json: bool) -> None:
    """Show a model (REF is NAME) or one version (NAME/3, NAME@production, ...)."""
    from modelreg.api import ModelView
    from modelreg.api import show as view_of

    view = view_of(ref, options.repo)
    if as_json:
        emit_json(view.to_json())
    elif isinstance(view, ModelView):
        _print_model(view)
    else:
        _print_version(view)


def _print_model(view: ModelView) -> None:
    model, numbers, pointers = view.model, view.versions, view.stages
    lines = [f"model:       {model.name}"]
    if model.description:
        lines.append(f"description: {first_line(model.description, 90)}")
    if model.task:
        lines.append(f"task:        {model.task}")
    if model.owners:
        lines.append(f"owners:      {', '.join(model.owners)}")
    lines.append(
        f"versions:    {len(numbers)} (latest {numbers[-1]})"
        if numbers
        else "versions:    none yet"
    )
    for stage in view.stage_order:
        pointer = pointers.get(stage)
        if pointer is None:
            lines.append(f"{stage + ':':<13}-")
            continue
        since = f" since {date_text(pointer.since)}" if pointer.since else ""
        reason = f" ({first_line(pointer.reason, 50)})" if pointer.reason else ""
        canary = (
            f", canary {pointer.canary.version} at {pointer.canary.weight:.0%}"
            if pointer.canary
            else ""
        )
        lines.append(f"{stage + ':':<13}version {pointer.version}{since}{canary}{reason}")
    for alias, pointer in view.aliases.items():
        lines.append(f"{'@' + alias + ':':<13}version {pointer.version}")
    if model.tags:
        lines.append("tags:        " + ", ".join(f"{k}={v}" for k, v in sorted(model.tags.items())))
    echo("\n".join(lines))


def _print_version(view: VersionView) -> None:
    version, status = view.version, view.status
    via = view.resolution.describe() if view.resolution else "version number"
    lines = [
        f"{version.ref}  ({status_text(status, version.deprecated).replace('-', 'no stage')}; "
        f"resolved by {via})",
        f"created:     {date_text(version.created)} UTC by {version.author or 'unknown'}",
    ]
    if version.semver:
        lines.insert(1, f"semver:      {version.semver}")
    if version.description:
        lines.append(f"description: {first_line(version.description, 90)}")
    if version.deprecation:
        reason = f": {version.deprecation.reason}" if version.deprecation.reason else ""
        lines.append(f"deprecated:  {date_text(version.deprecation.date)}{reason}")
    lineage = version.lineage
    if lineage.git_commit:
        dirty = " (uncommitted changes)" if lineage.git_dirty else ""
        lines.append(f"code:        {lineage.git_commit[:12]}{dirty}")
    if lineage.dvc_stage:
        lines.append(
            f"pipeline:    stage {lineage.dvc_stage} (lock {lineage.dvc_lock_hash or '?'})"
        )
    if lineage.mlflow:
        uri = f" at {lineage.mlflow.tracking_uri}" if lineage.mlflow.tracking_uri else ""
        lines.append(f"mlflow run:  {lineage.mlflow.run_id}{uri}")
    if version.metrics:
        lines.append("metrics:")
        lines += [f"  {k:<24} {metric_text(v)}" for k, v in sorted(version.metrics.items())]
    if lineage.params:
        lines.append("params:")
        lines += [f"  {k:<24} {json.dumps(v, default=str)}" for k, v in flat(lineage.params)]
    lines.append("artifacts:")
    for a in version.artifacts:
        opset = f", opset {a.opset}" if a.opset else ""
        lines.append(f"  {a.name:<10} {a.path}  {a.format}{opset}, {a.size} bytes, md5 {a.md5}")
    if version.signature:
        for label, specs in (
            ("inputs", version.signature.inputs),
            ("outputs", version.signature.outputs),
        ):
            shown = ", ".join(f"{t.name} {t.dtype}{list(t.shape)}" for t in specs)
            lines.append(f"{label + ':':<13}{shown}")
    if version.tags:
        lines.append(
            "tags:        " + ", ".join(f"{k}={v}" for k, v in sorted(version.tags.items()))
        )
    echo("\n".join(lines))


@cli.command()
@click.argument("ref", shell_complete=complete_ref)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def resolve(options: Options, ref: str, as_json: bool) -> None:
    """Print the version REF names, as NAME/N (for scripts: exit 1 if there is none)."""
    from modelreg.api import resolve as resolve_ref

    resolution = resolve_ref(ref, options.repo)
    if as_json:
        emit_json(resolution.to_json())
        return
    echo(resolution.version.ref)


@cli.command()
@click.argument("name", shell_complete=complete_model)
@click.option(
    "--stage",
    metavar="STAGE",
    shell_complete=complete_stage,
    help="Only this stage (default: all stages and aliases).",
)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many commits.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def history(
    options: Options, name: str, stage: str | None, limit: int | None, as_json: bool
) -> None:
    """Who moved which version into which stage, when and why (from git log)."""
    from modelreg.api import model_history
    from modelreg.core.model import author_name

    found = model_history(name, options.repo, stage=stage, limit=limit)
    if as_json:
        emit_json(found.to_json())
        return
    model, changes = found.model, found.changes
    if not changes:
        echo(f"no stage of {model} has changed yet")
        return

    def version(v: int | None) -> str:
        return "-" if v is None else str(v)

    rows = [
        [
            date_text(c.date),
            ("@" if c.is_alias else "") + c.stage,
            f"{version(c.from_version)} → {version(c.to_version)}",
            c.kind,
            author_name(c.author),
            c.commit[:10],
            f"#{c.pr}" if c.pr else "",
            first_line(c.reason or c.subject, 50),
        ]
        for c in changes
    ]
    columns = ["DATE", "STAGE", "VERSION", "CHANGE", "AUTHOR", "COMMIT", "PR", "REASON"]
    table(f"{model}: {len(changes)} stage changes", columns, rows)


def _github_output_file() -> Path:
    name = os.environ.get("GITHUB_OUTPUT", "")
    if not name:
        raise click.UsageError("--github-output needs $GITHUB_OUTPUT (set by GitHub Actions)")
    return Path(name)


@cli.command()
@click.argument("base")
@click.argument("head", default="HEAD")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for deploy jobs).")
@click.option("--markdown", is_flag=True, help="Print a Markdown table (for a job summary).")
@click.option(
    "--github-output",
    is_flag=True,
    help="Also write changed, count, models, moves and events to $GITHUB_OUTPUT.",
)
@pass_options
def diff(
    options: Options, base: str, head: str, as_json: bool, markdown: bool, github_output: bool
) -> None:
    """The registry events between revisions BASE and HEAD (default: HEAD).

    Registered, removed, deprecated and changed versions; stages promoted, rolled
    back or cleared; aliases set or removed. Read from the state of the two
    revisions, so a squash merge or a hand 'git revert' shows what it did, e.g.
    'modelreg diff HEAD~1' after a merge, or 'modelreg diff origin/main HEAD' on a branch.
    """
    from modelreg.api import diff_revisions
    from modelreg.reporting.diff import describe, github_outputs, render_markdown

    if as_json and markdown:
        raise click.UsageError("give --json or --markdown, not both")
    output = _github_output_file() if github_output else None
    found = diff_revisions(options.repo, base, head)
    if output is not None:
        with output.open("a", encoding="utf-8") as stream:
            stream.writelines(f"{k}={v}\n" for k, v in github_outputs(found).items())
    if as_json:
        emit_json(found.to_json())
    elif markdown:
        echo(render_markdown(found), nl=False)
    elif not found.events:
        echo(f"no registry changes between {base} and {head}")
    else:
        count = len(found.events)
        table(
            f"{count} registry event{'s' if count != 1 else ''} between {base} and {head}",
            ["EVENT", "MODEL", "VERSION", "STAGE", "DETAIL"],
            [describe(e) for e in found.events],
        )


@cli.command()
@click.option(
    "--base",
    default="HEAD~1",
    show_default=True,
    metavar="REV",
    help="The revision the change starts from (on a pull request: origin/main).",
)
@click.option("--head", default="HEAD", show_default=True, metavar="REV", help="Where it ends.")
@click.option(
    "--markdown", is_flag=True, default=True, help="Print Markdown (the default, and only, format)."
)
@pass_options
def report(options: Options, base: str, head: str, markdown: bool) -> None:
    """The job summary of a change: events, gates, comparisons and charts.

    For each model the change touches: the gate results of every stage that moved,
    the new version beside the one before, a Mermaid chart of a metric across
    versions and the promotion timeline, all of which GitHub renders. The first
    line is a marker CI uses to keep one comment per pull request up to date.
    """
    from modelreg.reporting.report import render_report

    echo(render_report(options.repo, base, head), nl=False)


@cli.command()
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder to write index.html into (e.g. for GitHub Pages).",
)
@pass_options
def dashboard(options: Options, out: Path) -> None:
    """Write the registry as one static page: stages, versions, trends, timeline.

    Self-contained HTML (inline CSS and SVG, no script or external asset): each
    model's version in each stage and alias, its versions with key metrics, a
    quality metric and latency across versions, the stage changes with authors
    and pull-request links, and whether the registry validates.
    """
    from modelreg.reporting.dashboard import build_dashboard

    done = build_dashboard(options.repo, out)
    state = "valid" if done.valid else "NOT valid"
    models = f"{done.models} model{'s' if done.models != 1 else ''}"
    versions = f"{done.versions} version{'s' if done.versions != 1 else ''}"
    echo(f"wrote {done.path} ({models}, {versions}; {state})")
