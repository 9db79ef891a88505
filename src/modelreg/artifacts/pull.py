"""``modelreg pull``: one version's artifacts, fetched by hash and verified.

The version manifest records each artifact's DVC md5, so nothing needs the
revision that registered it: objects are looked up by hash in the DVC cache,
then in the remote. Every byte is checked before it is used:

1. Each object (for a folder: its listing and every file in it) is made
   present in the cache. A cache object whose content does not match its name
   is discarded and fetched again; a fetched object is hashed while it is
   copied into a temporary file and only renamed into the cache if it matches.
2. Only when every object of the version is verified are the working-tree
   files written, each through a temporary file and an atomic rename.

So a missing or corrupted object fails the whole pull with one line, before
any file in the working tree changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelreg.artifacts.dvc import (
    DvcConfig,
    ObjectStore,
    object_path,
    read_dvc_config,
    read_sidecar,
)
from modelreg.artifacts.local import file_md5
from modelreg.artifacts.paths import (
    MAX_LISTING_BYTES,
    artifact_file,
    artifact_location,
    check_loadable,
    entry_path_problem,
    open_regular_file,
    read_bounded_file,
    read_regular_file,
    record_problems,
)
from modelreg.core.errors import InputError, ManifestError, StorageError
from modelreg.core.layout import version_path
from modelreg.core.model import Artifact, ModelVersion
from modelreg.core.yaml_io import MAX_BYTES

__all__ = ["PullResult", "PulledArtifact", "pull", "verified_bytes"]

IN_WORKTREE = "working tree"
FROM_CACHE = "cache"


@dataclass(frozen=True)
class PulledArtifact:
    """One artifact of a pulled version and where its bytes came from."""

    artifact: Artifact
    location: Path  # absolute path in the working tree
    source: str  # "working tree", "cache" or "remote 'NAME'"


@dataclass(frozen=True)
class PullResult:
    """A pulled version: its artifacts, each verified and in place."""

    ref: str
    remote: str | None
    artifacts: tuple[PulledArtifact, ...]

    def to_json(self) -> dict[str, Any]:
        """``pull --json``: where each artifact is now and where its bytes came from."""
        return {
            "format": "modelreg.pull/1",
            "ref": self.ref,
            "remote": self.remote,
            "artifacts": [
                {
                    "name": p.artifact.name,
                    "path": p.artifact.path,
                    "location": str(p.location),
                    "md5": p.artifact.md5,
                    "size": p.artifact.size,
                    "format": p.artifact.format,
                    "source": p.source,
                }
                for p in self.artifacts
            ],
        }


Progress = Callable[[str, int, int], None]
"""Called as bytes move: (what, bytes done, bytes in all); the CLI draws it on a terminal."""

_COPY_CHUNK = 1 << 20


def _copy(source: Path, dest: Path, what: str, progress: Progress | None) -> None:
    """``shutil.copyfile``, reporting each MiB to ``progress``."""
    if progress is None:
        shutil.copyfile(source, dest)
        return
    total = source.stat().st_size
    done = 0
    progress(what, 0, total)
    with open(source, "rb") as reader, open(dest, "wb") as writer:
        while chunk := reader.read(_COPY_CHUNK):
            writer.write(chunk)
            done += len(chunk)
            progress(what, done, total)


@dataclass(frozen=True)
class _Entry:
    """A file of a folder artifact, from the folder's DVC listing."""

    relpath: str
    md5: str


