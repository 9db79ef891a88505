"""The ``modelreg`` command: a thin layer over :mod:`modelreg.api`.

Each command parses its arguments, calls one library function and renders the
result (a table for people, ``--json`` for programs). :func:`main` is the one
place errors become exit codes: 0 ok, 1 a modelreg error (one line on stderr),
2 a usage error. Library modules are imported inside commands so that
``modelreg --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from modelreg import __version__
from modelreg._escape import terminal_json, terminal_text
from modelreg._serve_limits import ServeLimits

if TYPE_CHECKING:
    from modelreg._github import GitHub
    from modelreg.api import (
        BenchmarkSubject,
        GateCheck,
        ModelView,
        Registry,
        ValidationReport,
        VersionStatus,
        VersionView,
    )

__all__ = ["cli", "main"]


class _Options:
    def __init__(self, repo: Path | None) -> None:
        self.repo = repo

    def registry(self) -> Registry:
        from modelreg.api import Registry

        return Registry.open(self.repo)


pass_options = click.make_pass_decorator(_Options)


def _emit_json(document: Any) -> None:
    text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
    click.echo(terminal_json(text))


def _echo(message: object = "", *, err: bool = False, nl: bool = True) -> None:
    """Print for people. Everything this module prints goes through here (JSON through
    :func:`_emit_json`): registry text comes from pull requests, so an escape sequence
    in it must show as text, not clear the screen or retitle the window."""
    click.echo(terminal_text(message, newlines=True), err=err, nl=nl)


def _table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Aligned columns, no trailing spaces; on a terminal the last column is cut to fit.
    Each cell is one line of plain text: a newline or control character in a value
    cannot break the table or reach the terminal."""
    shown = [[terminal_text(cell) for cell in row] for row in [columns, *rows]]
    widths = [max(len(r[i]) for r in shown) for i in range(len(columns))]
    limit = shutil.get_terminal_size((10_000, 24)).columns if sys.stdout.isatty() else 10_000
    lines = [title] if title else []
    for row in shown:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        line = "  ".join(cells).rstrip()
        if len(line) > limit:
            line = line[: limit - 1] + "…"
        lines.append(line)
    _echo("\n".join(lines))


