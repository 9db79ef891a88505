"""Read registry files from the working tree or from any git revision.

Both sources answer the same three questions (read a file, list a folder, is
this a folder) for repository-relative POSIX paths, and both refuse what the
registry must never follow: a symlink that leads out of the repository, or a
file over the size limit.
"""

from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path
from typing import Protocol

from modelreg.core.errors import InputError, ManifestError, NotFoundError
from modelreg.core.yaml_io import MAX_BYTES

__all__ = ["TreeSource", "WorktreeSource", "find_repo_root"]


def find_repo_root(start: Path) -> Path:
    """The top of the git work tree containing ``start``, found without running git."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    raise InputError(
        f"{start} is not inside a git repository; run 'git init' there, or pass --repo DIR"
    )


class TreeSource(Protocol):
    """A snapshot of the repository's files."""

    label: str
    """How messages name the snapshot: "the working tree" or "revision 1a2b3c4"."""

    def read(self, path: str) -> bytes:
        """The file's bytes; :class:`NotFoundError` if absent."""
        ...

    def list_dir(self, path: str) -> list[str]:
        """Names directly inside the folder ``path``, sorted; [] if it does not exist."""
        ...

    def is_dir(self, path: str) -> bool: ...

    def exists(self, path: str) -> bool: ...

    def is_symlink(self, path: str) -> bool:
        """Whether ``path`` itself is a symlink (an artifact path may pass through none)."""
        ...


class WorktreeSource:
    """The files as they are on disk now.

    Reads use plain strings and one ``lstat`` per file: ``validate`` reads tens of
    thousands of files. Each folder is checked once (and remembered), so neither a
    symlinked file nor a symlinked folder can lead a read out of the repository.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = "the working tree"
        self._root = os.path.realpath(root)
        self._prefix = self._root + os.sep
        self._dirs_ok: dict[str, bool] = {"": True}

    def _outside(self, real: str) -> bool:
        return real != self._root and not real.startswith(self._prefix)

    def _folder_ok(self, folder: str) -> bool:
        """Whether ``folder`` (repository-relative) stays inside the repository.

        Each folder costs one ``lstat``, once: its parent's answer is remembered,
        and only a folder that is itself a symlink needs its real path resolved.
        """
        ok = self._dirs_ok.get(folder)
        if ok is not None:
            return ok
        ok = self._folder_ok(posixpath.dirname(folder))
        if ok:
            full = self._root + "/" + folder
            try:
                if stat.S_ISLNK(os.lstat(full).st_mode):
                    ok = not self._outside(os.path.realpath(full))
            except (FileNotFoundError, NotADirectoryError):
                pass
        self._dirs_ok[folder] = ok
        return ok

    def _full(self, path: str) -> str:
        """The file's path on disk, refusing links that leave the repository."""
        folder = posixpath.dirname(path)
        if not self._folder_ok(folder):
            real = os.path.realpath(self._root + "/" + folder)
            raise ManifestError(
                path,
                f"lies in {real}, reached through a symlink outside the repository; replace the "
                "link with the folder",
            )
        full = self._root + "/" + path
        try:
            is_link = stat.S_ISLNK(os.lstat(full).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            return full
        if is_link:
            real = os.path.realpath(full)
            if self._outside(real):
                raise ManifestError(
                    path,
                    f"is a symlink to {real}, outside the repository; replace it with the file",
                )
        return full

    def read(self, path: str) -> bytes:
        full = self._full(path)
        try:
            with open(full, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size > MAX_BYTES:
                    raise ManifestError(
                        path,
                        f"file is {size} bytes, over the {MAX_BYTES}-byte limit for registry files",
                    )
                return handle.read()
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError(f"{path} does not exist in {self.label}") from None
        except IsADirectoryError:
            raise ManifestError(path, "is a folder, not a file") from None

    def list_dir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(self._full(path)))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(self._full(path))

    def exists(self, path: str) -> bool:
        return os.path.exists(self._full(path))

    def is_symlink(self, path: str) -> bool:
        return os.path.islink(self._root + "/" + path)