class _Objects(ObjectStore):
    """Verified access to DVC objects in the cache, fetching from the remote on a miss."""

    def __init__(
        self, root: Path, config: DvcConfig, remote: str | None, progress: Progress | None = None
    ) -> None:
        super().__init__(root, config, remote)
        self.cache = config.cache_dir
        self.progress = progress
        if remote and self.remote_url is None:
            raise InputError(
                f"no DVC remote named {remote!r}; see 'dvc remote list' for the configured ones"
            )

    @property
    def remote_label(self) -> str:
        return f"remote '{self.remote_name}'"

    def ensure(self, md5: str, what: str, size: int | None = None) -> str:
        """Make object ``md5`` present and verified in the cache; say where it came from.

        With ``size`` (a file artifact's recorded size), an object of any other size is
        not read at all, nor a folder's listing over :data:`MAX_LISTING_BYTES`: a
        manifest cannot make pull hash or copy a file of any size."""
        cached = object_path(self.cache, md5)
        if cached.is_file():
            _check_listing_size(md5, what, cached.stat().st_size, "the DVC cache")
            if (size is None or cached.stat().st_size == size) and file_md5(cached) == _bare(md5):
                return FROM_CACHE
            # A damaged cache object is DVC's own copy, not the only one: drop and refetch.
            with contextlib.suppress(OSError):
                cached.chmod(0o644)
                cached.unlink()
        self._fetch(md5, what, cached, size)
        return self.remote_label

    def _fetch(self, md5: str, what: str, cached: Path, size: int | None) -> None:
        if not self.remote_url:
            raise StorageError(
                f"{what} (md5 {md5}) is not in the DVC cache and no DVC remote is configured; "
                "add one with 'dvc remote add -d NAME URL' or pull in the clone that registered it"
            )
        cached.parent.mkdir(parents=True, exist_ok=True)
        with _temporary_beside(cached) as partial:
            if self.remote_dir is not None:
                source = object_path(self.remote_dir, md5)
                if not source.is_file():
                    raise StorageError(
                        f"{what} (md5 {md5}) is in neither the DVC cache nor the "
                        f"{self.remote_label} ({self.remote_url}); push it from the clone that "
                        "registered it with 'dvc push'"
                    )
                found = source.stat().st_size
                _check_listing_size(md5, what, found, self.remote_label)
                if size is not None and found != size:
                    raise StorageError(
                        f"{what}: the object with md5 {md5} in the {self.remote_label} is "
                        f"{found} bytes but the manifest records {size}; nothing was written"
                    )
                _copy(source, partial, f"fetch {what}", self.progress)
            else:
                self.require_plugin()
                self._fetch_cloud(md5, partial)
            actual = file_md5(partial)
            if actual != _bare(md5):
                raise StorageError(
                    f"the {self.remote_label} ({self.remote_url}) holds a corrupted object for "
                    f"{what}: its content has md5 {actual}, not {_bare(md5)}; nothing was "
                    f"written. Delete files/md5/{md5[:2]}/{md5[2:]} from the remote, then run "
                    "'dvc push' in a clone that has the good file"
                )
            partial.chmod(0o444)  # DVC keeps cache objects read-only
            partial.replace(cached)

    def _fetch_cloud(self, md5: str, dest: Path) -> None:  # pragma: no cover - needs network
        os.environ.setdefault("DVC_NO_ANALYTICS", "1")
        try:
            from dvc.repo import Repo

            with Repo(str(self.root)) as repo:
                odb = repo.cloud.get_remote_odb(self.remote_name, "pull")
                odb.fs.get_file(odb.oid_to_path(_bare(md5)), str(dest))
        except Exception as exc:
            raise StorageError(
                f"cannot fetch md5 {md5} from the {self.remote_label}: {' '.join(str(exc).split())}"
            ) from exc


def _check_listing_size(md5: str, what: str, found: int, where: str) -> None:
    if md5.endswith(".dir") and found > MAX_LISTING_BYTES:
        raise StorageError(
            f"the DVC listing of {what} (md5 {md5}) in {where} is {found} bytes, over the "
            f"{MAX_LISTING_BYTES}-byte limit for a folder listing; nothing was written"
        )


def _bare(md5: str) -> str:
    return md5.removesuffix(".dir")


@contextlib.contextmanager
def _temporary_beside(target: Path) -> Iterator[Path]:
    """A temporary file in ``target``'s folder (so a rename is atomic), removed on failure."""
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(handle)
    partial = Path(name)
    try:
        yield partial
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def _listing(path: Path, what: str) -> list[_Entry]:
    """The files of a folder object, refusing paths that would leave the folder."""
    try:
        raw = json.loads(read_bounded_file(path, MAX_LISTING_BYTES, f"the DVC listing of {what}"))
        entries = [_Entry(str(item["relpath"]), str(item["md5"])) for item in raw]
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise StorageError(f"the DVC listing of {what} is unreadable: {exc}") from exc
    for entry in entries:
        problem = entry_path_problem(entry.relpath)
        if problem is not None:
            raise StorageError(f"the DVC listing of {what} names an unsafe path: {problem}")
    return entries


