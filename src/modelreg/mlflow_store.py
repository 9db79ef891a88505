"""MLflow's model registry, kept in a modelreg Git registry: a registry-store plugin.

Installed with modelreg under the entry point group ``mlflow.model_registry_store``
as the scheme ``modelreg``, so existing MLflow code works against a Git registry
with one setting::

    export MLFLOW_REGISTRY_URI=modelreg:///abs/path/to/repo

    mlflow.register_model("runs:/<run id>/model", "digits-cnn")
    client.set_registered_model_alias("digits-cnn", "champion", 3)
    mlflow.pyfunc.load_model("models:/digits-cnn@champion")

Every write is a commit on the repository's current branch, in the shape
``modelreg`` itself writes (one file, ``Modelreg-*`` trailers), so review,
``history``, ``diff`` and rollback by revert work the same whichever tool wrote it.
How MLflow's notions map onto the registry, and where they differ, is in
docs/mlflow.md.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlparse

from mlflow.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)
from mlflow.entities.model_registry.model_version_stages import ALL_STAGES, get_canonical_stage
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.model_registry import (
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
)
from mlflow.store.model_registry.abstract_store import AbstractStore
from mlflow.utils.search_utils import SearchModelUtils, SearchModelVersionUtils, SearchUtils

from modelreg.core import model as _model
from modelreg.core.errors import (
    AlreadyExistsError,
    ConflictError,
    GitError,
    ModelregError,
    NotFoundError,
    StorageError,
)
from modelreg.core.registry import Registry, VersionStatus
from modelreg.core.semver import SemVer
from modelreg.core.source import WorktreeSource, find_repo_root

__all__ = ["ModelregStore"]

log = logging.getLogger("modelreg.mlflow")

SCHEME = "modelreg"
T = TypeVar("T")


def _millis(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1000) if moment is not None else None


def _mlflow_error(exc: ModelregError) -> MlflowException:
    """A modelreg error as the MlflowException (and REST status) MLflow code expects."""
    if isinstance(exc, GitError | StorageError):
        code = INTERNAL_ERROR  # the server's side failed (git, DVC): worth a retry
    elif isinstance(exc, NotFoundError):
        code = RESOURCE_DOES_NOT_EXIST
    elif isinstance(exc, ConflictError):
        code = RESOURCE_ALREADY_EXISTS if isinstance(exc, AlreadyExistsError) else INVALID_STATE
    else:
        code = INVALID_PARAMETER_VALUE
    return MlflowException(str(exc), code)


def _number(version: str | int) -> int:
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise MlflowException(
            f"Model version must be an integer, got {version!r}", INVALID_PARAMETER_VALUE
        ) from None
    if number < 1:  # no version has it: not found, as MLflow's own stores answer
        raise MlflowException(
            f"Model version {version!r} not found: versions are numbered from 1",
            RESOURCE_DOES_NOT_EXIST,
        )
    return number


OPTIONS = {"promote": ("commit", "pr"), "base": None}


def options_of(store_uri: str) -> dict[str, str]:
    """The URI's query: ``promote=pr`` makes stage transitions pull requests (against
    ``base``, default origin's default branch) instead of commits on the current branch."""
    options = dict(parse_qsl(urlparse(store_uri).query, keep_blank_values=True))
    for key, value in options.items():
        if key not in OPTIONS:
            raise MlflowException(
                f"{store_uri!r}: unknown option {key!r}; options: {', '.join(OPTIONS)}",
                INVALID_PARAMETER_VALUE,
            )
        allowed = OPTIONS[key]
        if allowed is not None and value not in allowed:
            raise MlflowException(
                f"{store_uri!r}: {key}={value!r}; use {' or '.join(allowed)}",
                INVALID_PARAMETER_VALUE,
            )
    return options


