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
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from modelreg._dvc import DvcConfig, ObjectStore, object_path, read_dvc_config
from modelreg._errors import InputError, StorageError
from modelreg._local_artifacts import file_md5
from modelreg._model import Artifact, ModelVersion

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
    ref: str
    remote: str | None
    artifacts: tuple[PulledArtifact, ...]


@dataclass(frozen=True)
class _Entry:
    """A file of a folder artifact, from the folder's DVC listing."""

    relpath: str
    md5: str


class _Objects(ObjectStore):
    """Verified access to DVC objects in the cache, fetching from the remote on a miss."""

    def __init__(self, root: Path, config: DvcConfig, remote: str | None) -> None:
        super().__init__(root, config, remote)
        self.cache = config.cache_dir
        if remote and self.remote_url is None:
            raise InputError(
                f"no DVC remote named {remote!r}; see 'dvc remote list' for the configured ones"
            )

    @property
    def remote_label(self) -> str:
        return f"remote '{self.remote_name}'"

    def ensure(self, md5: str, what: str) -> str:
        """Make object ``md5`` present and verified in the cache; say where it came from."""
        cached = object_path(self.cache, md5)
        if cached.is_file():
            if file_md5(cached) == _bare(md5):
                return FROM_CACHE
            # A damaged cache object is DVC's own copy, not the only one: drop and refetch.
            with contextlib.suppress(OSError):
                cached.chmod(0o644)
                cached.unlink()
        self._fetch(md5, what, cached)
        return self.remote_label

    def _fetch(self, md5: str, what: str, cached: Path) -> None:
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
                shutil.copyfile(source, partial)
            else:  # pragma: no cover - cloud remotes need network
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
        raw = json.loads(path.read_text("utf-8"))
        entries = [_Entry(str(item["relpath"]), str(item["md5"])) for item in raw]
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise StorageError(f"the DVC listing of {what} is unreadable: {exc}") from exc
    for entry in entries:
        parts = PurePosixPath(entry.relpath).parts
        if not parts or entry.relpath.startswith("/") or ".." in parts or "\\" in entry.relpath:
            raise StorageError(f"the DVC listing of {what} names an unsafe path {entry.relpath!r}")
    return entries


def _inside(root: Path, relpath: str) -> Path:
    target = root / relpath
    resolved_root = root.resolve()
    if not target.parent.resolve().is_relative_to(resolved_root):
        raise InputError(f"{relpath} resolves outside the repository; refusing to write it")
    return target


def _worktree_matches(target: Path, artifact: Artifact, entries: list[_Entry] | None) -> bool:
    if entries is None:
        return target.is_file() and not target.is_symlink() and file_md5(target) == artifact.md5
    if not target.is_dir() or target.is_symlink():
        return False
    present = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    if present != sorted(e.relpath for e in entries):
        return False
    return all(file_md5(target / e.relpath) == e.md5 for e in entries)


def _copy_into_place(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_beside(target) as partial:
        shutil.copyfile(source, partial)
        partial.chmod(0o644)
        partial.replace(target)


def _write_folder(cache: Path, target: Path, entries: list[_Entry]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for entry in entries:
            dest = staging / entry.relpath
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(object_path(cache, entry.md5), dest)
        old = None
        if target.exists() or target.is_symlink():
            old = target.with_name(f".{target.name}.old")
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


def pull(root: Path, version: ModelVersion, *, remote: str | None = None) -> PullResult:
    """Fetch ``version``'s artifacts into the working tree at ``root``, verified by md5."""
    objects = _Objects(root, read_dvc_config(root), remote)
    plans: list[tuple[Artifact, Path, list[_Entry] | None, str]] = []
    # 1. Every object present and verified in the cache; nothing in the tree changes yet.
    for artifact in version.artifacts:
        what = f"{version.ref} {artifact.name} ({artifact.path})"
        target = _inside(root, artifact.path)
        entries: list[_Entry] | None = None
        if artifact.is_directory:
            source = objects.ensure(artifact.md5, what)
            entries = _listing(object_path(objects.cache, artifact.md5), what)
        if _worktree_matches(target, artifact, entries):
            plans.append((artifact, target, entries, IN_WORKTREE))
            continue
        if entries is None:
            source = objects.ensure(artifact.md5, what)
            size = object_path(objects.cache, artifact.md5).stat().st_size
            if size != artifact.size:
                raise StorageError(
                    f"{what}: the object with md5 {artifact.md5} is {size} bytes but the "
                    f"manifest records {artifact.size}; the manifest is wrong, fix its size"
                )
        else:
            for entry in entries:
                fetched = objects.ensure(entry.md5, f"{what} file {entry.relpath}")
                if fetched != FROM_CACHE:
                    source = fetched
        plans.append((artifact, target, entries, source))
    # 2. Write the working-tree files.
    pulled = []
    for artifact, target, entries, source in plans:
        if source != IN_WORKTREE:
            if entries is None:
                _copy_into_place(object_path(objects.cache, artifact.md5), target)
            else:
                _write_folder(objects.cache, target, entries)
        pulled.append(PulledArtifact(artifact, target, source))
    return PullResult(version.ref, objects.remote_name, tuple(pulled))


def verified_bytes(
    root: Path, version: ModelVersion, artifact: Artifact, *, remote: str | None = None
) -> tuple[bytes, str]:
    """One file artifact's content, checked against its md5, and where it came from.

    The working-tree file is used when its content matches; otherwise the object
    is taken from the DVC cache or fetched from the remote (into the cache, as pull
    does), without writing the working tree. The bytes returned are the bytes
    hashed, so nothing can change the file between the check and its use.
    """
    what = f"{version.ref} {artifact.name} ({artifact.path})"
    if artifact.is_directory:
        raise InputError(f"{what} is a folder; only a single-file artifact can be loaded")
    expected = _bare(artifact.md5)
    target = _inside(root, artifact.path)
    with contextlib.suppress(OSError):
        data = target.read_bytes()
        if hashlib.md5(data).hexdigest() == expected:
            return data, IN_WORKTREE
    objects = _Objects(root, read_dvc_config(root), remote)
    source = objects.ensure(artifact.md5, what)
    data = object_path(objects.cache, artifact.md5).read_bytes()
    if hashlib.md5(data).hexdigest() != expected:
        raise StorageError(f"{what}: the cached object changed while it was read; try again")
    return data, source
