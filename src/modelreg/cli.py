"""The ``modelreg`` command: a thin layer over :mod:`modelreg.api`.

Each command parses its arguments, calls one library function and renders the
result (a table for people, ``--json`` for programs). :func:`main` is the one
place errors become exit codes: 0 ok, 1 a modelreg error (one line on stderr),
2 a usage error. Library modules are imported inside commands so that
``modelreg --help`` stays fast.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from modelreg import __version__

if TYPE_CHECKING:
    from modelreg._model import ModelVersion
    from modelreg._registry import Registry, VersionStatus

__all__ = ["cli", "main"]


class _Options:
    def __init__(self, repo: Path | None) -> None:
        self.repo = repo

    def registry(self) -> Registry:
        from modelreg._registry import Registry

        return Registry.open(self.repo)


pass_options = click.make_pass_decorator(_Options)


def _emit_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))


def _table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Aligned columns, no trailing spaces; on a terminal the last column is cut to fit."""
    widths = [max(len(str(r[i])) for r in [columns, *rows]) for i in range(len(columns))]
    limit = shutil.get_terminal_size((10_000, 24)).columns if sys.stdout.isatty() else 10_000
    lines = [title] if title else []
    for row in [columns, *rows]:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)]
        line = "  ".join(cells).rstrip()
        if len(line) > limit:
            line = line[: limit - 1] + "…"
        lines.append(line)
    click.echo("\n".join(lines))


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
@pass_options
def init(options: _Options, stages: tuple[str, ...], remote: str | None, commit: bool) -> None:
    """Make this git repository a registry (safe to run again: it refreshes the schemas)."""
    from modelreg._bootstrap import DEFAULT_STAGES
    from modelreg._bootstrap import init as init_registry

    result = init_registry(
        options.repo, stages=stages or DEFAULT_STAGES, remote=remote, commit=commit
    )
    if not result.written:
        click.echo(f"registry in {result.root} is up to date")
        return
    click.echo(f"initialised a registry in {result.root}")
    for path in result.written:
        click.echo(f"  wrote {path}")
    if result.commit:
        click.echo(f"committed {result.commit[:12]}")
    else:
        click.echo("next: commit these files, then 'modelreg register NAME --weights FILE'")


