"""``modelreg register``: add version N+1 of a model.

Every input is checked before anything is written. The files are copied under
``registry/<model>/artifacts/<N>/`` and tracked by DVC there, so every version's
weights stay referenced at HEAD (``dvc gc`` can never collect them) and one
version can be fetched by its own ``.dvc`` file. The manifest is written last,
after the artifacts are in the cache (and the remote, when one is set); on any
failure the version's folder is removed again.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from modelreg.artifacts.dvc import dvc_add, dvc_push, read_dvc_config, read_sidecar
from modelreg.core.errors import InputError, ModelregError, StorageError
from modelreg.core.layout import (
    artifact_dir,
    check_model_name,
    model_dir,
    model_manifest_path,
    version_path,
)
from modelreg.core.model import Artifact, Lineage, Model, ModelVersion, Signature
from modelreg.core.registry import Registry
from modelreg.core.schema import format_path, load_schema
from modelreg.core.semver import BUMPS, Bump, SemVer
from modelreg.core.source import WorktreeSource, find_repo_root
from modelreg.ops.change import Change, commit_message
from modelreg.ops.inputs import check_metrics

__all__ = ["Registration", "detect_format", "register", "register_from_dvc", "register_into"]

_FORMATS_BY_SUFFIX = {
    ".onnx": "onnx",
    ".pt": "pytorch",
    ".pth": "pytorch",
    ".safetensors": "safetensors",
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".joblib": "pickle",
}


def detect_format(path: Path) -> str:
    """The artifact format a file's name (or an MLflow model folder) implies."""
    if path.is_dir():
        return "mlflow" if (path / "MLmodel").is_file() else "other"
    return _FORMATS_BY_SUFFIX.get(path.suffix.lower(), "other")


@dataclass(frozen=True)
class Registration:
    version: ModelVersion
    path: str
    """The version manifest, repository-relative."""
    files: tuple[str, ...]
    """Every file written (manifest, model.yaml if new, DVC records), repository-relative."""
    pushed: bool
    commit: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "modelreg.register/1",
            "ref": self.version.ref,
            "path": self.path,
            "files": list(self.files),
            "pushed": self.pushed,
            "commit": self.commit,
            "version": self.version.to_document(),
        }


@dataclass(frozen=True)
class _Planned:
    name: str  # artifact role
    source: Path
    format: str


def _plan_artifacts(
    weights: Path, onnx: Path | None, extra: Mapping[str, Path] | None = None
) -> list[_Planned]:
    planned = []
    for role, path in (("weights", weights), ("onnx", onnx)):
        if path is None:
            continue
        if not path.exists():
            raise InputError(f"--{role}: {path} does not exist")
        fmt = detect_format(path)
        if role == "onnx" and fmt != "onnx":
            raise InputError(f"--onnx: {path} must be an .onnx file")
        planned.append(_Planned("onnx" if fmt == "onnx" else role, path, fmt))
    for role, path in sorted((extra or {}).items()):  # a plot for the model card, say
        if role in ("weights", "onnx"):
            raise InputError(f"an extra artifact cannot be named {role!r}")
        if not path.is_file():
            raise InputError(f"{role}: {path} does not exist or is not a file")
        planned.append(_Planned(role, path, "other"))
    names = [p.source.name for p in planned]
    if len(set(names)) != len(names):
        shared = next(name for name in names if names.count(name) > 1)
        what = "--weights and --onnx" if not extra else "two artifacts"
        raise InputError(f"{what} share the file name {shared!r}; rename one")
    if len({p.name for p in planned}) != len(planned):
        raise InputError("--weights is an ONNX file and so is --onnx; give one of them")
    return planned


