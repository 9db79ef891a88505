"""Read registry files as committed at a git revision, without touching the work tree.

Kept apart from the working-tree reader so that reading the working tree (every
``show``, ``list``, ``validate``) never loads git's machinery.
"""

from __future__ import annotations

import posixpath

from modelreg.core.errors import ManifestError, NotFoundError
from modelreg.core.git import BlobReader, Git, TreeEntry
from modelreg.core.yaml_io import MAX_BYTES

__all__ = ["GitRevisionSource"]

_MAX_LINK_HOPS = 8


class GitRevisionSource:
    """The files as committed at one revision, read without touching the work tree."""

    def __init__(self, git: Git, rev: str, *, prefix: str = "registry") -> None:
        self.git = git
        self.commit = git.resolve_commit(rev)
        self.label = f"revision {rev}"
        self._entries: dict[str, TreeEntry] = {}
        self._dirs: dict[str, set[str]] = {}
        for entry in git.ls_tree(self.commit, [prefix]):
            self._entries[entry.path] = entry
            parts = entry.path.split("/")
            for depth in range(1, len(parts)):
                parent = "/".join(parts[:depth])
                self._dirs.setdefault(parent, set()).add(parts[depth])
        self._reader: BlobReader | None = None

    def _blob_reader(self) -> BlobReader:
        if self._reader is None:
            self._reader = self.git.blobs()
        return self._reader

    def _entry(self, path: str) -> TreeEntry | None:
        entry = self._entries.get(path)
        hops = 0
        while entry is not None and entry.is_symlink:
            hops += 1
            target = self._blob_reader().read(entry.sha) or b""
            resolved = posixpath.normpath(
                posixpath.join(posixpath.dirname(entry.path), target.decode("utf-8", "replace"))
            )
            if hops > _MAX_LINK_HOPS or resolved.startswith("../") or posixpath.isabs(resolved):
                raise ManifestError(
                    path,
                    f"is a symlink to {target.decode('utf-8', 'replace')!r}, outside the "
                    "repository; replace it with the file",
                )
            entry = self._entries.get(resolved)
        return entry

    def read(self, path: str) -> bytes:
        entry = self._entry(path)
        if entry is None:
            raise NotFoundError(f"{path} does not exist at {self.label}")
        data = self._blob_reader().read(entry.sha)
        if data is None:  # pragma: no cover - ls-tree just listed it
            raise NotFoundError(f"{path} is missing from the object store at {self.label}")
        if len(data) > MAX_BYTES:
            raise ManifestError(
                path,
                f"file is {len(data)} bytes, over the {MAX_BYTES}-byte limit for registry files",
            )
        return data

    def read_many(self, paths: list[str]) -> dict[str, bytes]:
        """Several files at once (one round trip to git); absent paths are left out."""
        entries = [(p, self._entry(p)) for p in paths]
        found = [(p, e) for p, e in entries if e is not None]
        blobs = self._blob_reader().read_many([e.sha for _, e in found])
        return {p: b for (p, _), b in zip(found, blobs, strict=True) if b is not None}

    def list_dir(self, path: str) -> list[str]:
        return sorted(self._dirs.get(path, ()))

    def is_dir(self, path: str) -> bool:
        return path in self._dirs

    def exists(self, path: str) -> bool:
        return path in self._dirs or path in self._entries

    def is_symlink(self, path: str) -> bool:
        entry = self._entries.get(path)
        return entry is not None and entry.is_symlink

    def blob_sha(self, path: str) -> str | None:
        entry = self._entries.get(path)
        return entry.sha if entry else None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