@cli.command()
@click.argument("name")
@click.option(
    "--weights",
    required=True,
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
@click.option("--description", default="", help="What changed in this version.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A tag; repeat it.")
@click.option("--commit", is_flag=True, help="Commit the new version's files.")
@click.option("--no-push", is_flag=True, help="Do not upload the artifacts to the DVC remote.")
@pass_options
def register(
    options: _Options,
    name: str,
    weights: Path,
    onnx: Path | None,
    metrics: str | None,
    params: str | None,
    description: str,
    tags: tuple[str, ...],
    commit: bool,
    no_push: bool,
) -> None:
    """Register the next version of model NAME."""
    from modelreg._inputs import load_metrics, load_params, parse_tags
    from modelreg._register import register as register_version

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
    click.echo(f"registered {result.version.ref} ({result.path})")
    for artifact in result.version.artifacts:
        click.echo(f"  {artifact.name}: {artifact.path} md5 {artifact.md5} ({artifact.size} bytes)")
    if result.pushed:
        click.echo("  artifacts pushed to the DVC remote")
    if result.commit:
        click.echo(f"committed {result.commit[:12]}")


# --- reading -----------------------------------------------------------------------------


@cli.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def list_models(options: _Options, as_json: bool) -> None:
    """List the registry's models with their stages."""
    with options.registry() as registry:
        stages = registry.config.stages
        entries = []
        for name in registry.model_names():
            model = registry.model(name)
            numbers = registry.version_numbers(name)
            pointers = registry.stage_pointers(name)
            entries.append((model, numbers, pointers, registry.aliases(name)))
    if as_json:
        _emit_json(
            {
                "format": "modelreg.list/1",
                "stages": list(stages),
                "models": [
                    {
                        "name": m.name,
                        "description": m.description or None,
                        "task": m.task,
                        "owners": list(m.owners),
                        "tags": dict(m.tags),
                        "versions": len(n),
                        "latest_version": n[-1] if n else None,
                        "stages": {s: p.version for s, p in ptrs.items()},
                        "aliases": {a: p.version for a, p in aliases.items()},
                    }
                    for m, n, ptrs, aliases in entries
                ],
            }
        )
        return
    if not entries:
        click.echo("no models registered yet; add one with 'modelreg register NAME --weights FILE'")
        return
    rows = [
        [m.name, str(len(n)), str(n[-1]) if n else "-"]
        + [str(ptrs[s].version) if s in ptrs else "-" for s in stages]
        + [_first_line(m.description, 50)]
        for m, n, ptrs, _ in entries
    ]
    _table(None, ["MODEL", "VERSIONS", "LATEST", *[s.upper() for s in stages], "DESCRIPTION"], rows)


@cli.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def versions(options: _Options, name: str, as_json: bool) -> None:
    """List the versions of model NAME, newest first."""
    from modelreg._refs import parse_ref

    model = parse_ref(name).model
    with options.registry() as registry:
        found = registry.versions(model)
        status = registry.status(model)
    found.reverse()
    if as_json:
        _emit_json(
            {
                "format": "modelreg.versions/1",
                "model": model,
                "versions": [_version_json(v, status.get(v.version)) for v in found],
            }
        )
        return
    if not found:
        click.echo(f"{model} has no versions yet")
        return
    metric_names = list(dict.fromkeys(k for v in found for k in v.metrics))[:3]
    rows = [
        [
            str(v.version),
            _date(v.created),
            v.author.split(" <")[0],
            _status_text(status.get(v.version), v.deprecated),
        ]
        + [_metric_text(v.metrics[m]) if m in v.metrics else "-" for m in metric_names]
        + [_first_line(v.description, 40)]
        for v in found
    ]
    columns = ["VERSION", "CREATED (UTC)", "AUTHOR", "STAGE", *metric_names, "DESCRIPTION"]
    _table(f"{model}: {len(found)} versions", columns, rows)


def _version_json(version: ModelVersion, status: VersionStatus | None) -> dict[str, Any]:
    document = version.to_document()
    document["ref"] = version.ref
    document["stages"] = list(status.stages) if status else []
    document["aliases"] = list(status.aliases) if status else []
    document["archived"] = bool(status and status.archived)
    return document


@cli.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def show(options: _Options, ref: str, as_json: bool) -> None:
    """Show a model (REF is NAME) or one version (NAME/3, NAME@production, ...)."""
    from modelreg._refs import parse_ref

    parsed = parse_ref(ref)
    with options.registry() as registry:
        if parsed.selector == "model":
            _show_model(registry, parsed.model, as_json)
            return
        resolution = registry.resolve(parsed)
        version = resolution.version
        status = registry.status(version.model).get(version.version)
    if as_json:
        document = _version_json(version, status)
        document["resolved_via"] = resolution.describe()
        _emit_json({"format": "modelreg.show/1", "version": document})
        return
    _print_version(version, status, resolution.describe())


def _show_model(registry: Registry, name: str, as_json: bool) -> None:
    model = registry.model(name)
    numbers = registry.version_numbers(name)
    pointers = registry.stage_pointers(name)
    aliases = registry.aliases(name)
    if as_json:
        document = model.to_document()
        document["versions"] = numbers
        document["stages"] = {
            s: {
                "version": p.version,
                "since": p.since.isoformat() if p.since else None,
                "reason": p.reason or None,
            }
            for s, p in pointers.items()
        }
        document["aliases"] = {a: p.version for a, p in aliases.items()}
        _emit_json({"format": "modelreg.show/1", "model": document})
        return
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
    for stage in registry.config.stages:
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
    for alias, pointer in aliases.items():
        lines.append(f"{'@' + alias + ':':<13}version {pointer.version}")
    if model.tags:
        lines.append("tags:        " + ", ".join(f"{k}={v}" for k, v in sorted(model.tags.items())))
    click.echo("\n".join(lines))


def _print_version(version: ModelVersion, status: VersionStatus | None, via: str) -> None:
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
    click.echo("\n".join(lines))


@cli.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def resolve(options: _Options, ref: str, as_json: bool) -> None:
    """Print the version REF names, as NAME/N (for scripts: exit 1 if there is none)."""
    from modelreg._layout import version_path

    with options.registry() as registry:
        resolution = registry.resolve(ref)
    version = resolution.version
    if as_json:
        _emit_json(
            {
                "format": "modelreg.resolve/1",
                "ref": ref,
                "model": version.model,
                "version": version.version,
                "resolved_via": resolution.describe(),
                "manifest": version_path(version.model, version.version),
                "deprecated": version.deprecated,
                "artifacts": [a.to_document() for a in version.artifacts],
            }
        )
        return
    click.echo(version.ref)


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
    from modelreg._history import stage_history
    from modelreg._refs import parse_ref

    model = parse_ref(name).model
    with options.registry() as registry:
        changes = stage_history(registry, model, stage=stage, limit=limit)
    if as_json:
        _emit_json(
            {
                "format": "modelreg.history/1",
                "model": model,
                "changes": [c.to_json() for c in changes],
            }
        )
        return
    if not changes:
        click.echo(f"no stage of {model} has changed yet")
        return

    def version(v: int | None) -> str:
        return "-" if v is None else str(v)

    rows = [
        [
            _date(c.date),
            ("@" if c.is_alias else "") + c.stage,
            f"{version(c.from_version)} → {version(c.to_version)}",
            c.kind,
            c.author.split(" <")[0],
            c.commit[:10],
            f"#{c.pr}" if c.pr else "",
            _first_line(c.reason or c.subject, 50),
        ]
        for c in changes
    ]
    columns = ["DATE", "STAGE", "VERSION", "CHANGE", "AUTHOR", "COMMIT", "PR", "REASON"]
    _table(f"{model}: {len(changes)} stage changes", columns, rows)


# --- checking ----------------------------------------------------------------------------


@cli.command()
@click.option(
    "--base", metavar="REV", help="Also check the change against this revision (e.g. origin/main)."
)
@click.option("--offline", is_flag=True, help="Do not look for artifacts in the DVC cache/remote.")
@click.option("--jobs", type=click.IntRange(min=1), help="Worker processes (default: CPUs).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
@click.pass_context
def validate(
    ctx: click.Context,
    options: _Options,
    base: str | None,
    offline: bool,
    jobs: int | None,
    as_json: bool,
) -> None:
    """Check every registry file against the schemas and the registry's rules."""
    from modelreg._validate import validate as run_validation

    report = run_validation(options.repo, base=base, offline=offline, jobs=jobs)
    if as_json:
        _emit_json(report.to_json())
    else:
        for finding in report.findings:
            click.echo(finding.render())
        scope = "the change is" if report.scope == "changed" else "the registry is"
        summary = (
            f"{len(report.errors)} errors, {len(report.warnings)} warnings in "
            f"{report.files_checked} files"
        )
        if report.ok:
            click.echo(f"ok: {scope} valid ({summary})")
        else:
            click.echo(f"invalid: {summary}")
    if not report.ok:
        ctx.exit(1)


# --- entry point -------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code instead of raising SystemExit."""
    from modelreg._errors import ModelregError

    args = list(sys.argv[1:] if argv is None else argv)
    show_traceback = "--traceback" in args
    try:
        cli.main(args=args, prog_name="modelreg", standalone_mode=False)
    except click.exceptions.Exit as exit_:
        return int(exit_.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except ModelregError as exc:
        if show_traceback:
            import traceback

            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug, not bad input
        if show_traceback:
            import traceback

            traceback.print_exc()
        click.echo(
            f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]} "
            "(this is a bug in modelreg; rerun with --traceback and report it)",
            err=True,
        )
        return 1
    return 0
