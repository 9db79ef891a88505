"""A registered version's artifacts as files in the working tree, checked by hash.

Commands that run a model (export, benchmark) take the files where ``dvc pull`` or
``modelreg pull`` put them, and refuse a file whose content is not the one the
manifest records: a stale or tampered file must never be measured as the version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from modelreg.artifacts.paths import artifact_file, open_regular_file
from modelreg.core.errors import InputError, NotFoundError
from modelreg.core.model import Artifact, ModelVersion

_CHUNK = 1 << 20


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def artifact_of(version: ModelVersion, fmt: str) -> Artifact | None:
    return next((a for a in version.artifacts if a.format == fmt), None)


def local_artifact(root: Path, version: ModelVersion, artifact: Artifact) -> Path:
    """The artifact's file in the working tree, verified against its recorded md5.

    The path must be the version's own (see :mod:`modelreg.artifacts.paths`), and the
    file a regular one of the recorded size, checked before a byte of it is hashed.
    Where DVC checked the file out as a link into its cache, the object is what is
    hashed; the path returned is the version's own either way (export writes beside it)."""
    source = artifact_file(root, version, artifact)  # the path checked on the way
    path = root / artifact.path
    what = f"{version.ref} {artifact.name}"
    digest = hashlib.md5()
    try:
        with open_regular_file(source, artifact.size, what) as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        raise NotFoundError(
            f"{artifact.path} ({what}) is not in the working tree; "
            f"run 'modelreg pull {version.ref}' first"
        ) from None
    actual = digest.hexdigest()
    if actual != artifact.md5:
        raise InputError(
            f"{artifact.path} has md5 {actual}, but {version.ref} records {artifact.md5}: "
            f"the file is not this version's; run 'modelreg pull {version.ref}' to restore it"
        )
    return path


@dataclass(frozen=True)
class VersionFiles:
    """A registered version's model files in the working tree, verified by hash."""

    ref: str
    onnx: Path | None
    checkpoint: Path | None  # the torch weights


def version_files(repo: str | Path | None, ref: str) -> VersionFiles:
    """The ONNX file and torch checkpoint of the version ``ref`` names, each checked
    against its recorded md5 (``modelreg pull`` or ``dvc pull`` puts them there)."""
    from modelreg.core.registry import Registry

    with Registry.open(repo) as registry:
        version = registry.resolve(ref).version
        root = registry.root
    onnx = artifact_of(version, "onnx")
    weights = artifact_of(version, "pytorch")
    return VersionFiles(
        version.ref,
        local_artifact(root, version, onnx) if onnx else None,
        local_artifact(root, version, weights) if weights else None,
    )