def _date(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else ""


def _first_line(text: str, width: int = 60) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def _status_text(status: VersionStatus | None, deprecated: bool) -> str:
    parts: list[str] = []
    if status is not None:
        parts += list(status.stages)
        parts += [f"canary in {s}" for s in status.canary_in]
        parts += [f"@{a}" for a in status.aliases]
        if status.archived:
            parts.append("archived")
    if deprecated:
        parts.append("deprecated")
    return ", ".join(parts) or "-"


def _flat(mapping: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested parameters as dotted names: {"train": {"lr": 1}} -> [("train.lr", 1)]."""
    items: list[tuple[str, Any]] = []
    for key, value in mapping.items():
        if isinstance(value, dict):
            items += _flat(value, f"{prefix}{key}.")
        else:
            items.append((f"{prefix}{key}", value))
    return items


def _metric_text(value: float) -> str:
    return f"{value:.4g}"


def _plain_text(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Refuse text for the registry that holds control characters (tab and newline
    aside): a carriage return or an escape in a description or tag would act in
    every terminal, table and pull request that later shows it. The library checks
    the same rule with the same words; here a bad value is a usage error (exit 2)."""
    return _check_text(value, one_line=False)


def _one_line_text(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """:func:`_plain_text` for a value that must also be one line (a reason)."""
    return _check_text(value, one_line=True)


def _check_text(value: Any, *, one_line: bool) -> Any:
    from modelreg._escape import plain_text_problem

    for text in value if isinstance(value, tuple) else (value,):
        problem = plain_text_problem(text or "", one_line=one_line)
        if problem is not None:
            raise click.BadParameter(problem)
    return value


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The registry's git repository (default: the one enclosing the current folder).",
)
@click.option("--traceback", is_flag=True, help="On an error, show the full traceback too.")
@click.version_option(__version__, prog_name="modelreg")
@click.pass_context
def cli(ctx: click.Context, repo: Path | None, traceback: bool) -> None:
    """A GitOps model registry: versions and stages are reviewed YAML in Git, weights live in DVC.

    References name versions as MLflow and GTO users write them: NAME, NAME/3,
    NAME/latest, NAME@production (a stage or alias), NAME/Production, each with or
    without the models:/ prefix.
    """
    ctx.obj = _Options(repo)


# --- set-up and registration -------------------------------------------------------------


@cli.command()
@click.option(
    "--stage",
    "stages",
    multiple=True,
    metavar="NAME",
    help="A lifecycle stage, in promotion order; repeat it (default: staging, production).",
)
@click.option("--remote", metavar="URL", help="Make this folder or URL DVC's default remote.")
@click.option("--commit", is_flag=True, help="Commit the files written.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def init(
    options: _Options, stages: tuple[str, ...], remote: str | None, commit: bool, as_json: bool
) -> None:
    """Make this git repository a registry (safe to run again: it refreshes the schemas)."""
    from modelreg._bootstrap import DEFAULT_STAGES
    from modelreg.api import init as init_registry

    result = init_registry(
        options.repo, stages=stages or DEFAULT_STAGES, remote=remote, commit=commit
    )
    if as_json:
        _emit_json(result.to_json())
        return
    if not result.written:
        _echo(f"registry in {result.root} is up to date")
        return
    _echo(f"initialised a registry in {result.root}")
    for path in result.written:
        _echo(f"  wrote {path}")
    if result.commit:
        _echo(f"committed {result.commit[:12]}")
    else:
        _echo("next: commit these files, then 'modelreg register NAME --weights FILE'")


@cli.command()
@click.argument("name")
@click.option(
    "--from-dvc",
    is_flag=True,
    help="Take weights, ONNX, metrics and lineage from the DVC pipeline's outputs, "
    "as model.yaml's 'pipeline' section names them.",
)
@click.option(
    "--weights",
    type=click.Path(exists=True, path_type=Path),
    help="The trained weights (a file or an MLflow model folder).",
)
@click.option(
    "--onnx",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The ONNX export; its opset and signature are recorded.",
)
@click.option(
    "--metrics",
    metavar="JSON",
    help="Metrics: a JSON/YAML file (as 'dvc metrics' reads) or inline JSON.",
)
@click.option("--params", metavar="YAML", help="Training parameters: a YAML/JSON file.")
@click.option(
    "--description", default="", callback=_plain_text, help="What changed in this version."
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_plain_text,
    help="A tag; repeat it.",
)
@click.option("--commit", is_flag=True, help="Commit the new version's files.")
@click.option("--no-push", is_flag=True, help="Do not upload the artifacts to the DVC remote.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def register(
    options: _Options,
    name: str,
    from_dvc: bool,
    weights: Path | None,
    onnx: Path | None,
    metrics: str | None,
    params: str | None,
    description: str,
    tags: tuple[str, ...],
    commit: bool,
    no_push: bool,
    as_json: bool,
) -> None:
    """Register the next version of model NAME.

    Either from files (--weights, with --onnx, --metrics, --params), or with
    --from-dvc from the outputs of the last 'dvc repro': dvc.lock gives the
    hashes, stage and parameters, and the version is refused if those outputs
    are stale or the ONNX export failed its parity check.
    """
    from modelreg.api import load_metrics, load_params, parse_tags, register_from_dvc
    from modelreg.api import register as register_version

    if from_dvc:
        given = [f for f, v in (("--weights", weights), ("--onnx", onnx), ("--metrics", metrics),
                                ("--params", params)) if v]  # fmt: skip
        if given:
            raise click.UsageError(f"--from-dvc reads the pipeline's outputs; drop {given[0]}")
        result = register_from_dvc(
            name,
            repo=options.repo,
            description=description,
            tags=parse_tags(tags),
            commit=commit,
            push=not no_push,
        )
    else:
        if weights is None:
            raise click.UsageError("give --weights FILE, or --from-dvc")
        result = register_version(
            name,
            weights=weights,
            repo=options.repo,
            onnx=onnx,
            metrics=load_metrics(metrics) if metrics else None,
            params=load_params(params) if params else None,
            description=description,
            tags=parse_tags(tags),
            commit=commit,
            push=not no_push,
        )
    if as_json:
        _emit_json(result.to_json())
        return
    _echo(f"registered {result.version.ref} ({result.path})")
    for artifact in result.version.artifacts:
        _echo(f"  {artifact.name}: {artifact.path} md5 {artifact.md5} ({artifact.size} bytes)")
    lineage = result.version.lineage
    if lineage.dvc_stage:
        _echo(f"  lineage: stage {lineage.dvc_stage}, dvc.lock entry {lineage.dvc_lock_hash}")
    if lineage.mlflow:
        _echo(f"  mlflow run {lineage.mlflow.run_id} ({lineage.mlflow.tracking_uri})")
    if result.pushed:
        _echo("  artifacts pushed to the DVC remote")
    if result.commit:
        _echo(f"committed {result.commit[:12]}")


@cli.command()
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@click.option(
    "--reason",
    default="",
    callback=_one_line_text,
    help="Why it must not be used (kept in the manifest).",
)
@click.option("--undo", is_flag=True, help="Lift the deprecation instead.")
@click.option("--commit", is_flag=True, help="Commit the change.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def deprecate(
    options: _Options,
    name: str,
    version: int,
    reason: str,
    undo: bool,
    commit: bool,
    as_json: bool,
) -> None:
    """Mark VERSION of NAME as one that must not be used (--undo lifts it).

    The version and its weights stay; a stage may no longer point at it and it
    cannot be promoted. A version a stage holds must be replaced there first.
    """
    from modelreg.api import deprecate as run_deprecate

    if undo and reason:
        raise click.UsageError("--reason goes with deprecating, not with --undo")
    done = run_deprecate(name, version, repo=options.repo, reason=reason, undo=undo, commit=commit)
    if as_json:
        _emit_json(done.to_json())
        return
    if undo:
        _echo(f"{done.version.ref} is no longer deprecated ({done.path})")
    else:
        why = f": {reason.strip()}" if reason.strip() else ""
        _echo(f"deprecated {done.version.ref}{why} ({done.path})")
        if done.aliases:
            shown = ", ".join(f"@{a}" for a in done.aliases)
            _echo(f"warning: {shown} still point at it; move them to another version")
    if done.commit:
        _echo(f"committed {done.commit[:12]}")


_PR_HELP = (
    "Open a pull request (a new branch pushed to origin, GITHUB_TOKEN or GH_TOKEN) instead "
    "of committing on the current branch."
)


def _pr_options(function: Any) -> Any:
    for option in reversed(
        [
            click.option("--pr/--no-pr", default=False, help=_PR_HELP),
            click.option(
                "--base",
                metavar="BRANCH",
                help="With --pr: the branch to merge into (default: origin's default branch).",
            ),
            click.option(
                "--api-url",
                metavar="URL",
                help="With --pr: the GitHub API (default: $GITHUB_API_URL, else api.github.com).",
            ),
            click.option(
                "--github-repo",
                metavar="OWNER/NAME",
                help="With --pr: the repository (default: $GITHUB_REPOSITORY).",
            ),
            click.option("--json", "as_json", is_flag=True, help="Print JSON."),
        ]
    ):
        function = option(function)
    return function


def _github_output_file() -> Path:
    import os

    name = os.environ.get("GITHUB_OUTPUT", "")
    if not name:
        raise click.UsageError("--github-output needs $GITHUB_OUTPUT (set by GitHub Actions)")
    return Path(name)


@contextlib.contextmanager
def _github(
    pr: bool, base: str | None, api_url: str | None, github_repo: str | None
) -> Iterator[GitHub | None]:
    """The GitHub client a --pr command uses (None without --pr), closed afterwards."""
    if not pr:
        if base:
            raise click.UsageError("--base goes with --pr")
        if api_url or github_repo:
            raise click.UsageError("--api-url and --github-repo go with --pr")
        yield None
        return
    from modelreg._github import GitHub

    with GitHub.from_environment(github_repo, api_url=api_url) as github:
        yield github


def _landed(result: Any) -> None:
    for warning in result.warnings:
        _echo(f"warning: {warning}", err=True)
    if result.pull is not None:
        _echo(f"opened pull request #{result.pull.number}: {result.pull.html_url}")
        _echo(f"  branch {result.branch}, commit {result.commit[:12]}")
    else:
        _echo(f"committed {result.commit[:12]}")


@cli.command()
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--to", "stage", required=True, metavar="STAGE", help="The stage to move.")
@click.option(
    "--reason",
    default="",
    callback=_one_line_text,
    help="Why (kept in the pointer and the commit).",
)
@click.option(
    "--force", is_flag=True, help="Override failing gates (needs --reason; goes in the commit)."
)
@click.option(
    "--check",
    is_flag=True,
    help="Only check the gates (against the stage on --base when given); change nothing; "
    "exit 1 if one fails.",
)
@click.option(
    "--markdown",
    is_flag=True,
    help="With --check: print the gates as a Markdown table (for a job summary or a comment).",
)
@_pr_options
@pass_options
@click.pass_context
def promote(
    ctx: click.Context,
    options: _Options,
    name: str,
    version: int,
    stage: str,
    reason: str,
    force: bool,
    check: bool,
    markdown: bool,
    pr: bool,
    base: str | None,
    api_url: str | None,
    github_repo: str | None,
    as_json: bool,
) -> None:
    """Move STAGE of NAME to VERSION, checking the stage's policy.

    The policy in registry/registry.yaml (source stage, metric bounds, no regression
    against the version in the stage, ONNX parity) must pass. The one pointer file
    changes, the version it replaces is retired (archived), and the commit carries
    Modelreg-* trailers. Undo it with 'modelreg rollback' or 'git revert'.
    """
    from modelreg.api import promote as run_promote

    if markdown and not check:
        raise click.UsageError("--markdown goes with --check")
    if check:
        if pr or force:
            raise click.UsageError("--check changes nothing: give it without --pr and --force")
        if as_json and markdown:
            raise click.UsageError("give --json or --markdown, not both")
        from modelreg.api import check_promotion

        gates = check_promotion(name, version, stage, options.repo, base=base)
        if as_json:
            _emit_json(gates.to_json())
        else:
            _print_gates(gates, markdown)
        if not gates.passed:
            ctx.exit(1)
        return
    with _github(pr, base, api_url, github_repo) as github:
        done = run_promote(
            name,
            version,
            stage,
            repo=options.repo,
            reason=reason,
            force=force,
            pr=pr,
            base=base,
            github=github,
        )
    if as_json:
        _emit_json(done.to_json())
        return
    was = f" (was v{done.previous}, now retired)" if done.previous else ""
    forced = " FORCED past failing gates" if done.forced else ""
    _echo(f"promoted {done.model}/{done.version} to {done.stage}{was}{forced}")
    if len(done.gates) > 1:  # more than 'not deprecated': the stage has a policy
        for gate in done.gates:
            _echo(f"  {'pass' if gate.passed else 'FAIL'}  {gate.name}: {gate.detail}")
    _landed(done)


def _print_gates(check: GateCheck, markdown: bool) -> None:
    """The verdict on a version's gates, then each gate (as a Markdown table with
    ``markdown``, for a job summary or a comment)."""
    against = f"v{check.against.version}" if check.against else "an empty stage"
    where = f" on {check.base}" if check.base else ""
    count = sum(g.passed for g in check.gates)
    verdict = (
        f"{check.version.ref} to {check.stage} (against {against}{where}): "
        f"{count} of {len(check.gates)} gates pass"
    )
    if markdown:
        from modelreg._escape import markdown_text
        from modelreg._promote import gate_table

        _echo(f"{markdown_text(verdict)}\n\n{gate_table(check.gates)}", nl=False)
        return
    _echo(verdict)
    for gate in check.gates:
        _echo(f"  {'pass' if gate.passed else 'FAIL'}  {gate.name}: {gate.detail}")


@cli.command()
@click.argument("name")
@click.option("--stage", required=True, metavar="STAGE", help="The stage to roll back.")
@click.option(
    "--to",
    "to",
    type=click.IntRange(min=1),
    metavar="VERSION",
    help="Go back to this earlier version (default: the one before the current).",
)
@click.option("--reason", default="", callback=_one_line_text, help="Why (kept in the commit).")
@_pr_options
@pass_options
def rollback(
    options: _Options,
    name: str,
    stage: str,
    to: int | None,
    reason: str,
    pr: bool,
    base: str | None,
    api_url: str | None,
    github_repo: str | None,
    as_json: bool,
) -> None:
    """Put STAGE of NAME back on the version it held before.

    Reverts the commit that made the current assignment (a merged or squashed pull
    request counts as one commit), so the pointer file is exactly what it was. Run
    again, it walks further back; --to goes back to a named version in one commit.
    """
    from modelreg.api import rollback as run_rollback

    with _github(pr, base, api_url, github_repo) as github:
        done = run_rollback(
            name,
            stage,
            repo=options.repo,
            to=to,
            reason=reason,
            pr=pr,
            base=base,
            github=github,
        )
    if as_json:
        _emit_json(done.to_json())
        return
    how = (
        f"reverting {', '.join(c[:12] for c in done.reverted)}"
        if done.reverted
        else "with a fresh pointer (history does not show the earlier file)"
    )
    _echo(
        f"rolled {done.model} {done.stage} back from v{done.rolled_back} to v{done.version}, {how}"
    )
    _landed(done)


@cli.command()
@click.option("--pr", "number", required=True, type=click.IntRange(min=1), help="The PR number.")
@click.option(
    "--file",
    "source",
    type=click.File("r", encoding="utf-8"),
    default="-",
    show_default=True,
    help="The comment's Markdown ('-': standard input), e.g. from 'modelreg report'.",
)
@click.option(
    "--marker",
    default="<!-- modelreg:report -->",
    show_default=True,
    help="The HTML comment that identifies the one comment to keep up to date.",
)
@click.option(
    "--author",
    metavar="LOGIN",
    envvar="MODELREG_COMMENT_AUTHOR",
    help="Whose marked comment to update: the token's login (default: asked of GitHub; "
    "github-actions[bot] for an app token). Another app's token: SLUG[bot].",
)
@click.option("--api-url", metavar="URL", help="The GitHub API (default: $GITHUB_API_URL).")
@click.option("--github-repo", metavar="OWNER/NAME", help="Default: $GITHUB_REPOSITORY.")
def comment(
    number: int,
    source: Any,
    marker: str,
    author: str | None,
    api_url: str | None,
    github_repo: str | None,
) -> None:
    """Post Markdown on pull request PR as one comment, updated in place on later runs.

    Only a comment with the marker written by the token's own login is updated: a
    marked comment by anyone else (the pull request's author, say) is left alone
    and a new one is posted.
    """
    body = source.read()
    if not marker.startswith("<!--") or not marker.endswith("-->"):
        raise click.UsageError("--marker must be an HTML comment, e.g. '<!-- my-report -->'")
    if not body.strip():
        raise click.UsageError("the comment is empty; give --file or pipe the Markdown in")
    with _github(True, None, api_url, github_repo) as github:
        assert github is not None
        done = github.upsert_comment(number, body, marker=marker, author=author)
    _echo(f"comment on #{number}: {done.html_url}")


# --- reading -----------------------------------------------------------------------------


@cli.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def list_models(options: _Options, as_json: bool) -> None:
    """List the registry's models with their stages."""
    from modelreg.api import list_models as models_of

    found = models_of(options.repo)
    if as_json:
        _emit_json(found.to_json())
        return
    if not found.models:
        _echo("no models registered yet; add one with 'modelreg register NAME --weights FILE'")
        return
    stages = found.stages
    rows = [
        [e.model.name, str(len(e.versions)), str(e.versions[-1]) if e.versions else "-"]
        + [str(e.stages[s].version) if s in e.stages else "-" for s in stages]
        + [("(deleted) " if e.model.deleted else "") + _first_line(e.model.description, 50)]
        for e in found.models
    ]
    _table(None, ["MODEL", "VERSIONS", "LATEST", *[s.upper() for s in stages], "DESCRIPTION"], rows)


@cli.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def versions(options: _Options, name: str, as_json: bool) -> None:
    """List the versions of model NAME, newest first."""
    from modelreg._model import author_name
    from modelreg.api import list_versions

    listing = list_versions(name, options.repo)
    if as_json:
        _emit_json(listing.to_json())
        return
    if not listing.versions:
        _echo(f"{listing.model} has no versions yet")
        return
    found = [view.version for view in listing.versions]
    metric_names = list(dict.fromkeys(k for v in found for k in v.metrics))[:3]
    rows = [
        [str(v.version), _date(v.created), author_name(v.author),
         _status_text(view.status, v.deprecated)]
        + [_metric_text(v.metrics[m]) if m in v.metrics else "-" for m in metric_names]
        + [_first_line(v.description, 40)]
        for view in listing.versions
        for v in (view.version,)
    ]  # fmt: skip
    columns = ["VERSION", "CREATED (UTC)", "AUTHOR", "STAGE", *metric_names, "DESCRIPTION"]
    _table(f"{listing.model}: {len(found)} versions", columns, rows)


@cli.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def show(options: _Options, ref: str, as_json: bool) -> None:
    """Show a model (REF is NAME) or one version (NAME/3, NAME@production, ...)."""
    from modelreg.api import ModelView
    from modelreg.api import show as view_of

    view = view_of(ref, options.repo)
    if as_json:
        _emit_json(view.to_json())
    elif isinstance(view, ModelView):
        _print_model(view)
    else:
        _print_version(view)


def _print_model(view: ModelView) -> None:
    model, numbers, pointers = view.model, view.versions, view.stages
    lines = [f"model:       {model.name}"]
    if model.description:
        lines.append(f"description: {_first_line(model.description, 90)}")
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
        since = f" since {_date(pointer.since)}" if pointer.since else ""
        reason = f" ({_first_line(pointer.reason, 50)})" if pointer.reason else ""
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
    _echo("\n".join(lines))


def _print_version(view: VersionView) -> None:
    version, status = view.version, view.status
    via = view.resolution.describe() if view.resolution else "version number"
    lines = [
        f"{version.ref}  ({_status_text(status, version.deprecated).replace('-', 'no stage')}; "
        f"resolved by {via})",
        f"created:     {_date(version.created)} UTC by {version.author or 'unknown'}",
    ]
    if version.description:
        lines.append(f"description: {_first_line(version.description, 90)}")
    if version.deprecation:
        reason = f": {version.deprecation.reason}" if version.deprecation.reason else ""
        lines.append(f"deprecated:  {_date(version.deprecation.date)}{reason}")
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
        lines += [f"  {k:<24} {_metric_text(v)}" for k, v in sorted(version.metrics.items())]
    if lineage.params:
        lines.append("params:")
        lines += [f"  {k:<24} {json.dumps(v, default=str)}" for k, v in _flat(lineage.params)]
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
    _echo("\n".join(lines))


@cli.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def resolve(options: _Options, ref: str, as_json: bool) -> None:
    """Print the version REF names, as NAME/N (for scripts: exit 1 if there is none)."""
    from modelreg.api import resolve as resolve_ref

    resolution = resolve_ref(ref, options.repo)
    if as_json:
        _emit_json(resolution.to_json())
        return
    _echo(resolution.version.ref)


@cli.command()
@click.argument("name")
@click.option("--stage", metavar="STAGE", help="Only this stage (default: all stages and aliases).")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many commits.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def history(
    options: _Options, name: str, stage: str | None, limit: int | None, as_json: bool
) -> None:
    """Who moved which version into which stage, when and why (from git log)."""
    from modelreg._model import author_name
    from modelreg.api import model_history

    found = model_history(name, options.repo, stage=stage, limit=limit)
    if as_json:
        _emit_json(found.to_json())
        return
    model, changes = found.model, found.changes
    if not changes:
        _echo(f"no stage of {model} has changed yet")
        return

    def version(v: int | None) -> str:
        return "-" if v is None else str(v)

    rows = [
        [
            _date(c.date),
            ("@" if c.is_alias else "") + c.stage,
            f"{version(c.from_version)} → {version(c.to_version)}",
            c.kind,
            author_name(c.author),
            c.commit[:10],
            f"#{c.pr}" if c.pr else "",
            _first_line(c.reason or c.subject, 50),
        ]
        for c in changes
    ]
    columns = ["DATE", "STAGE", "VERSION", "CHANGE", "AUTHOR", "COMMIT", "PR", "REASON"]
    _table(f"{model}: {len(changes)} stage changes", columns, rows)


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
    options: _Options, base: str, head: str, as_json: bool, markdown: bool, github_output: bool
) -> None:
    """The registry events between revisions BASE and HEAD (default: HEAD).

    Registered, removed, deprecated and changed versions; stages promoted, rolled
    back or cleared; aliases set or removed. Read from the state of the two
    revisions, so a squash merge or a hand 'git revert' shows what it did, e.g.
    'modelreg diff HEAD~1' after a merge, or 'modelreg diff origin/main HEAD' on a branch.
    """
    from modelreg._diff import describe, github_outputs, render_markdown
    from modelreg.api import diff_revisions

    if as_json and markdown:
        raise click.UsageError("give --json or --markdown, not both")
    output = _github_output_file() if github_output else None
    found = diff_revisions(options.repo, base, head)
    if output is not None:
        with output.open("a", encoding="utf-8") as stream:
            stream.writelines(f"{k}={v}\n" for k, v in github_outputs(found).items())
    if as_json:
        _emit_json(found.to_json())
    elif markdown:
        _echo(render_markdown(found), nl=False)
    elif not found.events:
        _echo(f"no registry changes between {base} and {head}")
    else:
        count = len(found.events)
        _table(
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
def report(options: _Options, base: str, head: str, markdown: bool) -> None:
    """The job summary of a change: events, gates, comparisons and charts.

    For each model the change touches: the gate results of every stage that moved,
    the new version beside the one before, a Mermaid chart of a metric across
    versions and the promotion timeline, all of which GitHub renders. The first
    line is a marker CI uses to keep one comment per pull request up to date.
    """
    from modelreg._report import render_report

    _echo(render_report(options.repo, base, head), nl=False)


@cli.command()
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder to write index.html into (e.g. for GitHub Pages).",
)
@pass_options
def dashboard(options: _Options, out: Path) -> None:
    """Write the registry as one static page: stages, versions, trends, timeline.

    Self-contained HTML (inline CSS and SVG, no script or external asset): each
    model's version in each stage and alias, its versions with key metrics, a
    quality metric and latency across versions, the stage changes with authors
    and pull-request links, and whether the registry validates.
    """
    from modelreg._dashboard import build_dashboard

    done = build_dashboard(options.repo, out)
    state = "valid" if done.valid else "NOT valid"
    models = f"{done.models} model{'s' if done.models != 1 else ''}"
    versions = f"{done.versions} version{'s' if done.versions != 1 else ''}"
    _echo(f"wrote {done.path} ({models}, {versions}; {state})")


@cli.command("import-mlflow")
@click.option(
    "--tracking-uri",
    metavar="URI",
    help="The MLflow tracking server or store (default: $MLFLOW_TRACKING_URI).",
)
@click.option(
    "--registry-uri",
    metavar="URI",
    help="MLflow's registry, when not the tracking one (default: $MLFLOW_REGISTRY_URI).",
)
@click.option(
    "--model", "models", multiple=True, metavar="NAME", help="Only this model; repeat it."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def import_mlflow_command(
    options: _Options,
    tracking_uri: str | None,
    registry_uri: str | None,
    models: tuple[str, ...],
    as_json: bool,
) -> None:
    """Bring an MLflow registry's models into this one: one commit per model.

    Each version's files are downloaded from MLflow's artifact store and tracked
    by DVC (and pushed); its description, tags and run (id, experiment, params,
    metrics) come along. Stages become pointers (the highest version MLflow has
    in each; Archived versions are recorded as retired) and aliases follow.
    Versions are numbered from 1 in MLflow's order; each keeps its MLflow number
    in the tag mlflow.version. Models already in this registry are skipped.
    Exits 1 if any model failed to import (each failure is reported, and none
    of that model is committed; the others are imported).
    """
    import os

    from modelreg.api import import_mlflow

    # One progress line per version is ours to print; MLflow's bars would interleave.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    done = import_mlflow(
        repo=options.repo,
        tracking_uri=tracking_uri,
        registry_uri=registry_uri,
        models=models,
        progress=lambda line: _echo(line, err=True),
    )
    if as_json:
        _emit_json(done.to_json())
        done.check()
        return
    for result in done.models:
        if result.failed:
            _echo(f"{result.name}: failed, nothing committed ({result.failed})")
            continue
        if result.skipped:
            _echo(f"{result.name}: skipped ({result.skipped})")
            continue
        stages = ", ".join(f"{s} v{v}" for s, v in result.stages.items()) or "no stage"
        aliases = ", ".join(f"@{a} v{v}" for a, v in result.aliases.items())
        plural = "s" if result.versions != 1 else ""
        _echo(
            f"{result.name}: {result.versions} version{plural}, {stages}"
            + (f", {aliases}" if aliases else "")
            + f"; committed {result.commit[:12] if result.commit else '-'}"
        )
        for note in result.notes:
            _echo(f"  note: {note}")
    done.check()  # the contract: a failed import is exit 1, even when others came over
    _echo(done.summary() if done.models else "nothing to import: the MLflow registry has no models")


# --- serving -----------------------------------------------------------------------------

# The serve options' defaults are the library's: one source for both.
_SERVE_DEFAULTS = ServeLimits()


@cli.command()
@click.argument("refs", nargs=-1, metavar="[[NAME=]REF]...")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="0: any free."
)
@click.option(
    "--poll",
    default=2.0,
    show_default=True,
    type=click.FloatRange(min=0.05),
    help="Seconds between checks of the stage pointers.",
)
@click.option(
    "--follow",
    metavar="REMOTE/BRANCH",
    help="Follow the pointers as committed on this branch (fetched at every poll, e.g. "
    "origin/main) instead of the working tree.",
)
@click.option("--remote", metavar="NAME", help="The DVC remote to fetch artifacts from.")
@click.option(
    "--threads",
    default=0,
    type=click.IntRange(min=0),
    help="ONNX Runtime threads per session (default 0: one per core).",
)
@click.option(
    "--max-body",
    default=16,
    show_default=True,
    type=click.IntRange(min=1),
    help="The largest request body accepted, in MiB.",
)
@click.option(
    "--max-connections",
    default=_SERVE_DEFAULTS.max_connections,
    show_default=True,
    type=click.IntRange(min=1),
    help="Open connections at most (lowered to fit the open-file limit); past it, "
    "a new one replaces the oldest idle one, or is answered 503.",
)
@click.option(
    "--header-timeout",
    default=_SERVE_DEFAULTS.header_timeout,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds a client has to send a request's headers.",
)
@click.option(
    "--body-timeout",
    default=_SERVE_DEFAULTS.body_timeout,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds a client has to send a request's body, after its headers (408 after).",
)
@click.option(
    "--keep-alive",
    default=_SERVE_DEFAULTS.keep_alive,
    show_default=True,
    type=click.IntRange(min=1),
    help="Seconds an idle connection is kept open for the next request.",
)
@click.option(
    "--max-inflight",
    default=_SERVE_DEFAULTS.max_inflight,
    show_default=True,
    type=click.IntRange(min=1),
    help="Inference requests read and run at once; more are answered 503 with Retry-After.",
)
@click.option("--access-log", is_flag=True, help="Log every request.")
@pass_options
def serve(
    options: _Options,
    refs: tuple[str, ...],
    host: str,
    port: int,
    poll: float,
    follow: str | None,
    remote: str | None,
    threads: int,
    max_body: int,
    max_connections: int,
    header_timeout: float,
    body_timeout: float,
    keep_alive: int,
    max_inflight: int,
    access_log: bool,
) -> None:
    """Serve models over HTTP with ONNX Runtime, following their stage pointers.

    Each REF (NAME@production, NAME@champion, NAME/latest, NAME/3) is served as
    NAME, or under the name given as NAME=REF; with none, every model that has a
    version in production. Endpoints: the Open Inference Protocol (KServe v2:
    /v2/models/NAME/infer and its metadata and health), GET /model/info and
    POST /predict for the first model, /metrics for Prometheus, /docs and
    /openapi.json.

    When a pointer moves (promote, rollback, a merged pull request), the new
    version's ONNX file is verified by md5, loaded, warmed up and swapped in;
    requests in flight finish on the old one. A version that fails is refused and
    logged, and the old one keeps serving. A stage with a canary sends the
    canary its share of requests.
    """
    import logging

    from modelreg._serve_app import create_app
    from modelreg._serve_limits import check_port_free, fit_to_open_files, run_server
    from modelreg._serving import prepare
    from modelreg._source import find_repo_root

    # A port in use fails here, in a second and in one line, not after loading the models.
    check_port_free(host, port)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    serve_log = logging.getLogger("modelreg.serve")
    serve_log.addHandler(handler)
    serve_log.setLevel(logging.INFO)
    limits = fit_to_open_files(
        ServeLimits(
            max_connections=max_connections,
            header_timeout=header_timeout,
            body_timeout=body_timeout,
            keep_alive=keep_alive,
            max_inflight=max_inflight,
        )
    )
    root = find_repo_root(options.repo or Path.cwd())
    server = prepare(root, refs, follow=follow, remote=remote, threads=threads)
    app = create_app(
        server.routes,
        server.follower,
        server.metrics,
        poll=poll,
        max_body=max_body << 20,
        max_inflight=limits.max_inflight,
    )
    run_server(app, host=host, port=port, limits=limits, access_log=access_log)