def _check_record(version: ModelVersion, artifact: Artifact, target: Path) -> None:
    """The manifest agrees with the artifact's DVC record beside ``target`` (its checked
    place), as ``validate`` requires and ``dvc pull`` assumes: one hash and size for the
    file, whichever tool fetches it."""
    sidecar = target.with_name(f"{target.name}.dvc")
    relpath = f"{artifact.path}.dvc"
    manifest = version_path(version.model, version.version)
    index = version.artifacts.index(artifact)
    try:
        info = os.lstat(sidecar)
        if stat.S_ISLNK(info.st_mode):
            raise ManifestError(relpath, "is a symlink; a DVC record must be a plain file")
        data = read_regular_file(sidecar, info.st_size, relpath, limit=MAX_BYTES)
    except FileNotFoundError:
        raise ManifestError(
            manifest,
            f"{artifact.path} has no DVC record ({relpath} is missing); run 'modelreg validate'",
            field=f"artifacts[{index}].path",
        ) from None
    out = read_sidecar(relpath, data)
    problems = record_problems(artifact.path, artifact.md5, artifact.size, out)
    if problems:
        fld, problem = problems[0]
        if not fld:
            raise ManifestError(relpath, problem)
        raise ManifestError(manifest, problem, field=f"artifacts[{index}].{fld}")


def _writable(root: Path, version: ModelVersion, artifact: Artifact) -> Path:
    """The artifact's place in the working tree, if pull may write there: confined to the
    version's folder, and not something of another kind (a folder where a file goes)."""
    target = artifact_location(root, version, artifact)
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return target
    if stat.S_ISLNK(mode):
        return target  # DVC's link into its cache, as checked: replaced, never written through
    wanted_folder = artifact.is_directory
    if stat.S_ISDIR(mode) != wanted_folder or not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise InputError(
            f"{artifact.path} is {kind} in the working tree, but {version.ref} records "
            f"{'a folder' if wanted_folder else 'a file'} there; remove it, then pull again"
        )
    return target


def _worktree_matches(
    root: Path, version: ModelVersion, artifact: Artifact, entries: list[_Entry] | None
) -> bool:
    if entries is None:
        source = artifact_file(root, version, artifact)
        try:
            with open_regular_file(source, artifact.size, artifact.path) as handle:
                digest = hashlib.md5()
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
        except (OSError, InputError):
            return False
        return digest.hexdigest() == artifact.md5
    target = artifact_location(root, version, artifact)
    try:
        if not stat.S_ISDIR(os.lstat(target).st_mode):
            return False
    except FileNotFoundError:
        return False
    present: list[str] = []
    for folder, dirs, files in os.walk(target):
        for name in dirs + files:
            if not (
                stat.S_ISDIR(mode := os.lstat(Path(folder, name)).st_mode) or stat.S_ISREG(mode)
            ):
                return False  # a symlink or special file: rebuild the folder
        present += [Path(folder, name).relative_to(target).as_posix() for name in files]
    if sorted(present) != sorted(e.relpath for e in entries):
        return False
    return all(file_md5(target / e.relpath) == e.md5 for e in entries)


def _copy_into_place(
    source: Path, target: Path, what: str = "", progress: Progress | None = None
) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_beside(target) as partial:
        _copy(source, partial, f"write {what}", progress)
        partial.chmod(0o644)
        partial.replace(target)


