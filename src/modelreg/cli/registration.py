"""Setting a registry up and adding to it: init, register, deprecate, import-mlflow."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    pass

from modelreg.cli.app import (
    Options,
    cli,
    complete_model,
    echo,
    emit_json,
    one_line_text,
    pass_options,
    plain_text,
    terminal_progress,
)


@cli.command()
@click.option(
    "--stage",
    "stages",
    multiple=True,
    metavar="NAME",
    help="A lifecycle stage, in promotion order; repeat it (default: staging, production).",
)
@click.option("--remote", metavar="URL", help="Make this folder or URL DVC's default remote.")
@click.option(
    "--ci",
    type=click.Choice(["github"]),
    help="Also write CI: workflows calling modelreg's reusable ones, CODEOWNERS, pre-commit.",
)
@click.option(
    "--owner",
    "owners",
    multiple=True,
    metavar="@ORG/TEAM",
    help="With --ci: who must review a stage pointer change (CODEOWNERS); repeat it.",
)
@click.option(
    "--workflows-ref",
    metavar="SHA",
    help="With --ci: the commit of modelreg's workflows to pin (default: this release's).",
)
@click.option("--force", is_flag=True, help="With --ci: replace CI files that differ.")
@click.option("--commit", is_flag=True, help="Commit the files written.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def init(
    options: Options,
    stages: tuple[str, ...],
    remote: str | None,
    ci: str | None,
    owners: tuple[str, ...],
    workflows_ref: str | None,
    force: bool,
    commit: bool,
    as_json: bool,
) -> None:
    """Make this git repository a registry (safe to run again: it refreshes the schemas).

    With --ci github it also writes the CI that makes every change a reviewed pull
    request; a file of yours that differs is left alone (its diff is shown) unless
    --force.
    """
    from modelreg.api import init as init_registry
    from modelreg.ops.init import DEFAULT_STAGES

    result = init_registry(
        options.repo,
        stages=stages or DEFAULT_STAGES,
        remote=remote,
        commit=commit,
        ci=ci,
        owners=owners,
        workflows_ref=workflows_ref,
        force=force,
    )
    if as_json:
        emit_json(result.to_json())
        return
    if not result.written:
        echo(f"registry in {result.root} is up to date")
    else:
        echo(f"initialised a registry in {result.root}")
        for path in result.written:
            echo(f"  wrote {path}")
    for skipped in result.skipped:
        echo(f"  kept {skipped.path}: yours differs (--force replaces it with this diff):")
        echo(skipped.diff.rstrip("\n"))
    if result.scaffold:
        echo("ci: pull requests are validated (validate), benchmarked on a GPU runner")
        echo("    (benchmark), promoted and rolled back by pull request (promote, rollback),")
        echo("    and merges publish events and the dashboard (on-merge).")
        if not owners:
            echo("    CODEOWNERS: name who approves a stage change (--owner @org/team).")
        echo("    Set the MODELREG_PR_TOKEN secret and branch protection (docs/ci.md).")
    if result.commit:
        echo(f"committed {result.commit[:12]}")
    elif result.written:
        echo("next: commit these files, then 'modelreg register NAME --weights FILE'")


@cli.command()
@click.argument("name", shell_complete=complete_model)
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
    "--description", default="", callback=plain_text, help="What changed in this version."
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="KEY=VALUE",
    callback=plain_text,
    help="A tag; repeat it.",
)
@click.option(
    "--bump",
    type=click.Choice(["major", "minor", "patch"]),
    help="Give the version the next semantic version after the model's latest "
    "(from 0.0.0 when none has one: 1.0.0, 0.1.0 or 0.0.1).",
)
@click.option(
    "--semver",
    metavar="X.Y.Z",
    help="Give the version this semantic version (e.g. 1.2.0 or 2.0.0-rc.1); "
    "it must be greater than the model's latest.",
)
@click.option("--commit", is_flag=True, help="Commit the new version's files.")
@click.option("--no-push", is_flag=True, help="Do not upload the artifacts to the DVC remote.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def register(
    options: Options,
    name: str,
    from_dvc: bool,
    weights: Path | None,
    onnx: Path | None,
    metrics: str | None,
    params: str | None,
    description: str,
    tags: tuple[str, ...],
    bump: str | None,
    semver: str | None,
    commit: bool,
    no_push: bool,
    as_json: bool,
) -> None:
    """Register the next version of model NAME.

    Either from files (--weights, with --onnx, --metrics, --params), or with
    --from-dvc from the outputs of the last 'dvc repro': dvc.lock gives the
    hashes, stage and parameters, and the version is refused if those outputs
    are stale or the ONNX export failed its parity check. --bump or --semver
    also gives it a semantic version, which NAME@v1.2.3 then names.
    """
    from modelreg.api import load_metrics, load_params, parse_tags, register_from_dvc
    from modelreg.api import register as register_version

    if bump is not None and semver is not None:
        raise click.UsageError("give --bump or --semver, not both")
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
            progress=terminal_progress(),
            bump=bump,
            semver=semver,
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
            progress=terminal_progress(),
            bump=bump,
            semver=semver,
        )
    if as_json:
        emit_json(result.to_json())
        return
    semantic = f" v{result.version.semver}" if result.version.semver else ""
    echo(f"registered {result.version.ref}{semantic} ({result.path})")
    for artifact in result.version.artifacts:
        echo(f"  {artifact.name}: {artifact.path} md5 {artifact.md5} ({artifact.size} bytes)")
    lineage = result.version.lineage
    if lineage.dvc_stage:
        echo(f"  lineage: stage {lineage.dvc_stage}, dvc.lock entry {lineage.dvc_lock_hash}")
    if lineage.mlflow:
        echo(f"  mlflow run {lineage.mlflow.run_id} ({lineage.mlflow.tracking_uri})")
    if result.pushed:
        echo("  artifacts pushed to the DVC remote")
    if result.commit:
        echo(f"committed {result.commit[:12]}")


@cli.command()
@click.argument("name", shell_complete=complete_model)
@click.argument("version", type=click.IntRange(min=1))
@click.option(
    "--reason",
    default="",
    callback=one_line_text,
    help="Why it must not be used (kept in the manifest).",
)
@click.option("--undo", is_flag=True, help="Lift the deprecation instead.")
@click.option("--commit", is_flag=True, help="Commit the change.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def deprecate(
    options: Options,
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
        emit_json(done.to_json())
        return
    if undo:
        echo(f"{done.version.ref} is no longer deprecated ({done.path})")
    else:
        why = f": {reason.strip()}" if reason.strip() else ""
        echo(f"deprecated {done.version.ref}{why} ({done.path})")
        if done.aliases:
            shown = ", ".join(f"@{a}" for a in done.aliases)
            echo(f"warning: {shown} still point at it; move them to another version")
    if done.commit:
        echo(f"committed {done.commit[:12]}")


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
    options: Options,
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

    from modelreg.api import import_mlflow

    # One progress line per version is ours to print; MLflow's bars would interleave.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    done = import_mlflow(
        repo=options.repo,
        tracking_uri=tracking_uri,
        registry_uri=registry_uri,
        models=models,
        progress=lambda line: echo(line, err=True),
    )
    if as_json:
        emit_json(done.to_json())
        done.check()
        return
    for result in done.models:
        if result.failed:
            echo(f"{result.name}: failed, nothing committed ({result.failed})")
            continue
        if result.skipped:
            echo(f"{result.name}: skipped ({result.skipped})")
            continue
        stages = ", ".join(f"{s} v{v}" for s, v in result.stages.items()) or "no stage"
        aliases = ", ".join(f"@{a} v{v}" for a, v in result.aliases.items())
        plural = "s" if result.versions != 1 else ""
        echo(
            f"{result.name}: {result.versions} version{plural}, {stages}"
            + (f", {aliases}" if aliases else "")
            + f"; committed {result.commit[:12] if result.commit else '-'}"
        )
        for note in result.notes:
            echo(f"  note: {note}")
    done.check()  # the contract: a failed import is exit 1, even when others came over
    echo(done.summary() if done.models else "nothing to import: the MLflow registry has no models")
