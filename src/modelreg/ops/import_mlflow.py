"""``modelreg import-mlflow``: an existing MLflow registry brought into the Git registry.

For each registered model (or the ones named), one commit: the model (description,
tags), every version in MLflow's order (its files downloaded from MLflow's
artifact store, verified, tracked by DVC and pushed; description, tags, the run
as lineage with the run's params and metrics), the stages (the highest version
MLflow has in each; Archived versions recorded as retired) and the aliases.
Versions are numbered anew from 1 in MLflow's order; each keeps its MLflow
number in the ``mlflow.version`` tag, so aliases and stages are mapped through
it. A model already in the Git registry is skipped, so a rerun imports only what
is new. A model's files are written version by version and committed at the end;
if anything fails on the way, its folder is removed and nothing is committed (the
objects already pushed to the DVC remote are harmless), the reason is reported,
and the other models are imported.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelreg.core.errors import InputError, ModelregError, NotFoundError, StorageError
from modelreg.core.extras import require
from modelreg.core.layout import (
    alias_pointer_path,
    check_model_name,
    model_dir,
    model_manifest_path,
    name_problem,
    stage_pointer_path,
)
from modelreg.core.model import Lineage, MlflowRun, Model, format_timestamp
from modelreg.core.redact import redact_text
from modelreg.core.registry import Registry
from modelreg.core.source import WorktreeSource, find_repo_root
from modelreg.integrations.tracking_uri import lineage_tracking_uri
from modelreg.ops.change import Change, commit_message

__all__ = ["ImportedModel", "MlflowImport", "import_mlflow"]

MLFLOW_VERSION_TAG = "mlflow.version"


@dataclass
class ImportedModel:
    name: str
    versions: int = 0
    stages: dict[str, int] = field(default_factory=dict)  # our stage -> our version
    aliases: dict[str, int] = field(default_factory=dict)
    skipped: str = ""  # why there was nothing to import (already here), if so
    failed: str = ""  # why the import failed (nothing of it was committed), if so
    notes: list[str] = field(default_factory=list)
    commit: str | None = None

    def to_json(self) -> dict[str, Any]:
        state = "failed" if self.failed else "skipped" if self.skipped else "imported"
        return {
            "name": self.name,
            "state": state,
            "why": self.failed or self.skipped or None,
            "versions": self.versions,
            "stages": dict(self.stages),
            "aliases": dict(self.aliases),
            "notes": list(self.notes),
            "commit": self.commit,
        }


@dataclass(frozen=True)
class MlflowImport:
    """What one ``import-mlflow`` did, model by model (each its own commit)."""

    models: tuple[ImportedModel, ...]

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.models if m.failed)

    def summary(self) -> str:
        imported = sum(1 for m in self.models if not m.failed and not m.skipped)
        skipped = sum(1 for m in self.models if m.skipped)
        return f"{imported} imported, {skipped} already here, {len(self.failed)} failed"

    def check(self) -> None:
        """Raise if any model failed: the others were imported, but the run did not succeed."""
        failed = self.failed
        if failed:
            more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
            raise ModelregError(
                f"import-mlflow: {len(failed)} of {len(self.models)} models failed "
                f"({', '.join(failed[:5])}{more}); the reasons are above; {self.summary()}"
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "modelreg.import-mlflow/1",
            "models": [m.to_json() for m in self.models],
            "summary": self.summary(),
        }


def _client(tracking_uri: str | None, registry_uri: str | None) -> Any:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

    import mlflow

    for uri in {tracking_uri or mlflow.get_tracking_uri(), registry_uri or tracking_uri or ""}:
        _require_sqlite_file(uri)
    try:
        return MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
    except MlflowException as exc:
        raise StorageError(
            _store_problem(_store_uri(tracking_uri, registry_uri, exc.message), exc.message)
        ) from None


def _require_sqlite_file(uri: str) -> None:
    """MLflow creates a missing sqlite database on first use: a mistyped path (or none
    given, MLflow's default ./mlflow.db) would import nothing and leave an empty
    database behind, in the user's repository. An import only ever reads one."""
    from modelreg.core.redact import redact_uri

    if not uri.startswith("sqlite:///"):
        return
    path = uri.removeprefix("sqlite:///").partition("?")[0]
    if path and path != ":memory:" and not Path(path).is_file():
        raise StorageError(
            f"no MLflow database at {path!r} ({redact_uri(uri)}): give --tracking-uri "
            "(or MLFLOW_TRACKING_URI) the store to import from"
        )


def _store_uri(tracking_uri: str | None, registry_uri: str | None, message: str) -> str:
    """The store MLflow refused: for a file store, the one of the two that is a folder
    (a ``file:`` URI or a plain path); else the registry's. Unset ones come from
    MLflow's environment defaults."""
    import mlflow

    tracking = tracking_uri or mlflow.get_tracking_uri()
    registry = registry_uri or tracking_uri or mlflow.get_registry_uri()
    if "MLFLOW_ALLOW_FILE_STORE" in message:
        for uri in (tracking, registry):
            if uri.startswith("file:") or "://" not in uri:
                return uri
    return registry


def _store_problem(uri: str, message: str) -> str:
    """One line on why MLflow would not open the store at ``uri``, with the fix."""
    from modelreg.core.redact import redact_text, redact_uri

    shown = redact_uri(uri)
    if "MLFLOW_ALLOW_FILE_STORE" in message:
        # MLflow 3 refuses its file store (./mlruns) unless told otherwise. Migrating is
        # the user's decision, so the fix is named instead of the refusal being bypassed.
        folder = uri.removeprefix("file://") if uri.startswith("file://") else uri
        folder = folder.removeprefix("file:")
        return (
            f"MLflow refuses the file store {shown} (its ./mlruns backend is in maintenance "
            f"mode): migrate it with 'mlflow migrate-filestore --source {folder} --target "
            "sqlite:///mlflow.db' and pass --tracking-uri sqlite:///mlflow.db, or set "
            "MLFLOW_ALLOW_FILE_STORE=true to read it as it is"
        )
    first = " ".join(redact_text(message).split())[:300]
    return f"cannot open the MLflow store {shown}: {first}"


def _mlflow_tags(
    tags: dict[str, str], what: str, result: ImportedModel | None = None
) -> dict[str, str]:
    """The tags the registry can hold (MLflow allows keys it cannot, e.g. with spaces);
    the others are named in the result's notes."""
    from modelreg.ops.inputs import TAG_KEY

    kept = {k: v for k, v in tags.items() if TAG_KEY.match(k) and len(v) <= 5000}
    dropped = sorted(set(tags) - set(kept))
    if dropped and result is not None:
        shown = ", ".join(map(repr, dropped))
        result.notes.append(f"{what}: tags the registry cannot hold, not imported: {shown}")
    return kept


def import_mlflow(
    *,
    repo: str | Path | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    models: Sequence[str] = (),
    now: Callable[[], datetime] | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> MlflowImport:
    """Import ``models`` (default: every registered model) from the MLflow registry at
    ``registry_uri`` (default: ``tracking_uri``'s) into the repository at ``repo``."""
    require("modelreg import-mlflow", "mlflow")
    from mlflow.exceptions import MlflowException

    root = find_repo_root(Path(repo) if repo is not None else Path.cwd())
    registry = Registry(root, WorktreeSource(root))
    config = registry.config
    client = _client(tracking_uri, registry_uri)
    try:
        names = list(models) or sorted(m.name for m in _all_models(client))
    except MlflowException as exc:
        # MLflow's messages name the URL it called, credentials included.
        if "MLFLOW_ALLOW_FILE_STORE" in exc.message:  # a registry store opened lazily
            raise StorageError(
                _store_problem(_store_uri(tracking_uri, registry_uri, exc.message), exc.message)
            ) from None
        raise StorageError(f"cannot read the MLflow registry: {redact_text(exc.message)}") from None
    results = []
    for name in names:
        result = ImportedModel(name)
        results.append(result)
        problem = _name_problem(name)
        if problem:
            result.failed = problem
            continue
        if (root / model_dir(name)).exists():
            if _in_head(root, name):
                result.skipped = "already in the Git registry"
            else:
                result.failed = (
                    f"{model_dir(name)} exists but is not committed; remove or commit it first"
                )
            continue
        try:
            with Change.open(root, now=now) as change:
                _import_model(change, config, client, result, tracking_uri, progress)
        except MlflowException as exc:
            result.failed = f"MLflow answered: {redact_text(exc.message)}"
        except ModelregError as exc:
            result.failed = redact_text(str(exc))
    return MlflowImport(tuple(results))


def _in_head(root: Path, name: str) -> bool:
    done = subprocess.run(
        ["git", "cat-file", "-e", f"HEAD:{model_dir(name)}/model.yaml"],
        cwd=root,
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def _name_problem(name: str) -> str:
    try:
        check_model_name(name)
    except InputError as exc:
        return str(exc)
    return ""


def _all_versions(client: Any, name: str) -> list[Any]:
    found, token = [], None
    while True:
        page = client.search_model_versions(
            f"name = '{name}'", max_results=10_000, page_token=token
        )
        found += list(page)
        token = page.token
        if not token:
            return found


def _all_models(client: Any) -> list[Any]:
    found, token = [], None
    while True:
        page = client.search_registered_models(max_results=1000, page_token=token)
        found += list(page)
        token = page.token
        if not token:
            return found


def _import_model(
    change: Change,
    config: Any,
    client: Any,
    result: ImportedModel,
    tracking_uri: str | None,
    progress: Callable[[str], None],
) -> None:
    """Stage every version, stage pointer and alias of one MLflow model in ``change``,
    and commit them as one commit."""
    from modelreg.ops.register import register_into

    name = result.name
    try:
        model = client.get_registered_model(name)
        versions = sorted(_all_versions(client, name), key=lambda v: int(v.version))
        ours: dict[int, int] = {}  # MLflow's version -> ours
        for number, version in enumerate(versions, start=1):
            progress(f"{name}: version {version.version} -> {number}")
            with tempfile.TemporaryDirectory(prefix="modelreg-import-") as scratch:
                location = client.get_model_version_download_uri(name, version.version)
                local = fetch_model(location, Path(scratch), tracking_uri)
                recorded_uri = lineage_tracking_uri(tracking_uri, change.root)
                lineage, metrics = _lineage(client, version, recorded_uri, result)
                tags = _mlflow_tags(dict(version.tags), f"version {version.version}", result)
                tags[MLFLOW_VERSION_TAG] = str(version.version)
                register_into(
                    change,
                    name,
                    number,
                    weights=local,
                    lineage=lineage,
                    metrics=metrics,
                    params=dict(lineage.params),
                    description=version.description or "",
                    tags=tags,
                    created=_moment(version.creation_timestamp),
                )
            ours[int(version.version)] = number
        result.versions = len(versions)
        archived = _stages(change, config, name, versions, ours, result)
        _model_fields(change, name, model, archived)
        moment = format_timestamp(change.now)
        for alias, target in sorted(dict(model.aliases).items()):
            problem = name_problem("alias", alias)
            if problem is not None:
                result.notes.append(f"alias {alias!r} not imported: {problem}")
                continue
            if int(target) not in ours:
                result.notes.append(f"alias {alias} points at a version MLflow no longer has")
                continue
            stage = config.canonical_stage(alias)
            if stage is not None:
                # An alias named like a stage is that stage (MLflow 3 users promote with
                # aliases); MLflow's own stage, where it has one, is kept.
                held = result.stages.get(stage)
                if held is None:
                    document = {
                        "version": ours[int(target)],
                        "since": moment,
                        "reason": f"imported from MLflow's alias '{alias}'",
                    }
                    change.put_manifest(stage_pointer_path(name, stage), document, "pointer")
                    result.stages[stage] = ours[int(target)]
                elif held != ours[int(target)]:
                    result.notes.append(
                        f"alias {alias!r} (version {ours[int(target)]}) not imported: MLflow's "
                        f"{stage.title()} stage holds version {held}, and {stage} keeps it"
                    )
                continue
            document = {"version": ours[int(target)], "since": moment}
            change.put_manifest(alias_pointer_path(name, alias), document, "pointer")
            result.aliases[alias] = ours[int(target)]
        plural = "s" if len(versions) != 1 else ""
        subject = f"import {name} from MLflow ({len(versions)} version{plural})"
        result.commit = change.commit(commit_message(subject, {"Event": "import", "Model": name}))
    except (ModelregError, KeyboardInterrupt):
        raise
    except Exception as exc:
        if type(exc).__name__ == "MlflowException":
            raise
        raise StorageError(f"importing {name} failed: {exc}") from exc


def fetch_model(uri: str, scratch: Path, tracking_uri: str | None) -> Path:
    """The MLflow model at ``uri`` downloaded into ``scratch``: a folder is always named
    ``model`` there (the name the registry gives it), whatever the source calls it."""
    from mlflow.artifacts import download_artifacts

    downloaded = Path(
        download_artifacts(
            artifact_uri=uri, dst_path=str(scratch / "download"), tracking_uri=tracking_uri
        )
    )
    if not downloaded.is_dir():
        return downloaded
    return downloaded.rename(scratch / "model")


def _moment(millis: int | None) -> datetime:
    if not millis:
        return datetime.now(UTC)
    return datetime.fromtimestamp(millis / 1000, UTC)


def _lineage(
    client: Any, version: Any, tracking_uri: str | None, result: ImportedModel
) -> tuple[Lineage, dict[str, float]]:
    """The run that produced the version: its id, experiment, params and metrics."""
    from mlflow.exceptions import MlflowException

    from modelreg.ops.inputs import check_metrics

    if not version.run_id:
        return Lineage(), {}
    try:
        run = client.get_run(version.run_id)
    except MlflowException:  # the run was deleted, or lives on another tracking server
        return Lineage(mlflow=MlflowRun(run_id=version.run_id, tracking_uri=tracking_uri)), {}
    try:
        metrics = check_metrics(dict(run.data.metrics))
    except InputError as exc:
        result.notes.append(f"version {version.version}: run metrics not imported: {exc}")
        metrics = {}
    lineage = Lineage(
        params=dict(run.data.params),
        mlflow=MlflowRun(
            run_id=version.run_id,
            tracking_uri=tracking_uri,
            experiment_id=run.info.experiment_id,
        ),
    )
    return lineage, metrics


def _model_fields(change: Change, name: str, model: Any, archived: Sequence[int]) -> None:
    imported = Model(
        name=name,
        description=model.description or "",
        tags=_mlflow_tags(dict(model.tags), "the model"),
        created=_moment(model.creation_timestamp).replace(microsecond=0),
        archived=tuple(sorted(archived)),
    )
    change.put_manifest(model_manifest_path(name), imported.to_document(), "model")


def _stages(
    change: Change,
    config: Any,
    name: str,
    versions: Sequence[Any],
    ours: dict[int, int],
    result: ImportedModel,
) -> list[int]:
    """MLflow's stages as pointers: the highest version in each, the others retired.

    Archived versions are the ones a stage gave up: they join the retired list of the
    last stage held. With no stage held, they are returned, for model.yaml's own
    ``archived`` list.
    """
    by_stage: dict[str, list[int]] = {}
    for version in versions:
        by_stage.setdefault(version.current_stage, []).append(ours[int(version.version)])
    archived = by_stage.pop("Archived", [])
    by_stage.pop("None", None)
    moment = format_timestamp(change.now)
    pointers: dict[str, dict[str, Any]] = {}
    for mlflow_stage, numbers in sorted(by_stage.items()):
        stage = config.canonical_stage(mlflow_stage)
        if stage is None:
            raise NotFoundError(
                f"{name}: MLflow has versions in {mlflow_stage}, which this registry does not "
                f"declare (stages: {', '.join(config.stages)}); add it to registry/registry.yaml"
            )
        current = max(numbers)
        others = sorted(set(numbers) - {current})
        if others:
            result.notes.append(
                f"{mlflow_stage} held versions {', '.join(map(str, [*others, current]))} in "
                f"MLflow; {stage} points at {current}, the others are recorded as retired"
            )
        pointers[stage] = {"version": current, "since": moment, "reason": "imported from MLflow"}
        if others:
            pointers[stage]["retired"] = others
        result.stages[stage] = current
    held = [s for s in config.stages if s in pointers]
    if archived and held:
        last = pointers[held[-1]]
        last["retired"] = sorted(set(last.get("retired", [])) | set(archived))
        archived = []
    for stage, document in pointers.items():
        change.put_manifest(stage_pointer_path(name, stage), document, "pointer")
    return archived