def root_of(store_uri: str) -> Path:
    """The repository a ``modelreg:`` URI names: ``modelreg:///abs/path`` (or a relative
    ``modelreg:path``)."""
    parsed = urlparse(store_uri)
    if parsed.scheme != SCHEME:
        raise MlflowException(
            f"{store_uri!r} is not a modelreg registry URI; write modelreg:///path/to/repo",
            INVALID_PARAMETER_VALUE,
        )
    if parsed.netloc not in ("", "localhost"):
        raise MlflowException(
            f"{store_uri!r}: a modelreg registry is a local repository; write "
            "modelreg:///path/to/repo (three slashes)",
            INVALID_PARAMETER_VALUE,
        )
    path = Path(parsed.path or ".")
    try:
        return find_repo_root(path)
    except ModelregError as exc:
        raise _mlflow_error(exc) from None


class ModelregStore(AbstractStore):
    """MLflow's registry API over a modelreg repository's working tree."""

    def __init__(self, store_uri: str, tracking_uri: str | None = None) -> None:
        super().__init__(store_uri, tracking_uri)
        self.store_uri = store_uri
        self.tracking_uri = tracking_uri
        self.root = root_of(store_uri)
        options = options_of(store_uri)
        self.pull_requests = options.get("promote") == "pr"
        self.base = options.get("base") or None

    # --- plumbing ----------------------------------------------------------------------

    @contextmanager
    def _registry(self) -> Iterator[Registry]:
        """A fresh view of the working tree, with modelreg errors as MLflow's."""
        registry = Registry(self.root, WorktreeSource(self.root))
        try:
            yield registry
        except ModelregError as exc:
            raise _mlflow_error(exc) from None
        finally:
            registry.close()

    def _write(self, action: Callable[[], T]) -> T:
        """Run one write, alone (across the server's threads and worker processes), with
        modelreg errors as MLflow's."""
        from modelreg.ops.change import write_lock

        try:
            with write_lock(self.root):
                return action()
        except ModelregError as exc:
            raise _mlflow_error(exc) from None

    @staticmethod
    def _stage_label(status: VersionStatus | None, stages: Sequence[str]) -> str:
        """MLflow's ``current_stage``: the most advanced stage held, title-cased as MLflow
        writes them; Archived for a version a stage retired; None otherwise."""
        if status is not None and status.stages:
            held = max(status.stages, key=lambda s: stages.index(s) if s in stages else -1)
            return held.title()
        if status is not None and status.archived:
            return "Archived"
        return "None"

    def _version_entity(
        self,
        registry: Registry,
        version: _model.ModelVersion,
        statuses: dict[int, VersionStatus] | None = None,
    ) -> ModelVersion:
        name, number = version.model, version.version
        statuses = registry.status(name) if statuses is None else statuses
        status = statuses.get(number)
        run = version.lineage.mlflow
        source = f"models:/{name}/{number}"
        if run is not None and run.artifact_path:
            source = f"runs:/{run.run_id}/{run.artifact_path}"
        created = _millis(version.created)
        return ModelVersion(
            name=name,
            # An int, as MLflow's own stores answer (its annotation says str; REST sends text).
            version=number,  # type: ignore[arg-type]
            creation_timestamp=created or 0,
            last_updated_timestamp=created,
            description=version.description,
            user_id=version.author,
            current_stage=self._stage_label(status, registry.config.stages),
            source=source,
            run_id=run.run_id if run is not None else None,
            status="READY",
            tags=[ModelVersionTag(k, v) for k, v in version.tags.items()],
            aliases=list(status.aliases) if status is not None else [],
        )

    @staticmethod
    def _versions(registry: Registry, name: str) -> list[_model.ModelVersion]:
        """The versions MLflow sees: all but the deleted ones (tombstones)."""
        return [v for v in registry.versions(name) if v.deleted is None]

    @staticmethod
    def _version(registry: Registry, name: str, number: int) -> _model.ModelVersion:
        version = registry.version(name, number)
        if version.deleted is not None:
            raise MlflowException(
                f"Model Version (name={name}, version={number}) not found", RESOURCE_DOES_NOT_EXIST
            )
        return version

    def _model_entity(self, registry: Registry, name: str) -> RegisteredModel:
        model = registry.model(name)
        if model.deleted is not None:
            raise MlflowException(
                f"Registered Model with name={name} not found", RESOURCE_DOES_NOT_EXIST
            )
        versions = self._versions(registry, name)
        statuses = registry.status(name)
        aliases = registry.aliases(name)
        moments = [m for m in [model.created, *(v.created for v in versions)] if m is not None]
        moments += [p.since for p in registry.stage_pointers(name).values() if p.since]
        moments += [p.since for p in aliases.values() if p.since]
        latest: dict[str, ModelVersion] = {}
        for version in versions:  # ascending: the last of each stage wins
            entity = self._version_entity(registry, version, statuses)
            latest[str(entity.current_stage)] = entity
        return RegisteredModel(
            name=model.name,
            creation_timestamp=_millis(model.created),
            last_updated_timestamp=_millis(max(moments)) if moments else None,
            description=model.description,
            latest_versions=list(latest.values()),
            tags=[RegisteredModelTag(k, v) for k, v in model.tags.items()],
            aliases=[RegisteredModelAlias(a, p.version) for a, p in sorted(aliases.items())],
        )

    @staticmethod
    def _page(items: list[T], max_results: int, page_token: str | None) -> PagedList[T]:
        start = SearchUtils.parse_start_offset_from_page_token(page_token)
        end = start + max_results
        token = SearchUtils.create_page_token(end) if end < len(items) else None
        return PagedList(items[start:end], token)

    @staticmethod
    def _check_max_results(max_results: Any, threshold: int) -> int:
        if not isinstance(max_results, int) or max_results < 0:
            raise MlflowException(
                f"Invalid value for max_results. It must be a non-negative integer, but got "
                f"{max_results}",
                INVALID_PARAMETER_VALUE,
            )
        if max_results > threshold:
            raise MlflowException(
                f"Invalid value for request parameter max_results. It must be at most "
                f"{threshold}, but got value {max_results}",
                INVALID_PARAMETER_VALUE,
            )
        return max_results

    # --- registered models -------------------------------------------------------------

    def create_registered_model(
        self,
        name: str,
        tags: list[RegisteredModelTag] | None = None,
        description: str | None = None,
        deployment_job_id: str | None = None,
    ) -> RegisteredModel:
        from modelreg.ops.edits import create_model

        tag_map = {t.key: t.value for t in tags or []}
        self._write(
            lambda: create_model(
                name, repo=self.root, description=description or "", tags=tag_map, commit=True
            )
        )
        return self.get_registered_model(name)

    def update_registered_model(
        self, name: str, description: str | None, deployment_job_id: str | None = None
    ) -> RegisteredModel:
        from modelreg.ops.edits import update_model

        self._write(
            lambda: update_model(name, repo=self.root, description=description or "", commit=True)
        )
        return self.get_registered_model(name)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """The model's folder moves and its manifests follow, in one commit."""
        from modelreg.ops.edits import rename_model

        self.get_registered_model(name)  # a deleted model is not found
        self._write(lambda: rename_model(name, new_name, repo=self.root, commit=True))
        return self.get_registered_model(new_name)

    def delete_registered_model(self, name: str) -> None:
        """A tombstone, in one commit: the model and its versions are marked deleted (their
        files stay referenced and in DVC) and its aliases go; refused while a stage holds
        one of its versions. Creating the model again revives it."""
        from modelreg.ops.edits import delete_model

        self.get_registered_model(name)  # a deleted model is not found
        self._write(
            lambda: delete_model(name, repo=self.root, reason="deleted through MLflow", commit=True)
        )

    def get_registered_model(self, name: str) -> RegisteredModel:
        _check_name(name)
        with self._registry() as registry:
            return self._model_entity(registry, name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int | None = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        limit = self._check_max_results(max_results, SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD)
        with self._registry() as registry:
            models = [
                self._model_entity(registry, n)
                for n in registry.model_names()
                if registry.model(n).deleted is None
            ]
        found = SearchModelUtils.sort(SearchModelUtils.filter(models, filter_string), order_by)
        return self._page(found, limit, page_token)

    def set_registered_model_tag(self, name: str, tag: RegisteredModelTag) -> None:
        from modelreg.ops.edits import update_model

        self._write(
            lambda: update_model(name, repo=self.root, set_tags={tag.key: tag.value}, commit=True)
        )

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        from modelreg.ops.edits import update_model

        self._write(lambda: update_model(name, repo=self.root, delete_tags=[key], commit=True))

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        """The newest version in each stage; a "stage" shaped like ``v1.2.3`` is the
        version with that semver. MLflow reads ``models:/NAME/v1.2.3`` as a stage (any
        suffix that is not a number or ``latest``) and loads the version this answers."""
        _check_name(name)
        semvers = {s: _semver_of(s) for s in stages or ()}
        if any(semver is not None for semver in semvers.values()):
            found: list[ModelVersion] = []
            for stage, semver in semvers.items():
                if semver is None:
                    found += self.get_latest_versions(name, [stage])
                    continue
                with self._registry() as registry:
                    found.append(self._semver_entity(registry, name, semver))
            return found
        wanted = [get_canonical_stage(s) for s in (stages or ALL_STAGES)]
        with self._registry() as registry:
            latest = {
                v.current_stage: v for v in self._model_entity(registry, name).latest_versions
            }
        return [latest[stage] for stage in dict.fromkeys(wanted) if stage in latest]

    def _semver_entity(self, registry: Registry, name: str, semver: SemVer) -> ModelVersion:
        """The version carrying ``semver``, as MLflow's entity (a deleted one is not found)."""
        if registry.model(name).deleted is not None:
            raise MlflowException(
                f"Registered Model with name={name} not found", RESOURCE_DOES_NOT_EXIST
            )
        number = registry.semver_version(name, semver).version
        return self._version_entity(registry, self._version(registry, name, number))

    # --- versions ----------------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: list[ModelVersionTag] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        local_model_path: str | None = None,
        model_id: str | None = None,
    ) -> ModelVersion:
        """Copy the model at ``source`` into the registry (tracked by DVC) as the next version."""
        from modelreg.core.model import Lineage, MlflowRun
        from modelreg.integrations.tracking_uri import lineage_tracking_uri
        from modelreg.ops.import_mlflow import fetch_model
        from modelreg.ops.register import register

        self.get_registered_model(name)  # MLflow wants the model created first
        artifact_path = None
        if source.startswith("runs:/"):
            run_part, _, artifact_path = source[len("runs:/") :].partition("/")
            run_id = run_id or run_part
        with tempfile.TemporaryDirectory(prefix="modelreg-mlflow-") as scratch:
            local = Path(scratch) / "model"  # the registry's name for the folder
            if local_model_path is not None and Path(local_model_path).is_dir():
                shutil.copytree(local_model_path, local)
            else:
                _read_served_artifacts_locally()
                try:
                    local = fetch_model(source, Path(scratch), self.tracking_uri)
                except MlflowException:
                    raise
                except Exception as exc:
                    raise MlflowException(
                        f"cannot read the model at {source!r}: {exc}", INVALID_PARAMETER_VALUE
                    ) from None
            lineage = Lineage(
                mlflow=MlflowRun(
                    run_id=run_id,
                    tracking_uri=lineage_tracking_uri(self.tracking_uri, self.root),
                    artifact_path=artifact_path or None,
                )
                if run_id
                else None
            )
            done = self._write(
                lambda: register(
                    name,
                    weights=local,
                    repo=self.root,
                    lineage=lineage,
                    description=description or "",
                    tags={t.key: t.value for t in tags or []},
                    commit=True,
                )
            )
        return self.get_model_version(name, str(done.version.version))

    def get_model_version(self, name: str, version: str) -> ModelVersion:
        _check_name(name)
        number = _number(version)
        with self._registry() as registry:
            return self._version_entity(registry, self._version(registry, name, number))

    def update_model_version(self, name: str, version: str, description: str) -> ModelVersion:
        from modelreg.ops.edits import update_version

        number = _number(self.get_model_version(name, version).version)
        self._write(
            lambda: update_version(
                name, number, repo=self.root, description=description or "", commit=True
            )
        )
        return self.get_model_version(name, version)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int | None = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        limit = self._check_max_results(max_results, SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD)
        with self._registry() as registry:
            names = _named_models(filter_string) or registry.model_names()
            known = set(registry.model_names())
            versions = []
            for name in names:
                if name not in known:
                    continue
                statuses = registry.status(name)
                versions += [
                    self._version_entity(registry, v, statuses)
                    for v in self._versions(registry, name)
                ]
        found = SearchModelVersionUtils.filter(versions, filter_string)
        ordered = SearchModelVersionUtils.sort(
            found, order_by or ["last_updated_timestamp DESC", "name ASC", "version_number DESC"]
        )
        return self._page(ordered, limit, page_token)

    def set_model_version_tag(self, name: str, version: str, tag: ModelVersionTag) -> None:
        from modelreg.ops.edits import update_version

        number = _number(self.get_model_version(name, version).version)
        self._write(
            lambda: update_version(
                name, number, repo=self.root, set_tags={tag.key: tag.value}, commit=True
            )
        )

    def delete_model_version_tag(self, name: str, version: str, key: str) -> None:
        from modelreg.ops.edits import update_version

        number = _number(self.get_model_version(name, version).version)
        self._write(
            lambda: update_version(name, number, repo=self.root, delete_tags=[key], commit=True)
        )

    def delete_model_version(self, name: str, version: str) -> None:
        """A tombstone: the manifest stays marked deleted (the number is never reused, the
        files stay in DVC) and MLflow no longer lists it; its aliases go with it."""
        from modelreg.ops.edits import delete_version

        number = _number(self.get_model_version(name, version).version)
        self._write(
            lambda: delete_version(
                name, number, repo=self.root, reason="deleted through MLflow", commit=True
            )
        )

    def get_model_version_download_uri(self, name: str, version: str) -> str:
        """A verified local copy: the version's MLflow model folder (its files pulled from
        the DVC cache or remote and checked by md5), or its artifacts folder."""
        _check_name(name)
        from modelreg.artifacts.pull import pull
        from modelreg.core.layout import artifact_dir

        number = _number(version)
        with self._registry() as registry:
            found = self._version(registry, name, number)
            result = pull(self.root, found)
        folders = [p.location for p in result.artifacts if p.artifact.format == "mlflow"]
        return str(folders[0] if folders else self.root / artifact_dir(name, number))

    # --- stages and aliases ------------------------------------------------------------

    def transition_model_version_stage(
        self, name: str, version: str, stage: str, archive_existing_versions: bool
    ) -> ModelVersion:
        """To a stage of the registry: a promotion (policy gates apply; the version replaced
        is retired, so ``archive_existing_versions`` is what always happens: a stage holds
        one version). To None or Archived: the version leaves every stage it holds."""
        from modelreg.ops.promote import promote

        current = self.get_model_version(name, version)  # a deleted version is not found
        number = _number(current.version)
        with self._registry() as registry:
            target = registry.config.canonical_stage(stage)
        if target is not None and current.current_stage == target.title():
            return current  # already there: nothing to do, as with MLflow's stores
        if target is None and stage.lower() in ("none", "archived"):
            from modelreg.ops.edits import leave_stages

            self._write(
                lambda: leave_stages(
                    name,
                    number,
                    archive=stage.lower() == "archived",
                    repo=self.root,
                    reason="MLflow transition_model_version_stage",
                    commit=True,
                )
            )
            return self.get_model_version(name, version)
        if target is None:
            with self._registry() as registry:
                stages = ", ".join(s.title() for s in registry.config.stages)
            raise MlflowException(
                f"{stage!r} is not a stage of this registry (stages: {stages}, None, Archived)",
                INVALID_PARAMETER_VALUE,
            )
        done = self._write(
            lambda: promote(
                name,
                number,
                target,
                repo=self.root,
                reason="MLflow transition_model_version_stage",
                pr=self.pull_requests,
                base=self.base,
            )
        )
        if done.pull is not None:
            # The stage moves when the pull request merges; until then it is unchanged.
            log.info("opened pull request #%d: %s", done.pull.number, done.pull.html_url)
        return self.get_model_version(name, version)

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        """An alias named like a stage promotes to it (gates apply; with ``?promote=pr``
        as a pull request); any other alias is one commit."""
        from modelreg.ops.change import Pull
        from modelreg.ops.edits import set_alias

        number = _number(self.get_model_version(name, version).version)
        with self._registry() as registry:
            is_stage = registry.config.canonical_stage(alias) is not None
        pull = Pull(base=self.base) if is_stage and self.pull_requests else None
        landed = self._write(
            lambda: set_alias(
                name,
                alias,
                number,
                repo=self.root,
                commit=True,
                pull=pull,
                reason="MLflow set_registered_model_alias",
            )
        )
        if landed is not None and landed.pull is not None:
            log.info("opened pull request #%d: %s", landed.pull.number, landed.pull.html_url)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """An alias named like a stage clears the stage (its version is archived)."""
        from modelreg.ops.edits import delete_alias

        self._write(
            lambda: delete_alias(
                name,
                alias,
                repo=self.root,
                commit=True,
                reason="MLflow delete_registered_model_alias",
            )
        )

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        _check_name(name)
        with self._registry() as registry:
            if alias == "latest":  # MLflow's reserved alias: the newest version
                versions = self._versions(registry, name)
                if not versions:
                    raise MlflowException(
                        f"Registered model {name} has no versions", RESOURCE_DOES_NOT_EXIST
                    )
                return self._version_entity(registry, versions[-1])
            semver = _semver_of(alias)
            if semver is not None:  # models:/NAME@v1.2.3
                return self._semver_entity(registry, name, semver)
            stage = registry.config.canonical_stage(alias)
            if stage is not None:
                registry.model(name)  # an unknown model is not found, as for any alias
                pointer = registry.pointer(name, stage)
            else:
                pointer = registry.aliases(name).get(alias)
            if pointer is None:
                # MLflow's own stores answer a missing alias as an invalid parameter.
                raise MlflowException(
                    f"Registered model alias {alias} not found.", INVALID_PARAMETER_VALUE
                )
            return self._version_entity(registry, self._version(registry, name, pointer.version))