# --- checking ----------------------------------------------------------------------------


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
    options: _Options,
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
        _emit_json(report.to_json())
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
                _echo(finding.render())
            _echo(verdict)
    if not report.ok:
        ctx.exit(1)


def _validate_for_github(report: ValidationReport, verdict: str) -> None:
    """The findings as text (read by no runner as a command: they quote pull request
    text), then as annotations, and as a table in the job summary."""
    from modelreg._annotations import annotation, command_pause, findings_summary

    pause, resume = command_pause()
    _echo(pause)
    for finding in report.findings:
        _echo(finding.render())
    _echo(resume)
    for finding in report.findings:
        _echo(annotation(finding))
    _echo(verdict)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary and report.findings:  # a clean change: the report step's summary says so
        with Path(summary).open("a", encoding="utf-8") as out:
            out.write(findings_summary(report.findings, verdict))


@cli.command()
@click.argument("ref")
@click.option("--remote", metavar="NAME", help="The DVC remote to fetch from (default: DVC's).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def pull(options: _Options, ref: str, remote: str | None, as_json: bool) -> None:
    """Fetch one version's artifacts by hash into the working tree, verified.

    Objects come from the DVC cache or the remote by the md5 the version records, so
    no old revision is checked out. Nothing in the working tree changes unless every
    object of the version is present and verified.
    """
    from modelreg.api import pull as pull_version

    with options.registry() as registry:
        version = registry.resolve(ref).version
        result = pull_version(registry.root, version, remote=remote)
    if as_json:
        _emit_json(result.to_json())
        return
    _echo(f"{result.ref}: {len(result.artifacts)} artifacts, verified by md5")
    _table(
        None,
        ["artifact", "path", "md5", "size", "from"],
        [
            [p.artifact.name, str(p.location), p.artifact.md5, f"{p.artifact.size:,}", p.source]
            for p in result.artifacts
        ],
    )


@cli.command()
@click.argument("name")
@click.argument("versions", nargs=-1, required=True)
@click.option("--all", "everything", is_flag=True, help="Include per-class metrics.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--markdown", is_flag=True, help="Print a Markdown table (for pull requests).")
@pass_options
def compare(
    options: _Options,
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
    from modelreg._compare import table_rows
    from modelreg.api import compare_versions, render_markdown

    if as_json and markdown:
        raise click.UsageError("give --json or --markdown, not both")
    if len(versions) < 2:
        raise click.UsageError("name at least two versions to compare, e.g. 'compare NAME 1 2'")
    with options.registry() as registry:
        comparison = compare_versions(registry, name, versions)
    if as_json:
        _emit_json(comparison.to_json())
    elif markdown:
        _echo(render_markdown(comparison, everything=everything), nl=False)
    else:
        _table(
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
        if notes:
            _echo("; ".join(notes))


# --- running models ----------------------------------------------------------------------


def _version_files(options: _Options, ref: str) -> tuple[str, Path | None, Path | None]:
    """(the version's ref, its ONNX file, its torch checkpoint), verified by hash."""
    from modelreg._local_artifacts import artifact_of, local_artifact

    with options.registry() as registry:
        version = registry.resolve(ref).version
        root = registry.root
    onnx = artifact_of(version, "onnx")
    weights = artifact_of(version, "pytorch")
    return (
        version.ref,
        local_artifact(root, version, onnx) if onnx else None,
        local_artifact(root, version, weights) if weights else None,
    )


@cli.command()
@click.argument("ref", required=False)
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Export this checkpoint file instead of a registered version's weights.",
)
@click.option(
    "--parity-data",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Held-out .npz ('inputs', 'labels'); default: the one the checkpoint names.",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="The .onnx to write.")
@click.option(
    "--report", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON report here."
)
@click.option("--opset", type=click.IntRange(min=7), default=18, show_default=True)
@click.option(
    "--exporter",
    type=click.Choice(["dynamo", "torchscript"]),
    default="dynamo",
    show_default=True,
    help="torch.onnx.export's exporter: dynamo=True (torch.export) or dynamo=False.",
)
@click.option("--max-abs-diff", type=float, default=1e-4, show_default=True)
@click.option("--min-top1-agreement", type=click.FloatRange(0, 1), default=0.999, show_default=True)
@click.option("--max-accuracy-drop", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report.")
@pass_options
def export(
    options: _Options,
    ref: str | None,
    checkpoint: Path | None,
    parity_data: Path | None,
    out: Path | None,
    report: Path | None,
    opset: int,
    exporter: str,
    max_abs_diff: float,
    min_top1_agreement: float,
    max_accuracy_drop: float,
    as_json: bool,
) -> None:
    """Export a version (REF) or a checkpoint to ONNX and prove it equal to torch.

    The export is checked by onnx.checker and run beside torch on the held-out
    data; outside the tolerances it fails, and no .onnx file is written.
    """
    from modelreg._export import write_report
    from modelreg._source import find_repo_root
    from modelreg.api import InputError, Tolerances, export_onnx

    if (ref is None) == (checkpoint is None):
        raise click.UsageError("give either REF or --checkpoint")
    if ref is not None:
        label, _, checkpoint = _version_files(options, ref)
        if checkpoint is None:
            raise InputError(f"{label} has no pytorch weights to export")
    assert checkpoint is not None
    out = out or checkpoint.with_suffix(".onnx")
    result = export_onnx(
        checkpoint,
        out,
        parity_data=parity_data,
        repo=find_repo_root(options.repo or Path.cwd()),
        opset=opset,
        dynamo=exporter == "dynamo",
        tolerances=Tolerances(max_abs_diff, min_top1_agreement, max_accuracy_drop),
    )
    if report is not None:
        write_report(result, report)
    if as_json:
        _emit_json(result.to_json())
        return
    parity = result.parity
    _echo(f"exported {out} (opset {result.opset}, dynamo={result.dynamo}, {result.size:,} bytes)")
    _echo("  onnx.checker: full check passed")
    line = f"  parity on {parity.samples} held-out inputs: max abs diff {parity.max_abs_diff:.2e}"
    if parity.top1_agreement is not None:
        line += f", top-1 agreement {parity.top1_agreement:.2%}"
    if parity.onnx_accuracy is not None and parity.torch_accuracy is not None:
        line += f", accuracy {parity.onnx_accuracy:.2%} (torch {parity.torch_accuracy:.2%})"
    _echo(line)


def _batch_sizes(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(v) for v in value.replace(" ", "").split(",") if v)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of numbers") from None
    if not sizes or any(s < 1 for s in sizes):
        raise click.BadParameter("batch sizes must be positive numbers, e.g. 1,8,64")
    return sizes


def _benchmark_subject(
    options: _Options, label: str, ref: str | None, onnx: Path | None, checkpoint: Path | None
) -> BenchmarkSubject:
    """A version (REF) or a pair of files to benchmark, checked to exist."""
    from modelreg.api import BenchmarkSubject, InputError

    if ref is not None:
        name, onnx, checkpoint = _version_files(options, ref)
        if onnx is None:
            raise InputError(f"{name} has no ONNX artifact; run 'modelreg export {name}' first")
        return BenchmarkSubject(label, name, onnx, checkpoint)
    assert onnx is not None
    for path in (onnx, checkpoint):
        if path is not None and not path.is_file():
            raise InputError(f"{path}: no such file")
    return BenchmarkSubject(label, str(onnx), onnx, checkpoint)


@cli.command()
@click.argument("ref", required=False)
@click.option(
    "--onnx",
    "onnx_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Benchmark this ONNX file instead of a version.",
)
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Its torch checkpoint, for the torch reference.",
)
@click.option(
    "--baseline", metavar="REF", help="Compare against this version, measured interleaved."
)
@click.option(
    "--baseline-onnx",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Compare against this ONNX file instead of a version.",
)
@click.option(
    "--baseline-checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The baseline ONNX file's torch checkpoint.",
)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--batch-sizes", default="1,8,64", show_default=True, callback=_batch_sizes)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="CPU threads per runtime (fixed, for stable figures).",
)
@click.option(
    "--budget",
    type=click.FloatRange(min=0.01),
    default=0.5,
    show_default=True,
    help="Seconds of timed runs per configuration and batch size.",
)
@click.option("--warmup", type=click.IntRange(min=0), default=30, show_default=True)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON report here."
)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report.")
@click.option(
    "--markdown",
    is_flag=True,
    help="Print the table as a Markdown code block (for a job summary or a comment).",
)
@pass_options
def benchmark(
    options: _Options,
    ref: str | None,
    onnx_path: Path | None,
    checkpoint: Path | None,
    baseline: str | None,
    baseline_onnx: Path | None,
    baseline_checkpoint: Path | None,
    device: str,
    batch_sizes: tuple[int, ...],
    threads: int,
    budget: float,
    warmup: int,
    out: Path | None,
    as_json: bool,
    markdown: bool,
) -> None:
    """Latency (p50/p95/p99) and throughput of a version on ONNX Runtime and torch.

    With --baseline both versions are measured interleaved in one run, and the
    verdict is the ratio of their p50 with its noise.
    """
    import os

    from modelreg._benchmark import render_table
    from modelreg._source import find_repo_root
    from modelreg.api import BenchmarkSettings, InputError, run_benchmark

    if (ref is None) == (onnx_path is None):
        raise click.UsageError("give either REF or --onnx")
    if as_json and markdown:
        raise click.UsageError("give --json or --markdown, not both")
    if baseline is not None and baseline_onnx is not None:
        raise click.UsageError("give either --baseline or --baseline-onnx, not both")
    if baseline_checkpoint is not None and baseline_onnx is None:
        raise click.UsageError("--baseline-checkpoint needs --baseline-onnx")
    candidate = _benchmark_subject(options, "candidate", ref, onnx_path, checkpoint)
    base = None
    if baseline is not None or baseline_onnx is not None:
        base = _benchmark_subject(options, "baseline", baseline, baseline_onnx, baseline_checkpoint)
    try:  # where the checkpoint's architecture is imported from, when in a repository
        repo: Path | None = find_repo_root(options.repo or Path.cwd())
    except InputError:
        repo = None
    settings = BenchmarkSettings(device, batch_sizes, warmup, budget, threads, 0, repo)
    show_progress = sys.stderr.isatty() and not os.environ.get("CI")
    if show_progress:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("benchmark", total=None)

            def progress(what: str, done: int, total: int) -> None:
                bar.update(task, description=what, completed=done, total=total)

            report = run_benchmark(candidate, base, settings, progress=progress)
    else:
        report = run_benchmark(candidate, base, settings)
    if out is not None:
        from modelreg._yaml import write_text_atomic

        write_text_atomic(out, json.dumps(report, indent=2) + "\n")
    if as_json:
        _emit_json(report)
    elif markdown:
        from modelreg._escape import code_fence

        _echo(code_fence(render_table(report)), nl=False)
    else:
        _echo(render_table(report))


# --- entry point -------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code instead of raising SystemExit."""
    from modelreg._errors import ModelregError

    args = list(sys.argv[1:] if argv is None else argv)
    show_traceback = "--traceback" in args
    try:
        # Outside standalone mode click *returns* the code of ctx.exit(N) instead of
        # raising it: that value is the command's exit code and must not be dropped.
        code = cli.main(args=args, prog_name="modelreg", standalone_mode=False)
    except click.exceptions.Exit as exit_:
        return int(exit_.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort as abort:
        # click turns Ctrl-C into Abort; the shell convention for SIGINT is 128 + 2.
        if isinstance(abort.__cause__, KeyboardInterrupt):
            _echo("interrupted", err=True)
            return 130
        _echo("aborted", err=True)
        return 1
    except ModelregError as exc:
        if show_traceback:
            import traceback

            traceback.print_exc()
        _echo(f"error: {exc}", err=True)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        # The file system refused (a folder that is a file, no space, no permission):
        # the user's environment, not a bug; say what and where in one line.
        if show_traceback:
            import traceback

            traceback.print_exc()
        where = f": {exc.filename}" if exc.filename else ""
        _echo(f"error: {exc.strerror or exc}{where}", err=True)
        return 1
    except Exception as exc:  # a bug, not bad input
        if show_traceback:
            import traceback

            traceback.print_exc()
        _echo(
            f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]} "
            "(this is a bug in modelreg; rerun with --traceback and report it)",
            err=True,
        )
        return 1
    return code if isinstance(code, int) else 0