def _write_folder(
    root: Path,
    version: ModelVersion,
    artifact: Artifact,
    target: Path,
    cache: Path,
    entries: list[_Entry],
) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for entry in entries:
            artifact_location(root, version, artifact, entry.relpath, entry.md5)  # the listing
            dest = staging / entry.relpath
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(object_path(cache, entry.md5), dest)
        old = None
        if target.exists() or target.is_symlink():
            old = target.with_name(f".{target.name}.old")
            # Whatever sits at the scratch name (a planted link included) goes first.
            if old.is_symlink() or old.is_file():
                old.unlink()
            shutil.rmtree(old, ignore_errors=True)
            target.replace(old)
        staging.replace(target)
        if old is not None:
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink()
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def pull(
    root: Path,
    version: ModelVersion,
    *,
    remote: str | None = None,
    progress: Progress | None = None,
) -> PullResult:
    """Fetch ``version``'s artifacts into the working tree at ``root``, verified by md5;
    ``progress`` hears how the bytes of each fetch and write advance."""
    # 0. Every path the manifest names is checked before anything is fetched or written.
    for artifact in version.artifacts:
        _check_record(version, artifact, _writable(root, version, artifact))
    objects = _Objects(root, read_dvc_config(root), remote, progress)
    plans: list[tuple[Artifact, list[_Entry] | None, str]] = []
    # 1. Every object present and verified in the cache; nothing in the tree changes yet.
    for artifact in version.artifacts:
        what = f"{version.ref} {artifact.name} ({artifact.path})"
        entries: list[_Entry] | None = None
        if artifact.is_directory:
            source = objects.ensure(artifact.md5, what)
            entries = _listing(object_path(objects.cache, artifact.md5), what)
            for entry in entries:
                artifact_location(root, version, artifact, entry.relpath, entry.md5)
        if _worktree_matches(root, version, artifact, entries):
            plans.append((artifact, entries, IN_WORKTREE))
            continue
        if entries is None:
            source = objects.ensure(artifact.md5, what, artifact.size)
        else:
            for entry in entries:
                fetched = objects.ensure(entry.md5, f"{what} file {entry.relpath}")
                if fetched != FROM_CACHE:
                    source = fetched
        plans.append((artifact, entries, source))
    # 2. Write the working-tree files, each place checked again right before the write.
    pulled = []
    for artifact, entries, source in plans:
        target = _writable(root, version, artifact)
        if source != IN_WORKTREE:
            if entries is None:
                what = f"{version.ref} {artifact.name}"
                _copy_into_place(object_path(objects.cache, artifact.md5), target, what, progress)
            else:
                _write_folder(root, version, artifact, target, objects.cache, entries)
        pulled.append(PulledArtifact(artifact, target, source))
    return PullResult(version.ref, objects.remote_name, tuple(pulled))


def verified_bytes(
    root: Path,
    version: ModelVersion,
    artifact: Artifact,
    *,
    remote: str | None = None,
    fetch: bool = True,
) -> tuple[bytes, str]:
    """One file artifact's content, checked against its md5, and where it came from.

    The working-tree file is used when its content matches; otherwise the object
    is taken from the DVC cache or fetched from the remote (into the cache, as pull
    does), without writing the working tree. The bytes returned are the bytes
    hashed, so nothing can change the file between the check and its use. Without
    ``fetch``, an object the cache lacks is a :class:`StorageError`, not a download.
    """
    what = f"{version.ref} {artifact.name} ({artifact.path})"
    if artifact.is_directory:
        raise InputError(f"{what} is a folder; only a single-file artifact can be loaded")
    expected = _bare(artifact.md5)
    check_loadable(artifact.size, what)  # now: a refusal below would fetch it first
    # No look at the version's DVC record here: the bytes are checked against the
    # manifest's md5 and never written, and a server following a fetched branch reads
    # manifests its working tree has no records for.
    target = artifact_file(root, version, artifact)
    # Only a regular file of the recorded size is read; anything else (a symlink, a FIFO,
    # a stale file) is passed over for the verified copy in the cache.
    with contextlib.suppress(OSError, InputError):
        data = read_regular_file(target, artifact.size, what)
        if hashlib.md5(data).hexdigest() == expected:
            return data, IN_WORKTREE
    objects = _Objects(root, read_dvc_config(root), remote)
    if not fetch and not object_path(objects.cache, artifact.md5).is_file():
        raise StorageError(f"{what} is in neither the working tree nor the DVC cache")
    source = objects.ensure(artifact.md5, what, artifact.size)
    data = read_regular_file(object_path(objects.cache, artifact.md5), artifact.size, what)
    if hashlib.md5(data).hexdigest() != expected:
        raise StorageError(f"{what}: the cached object changed while it was read; try again")
    return data, source