def register(
    name: str,
    *,
    weights: Path,
    repo: str | Path | None = None,
    onnx: Path | None = None,
    metrics: Mapping[str, float] | None = None,
    params: Mapping[str, Any] | None = None,
    lineage: Lineage | None = None,
    description: str = "",
    tags: Mapping[str, str] | None = None,
    commit: bool = False,
    push: bool = True,
    now: Callable[[], datetime] | None = None,
    progress: bool = False,
    extra: Mapping[str, Path] | None = None,
    bump: str | None = None,
    semver: str | None = None,
) -> Registration:
    """Register the next version of ``name`` from ``weights`` (and ``onnx``).

    ``extra`` names more files to record with the version, by artifact name (format
    ``other``): the pipeline's ``confusion_matrix`` image, which the model card shows.
    ``push`` uploads the artifacts to the default DVC remote when one is
    configured. ``commit`` commits exactly the files written. ``lineage`` adds
    the pipeline's part (stage, lock hash, data, run); the git commit is HEAD's.
    ``progress`` lets DVC draw its hashing and transfer bars on stderr (a terminal's).
    ``bump`` (``major``, ``minor`` or ``patch``) gives the version the next semantic
    version after the model's latest; ``semver`` gives one explicitly (``1.2.0``,
    ``v1.2.0``), refused unless greater than the latest (see :mod:`modelreg.core.semver`).
    """
    check_model_name(name)
    wanted = _semver_request(bump, semver)
    with Change.open(repo, now=now) as change:
        registry = change.registry
        is_new_model = not (change.root / model_dir(name)).is_dir()
        if is_new_model:
            _refuse_case_twin(registry, name)
        numbers = [] if is_new_model else registry.version_numbers(name)
        number = (numbers[-1] if numbers else 0) + 1
        chosen = _next_semver(registry, name, bool(numbers), bump, wanted)
        done = register_into(
            change,
            name,
            number,
            weights=weights,
            onnx=onnx,
            metrics=metrics,
            params=params,
            lineage=lineage,
            description=description,
            tags=tags,
            push=push,
            progress=progress,
            extra=extra,
            semver=chosen,
        )
        trailers = {"Event": "register", "Model": name, "Version": number, "Semver": chosen}
        message = commit_message(f"register {name} version {number}", trailers, description)
        return replace(done, commit=change.apply(message, commit=commit))