def _semver_of(text: str) -> SemVer | None:
    """The semver a stage or alias argument names (``v1.2.3``), else None."""
    from modelreg.core.semver import semver_of_ref

    if not isinstance(text, str):
        return None
    try:
        return semver_of_ref(text)
    except ModelregError as exc:
        raise MlflowException(str(exc), INVALID_PARAMETER_VALUE) from None


def _read_served_artifacts_locally() -> None:
    """Inside ``mlflow server`` (or ``mlflow ui``) serving artifacts, MLflow 3's default, a
    run's or logged model's files are at ``mlflow-artifacts:/PATH``, which MLflow reads only
    through an HTTP tracking URI, so registering them failed there. In that process PATH is
    under the server's artifacts destination: read it from there, as MLflow's handlers do."""
    import os
    import posixpath

    from mlflow.server.constants import ARTIFACTS_DESTINATION_ENV_VAR, SERVE_ARTIFACTS_ENV_VAR
    from mlflow.store.artifact.artifact_repository_registry import (
        _artifact_repository_registry,
        get_artifact_repository,
    )
    from mlflow.utils.uri import validate_path_is_safe

    destination = os.environ.get(ARTIFACTS_DESTINATION_ENV_VAR)
    if os.environ.get(SERVE_ARTIFACTS_ENV_VAR) != "true" or not destination:
        return

    def served(uri: str, tracking_uri: str | None = None, registry_uri: str | None = None) -> Any:
        path = urlparse(uri).path.lstrip("/")
        validate_path_is_safe(path)  # no '..' out of the destination, as MLflow checks
        location = posixpath.join(destination, path)
        return get_artifact_repository(location, tracking_uri, registry_uri)

    _artifact_repository_registry.register("mlflow-artifacts", served)


def _check_name(name: str) -> None:
    """A name the registry can hold, before it becomes part of a path."""
    from modelreg.core.layout import name_problem

    problem = name_problem("model", name) if isinstance(name, str) else "a model name is text"
    if problem:
        raise MlflowException(problem, INVALID_PARAMETER_VALUE)


def _named_models(filter_string: str | None) -> list[str]:
    """The model a version filter pins with ``name = '...'``, if it does: only its
    versions need reading."""
    if not filter_string:
        return []
    try:
        clauses = SearchModelVersionUtils.parse_search_filter(filter_string)
    except MlflowException:
        return []  # the full filter below reports the error
    return [
        c["value"]
        for c in clauses
        if c.get("key") == "name" and c.get("comparator") == "=" and c.get("type") == "attribute"
    ][:1]