def register_into(
    change: Change,
    name: str,
    number: int,
    *,
    weights: Path,
    onnx: Path | None = None,
    metrics: Mapping[str, float] | None = None,
    params: Mapping[str, Any] | None = None,
    lineage: Lineage | None = None,
    description: str = "",
    tags: Mapping[str, str] | None = None,
    push: bool = True,
    created: datetime | None = None,
    progress: bool = False,
    extra: Mapping[str, Path] | None = None,
    semver: str | None = None,
) -> Registration:
    """Stage version ``number`` of ``name`` in ``change``: the artifacts are copied
    into their folder, added to DVC (and pushed), and the manifest (and a new model's
    model.yaml) staged. Landing is the caller's."""
    root, registry = change.root, change.registry
    registry.config  # noqa: B018 - fails early, with the fix, if there is no registry
    if not (root / ".dvc").is_dir():
        raise StorageError("DVC is not initialised in this repository; run 'modelreg init'")
    planned = _plan_artifacts(weights, onnx, extra)
    checked_metrics = check_metrics(metrics or {})

    signature: Signature | None = None
    opset: int | None = None
    onnx_source = next((p.source for p in planned if p.format == "onnx"), None)
    if onnx_source is not None:
        from modelreg.artifacts.onnx_info import inspect_onnx

        info = inspect_onnx(onnx_source)
        signature, opset = info.signature, info.opset

    is_new_model = not (root / model_dir(name)).is_dir()
    folder = artifact_dir(name, number)
    if (root / folder).exists():
        raise InputError(f"{folder} already exists without a manifest; remove it and retry")
    git = change.git
    head = git.head_commit()
    lineage = replace(
        lineage or Lineage(),
        git_commit=head,
        git_dirty=git.is_dirty([".", ":(exclude)registry"]) if head else None,
        params=params or {},
    )
    draft = ModelVersion(
        model=name,
        version=number,
        created=(created or change.now).replace(microsecond=0),
        artifacts=(),
        author=git.author_identity(),
        description=description,
        lineage=lineage,
        signature=signature,
        metrics=checked_metrics,
        tags=dict(tags or {}),
        semver=semver,
    )
    try:
        change.new_folder(folder)
        targets = []
        for item in planned:
            target = f"{folder}/{item.source.name}"
            if item.source.is_dir():
                shutil.copytree(item.source, root / target, symlinks=False)
            else:
                shutil.copyfile(item.source, root / target)
            targets.append(target)
        for target in [*(f"{t}.dvc" for t in targets), f"{folder}/.gitignore"]:
            change.adopt(target)
        dvc_add(root, targets, progress=progress)
        artifacts = []
        for item, target in zip(planned, targets, strict=True):
            sidecar = f"{target}.dvc"
            out = read_sidecar(sidecar, (root / sidecar).read_bytes())
            artifacts.append(
                Artifact(
                    name=item.name,
                    path=target,
                    md5=out.md5,
                    size=out.size,
                    format=item.format,
                    opset=opset if item.format == "onnx" else None,
                )
            )
        version = replace(draft, artifacts=tuple(artifacts))
        document = version.to_document()
        violations = load_schema("version")(document)
        if violations:  # inputs were checked one by one; this catches their combination
            first = violations[0]
            raise InputError(
                f"the new version would be invalid: {format_path(first.path)}: {first.message}"
            )
        pushed = False
        if push and read_dvc_config(root).remote_url(registry.config.dvc_remote):
            sidecars = [a.path + ".dvc" for a in artifacts]
            dvc_push(root, sidecars, registry.config.dvc_remote, progress=progress)
            pushed = True
    except (ModelregError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise StorageError(f"registering {name} failed: {exc}") from exc
    written = [f"{t}.dvc" for t in targets]
    if (root / folder / ".gitignore").exists():
        written.append(f"{folder}/.gitignore")
    if is_new_model and change.staged(model_manifest_path(name)) is None:
        model = Model(name=name, created=(created or change.now).replace(microsecond=0))
        change.put_manifest(model_manifest_path(name), model.to_document(), "model")
        written.append(model_manifest_path(name))
    path = version_path(name, number)
    change.put_manifest(path, document, "version")
    written.append(path)
    return Registration(version, path, tuple(written), pushed)


def register_from_dvc(
    name: str,
    *,
    repo: str | Path | None = None,
    description: str = "",
    tags: Mapping[str, str] | None = None,
    commit: bool = False,
    push: bool = True,
    now: Callable[[], datetime] | None = None,
    progress: bool = False,
    bump: str | None = None,
    semver: str | None = None,
) -> Registration:
    """Register the next version of ``name`` from its DVC pipeline's outputs.

    ``registry/<name>/model.yaml`` says where they are (its ``pipeline`` section);
    see :mod:`modelreg.ops.from_dvc` for what is read and checked. ``bump`` and
    ``semver`` are :func:`register`'s.
    """
    from modelreg.ops.from_dvc import read_pipeline

    check_model_name(name)
    _semver_request(bump, semver)  # a bad one is refused before the pipeline is read
    root = find_repo_root(Path(repo) if repo is not None else Path.cwd())
    if not (root / model_manifest_path(name)).is_file():
        raise InputError(
            f"{model_manifest_path(name)} does not exist; create it with a 'pipeline' section "
            "naming the training stage and its outputs (docs/registry-format.md)"
        )
    model = Registry(root, WorktreeSource(root)).model(name)
    outputs = read_pipeline(root, name, model.pipeline)
    return register(
        name,
        weights=outputs.weights,
        repo=root,
        onnx=outputs.onnx,
        metrics=outputs.metrics,
        params=outputs.params,
        lineage=outputs.lineage,
        description=description,
        tags=tags,
        commit=commit,
        push=push,
        now=now,
        progress=progress,
        extra=outputs.extra,
        bump=bump,
        semver=semver,
    )


def _semver_request(bump: str | None, semver: str | None) -> SemVer | None:
    """The explicit semver asked for, checked; None for a bump or no semver."""
    if bump is not None and semver is not None:
        raise InputError("give --bump or --semver, not both")
    if bump is not None and bump not in BUMPS:
        raise InputError(f"--bump {bump!r}: use major, minor or patch")
    return SemVer.parse(semver, what="--semver", allow_v=True) if semver is not None else None


def _next_semver(
    registry: Registry, name: str, has_versions: bool, bump: str | None, wanted: SemVer | None
) -> str | None:
    """The new version's semver: ``wanted`` if greater than the model's latest, the
    latest bumped by ``bump``, or None when neither is asked for. Read under the
    change's lock, so two registrations cannot both take the same one."""
    if bump is None and wanted is None:
        return None
    latest = registry.latest_semver(name) if has_versions else None
    current = SemVer.parse(latest.semver) if latest is not None and latest.semver else None
    if wanted is not None:
        if current is not None and latest is not None and not wanted > current:
            raise InputError(
                f"--semver {wanted} is not greater than {current}, the semver of {latest.ref}; "
                f"give a higher one, or --bump major, minor or patch"
            )
        return str(wanted)
    part = cast(Bump, bump)
    return str(current.bump(part) if current is not None else SemVer.first(part))


def _refuse_case_twin(registry: Registry, name: str) -> None:
    twins = [m for m in registry.model_names() if m.lower() == name.lower()]
    if twins:
        raise InputError(
            f"model {twins[0]!r} already exists and differs from {name!r} only in case; "
            f"register it as {twins[0]!r}"
        )
