"""The one check every file a manifest names passes before it is read or written.

A version manifest arrives in a pull request, so its artifact ``path`` is
untrusted: pulled as it stands it could write the remote's bytes over
``.git/config`` or ``.git/hooks/pre-commit`` (which git then runs), another
model's weights or another version's ``.dvc`` record. So a path is used only if
it is ``registry/<model>/artifacts/<N>/<file>`` of that very version, and

* :func:`artifact_path_problem` says why a path string is not of that shape
  (``validate`` reports it; every use refuses it);
* :func:`artifact_location` also checks the disk, right before a command reads
  or writes the file: nothing from the repository root down is a symlink (but
  DVC's own link into its cache, see :func:`link_problem`), and the real path
  stays inside the version's artifact folder;
* :func:`artifact_file` says where to read a file artifact's bytes: its file, or
  the cache object DVC's link was checked to resolve to;
* :func:`read_regular_file` reads such a file only if it is a regular file of
  the size the manifest records, so a device, a FIFO or a file far larger than
  claimed is refused before it is read.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from pathlib import Path
from typing import BinaryIO

from modelreg.artifacts.dvc import DvcOut, object_path, read_dvc_config
from modelreg.core.errors import InputError, ManifestError
from modelreg.core.layout import artifact_dir, name_problem, version_path
from modelreg.core.model import Artifact, ModelVersion

__all__ = [
    "MAX_ARTIFACT_BYTES",
    "MAX_LISTING_BYTES",
    "MAX_LOADED_BYTES",
    "artifact_chain",
    "artifact_file",
    "artifact_location",
    "artifact_path_problem",
    "artifact_size_problem",
    "check_loadable",
    "entry_path_problem",
    "link_problem",
    "open_regular_file",
    "read_bounded_file",
    "read_regular_file",
    "record_problems",
]

# No model file is this large; a manifest claiming more is broken or hostile, and a
# command must not start copying or hashing on its word.
MAX_ARTIFACT_BYTES = 1 << 40
# What a command may read into memory in one piece (the server, benchmark): protobuf,
# and so ONNX, cannot parse a single message beyond 2 GiB anyway.
MAX_LOADED_BYTES = 2 << 30
MAX_LISTING_BYTES = 64 << 20  # a folder's DVC listing: about a million files
_MAX_NAME_BYTES = 255  # the longest file name common file systems allow
_FILE_MD5 = re.compile(r"[0-9a-f]{32}")


def _component_problem(name: str) -> str | None:
    """Why ``name`` cannot be one component of an artifact path, or None if it can."""
    if not name:
        return "an empty path component"
    if name in (".", ".."):
        return f"a {name!r} component"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return "a control character"
    if "\\" in name:
        return "a backslash"
    if name.startswith("."):
        # .git, .dvc and their kin (.gitattributes, .gitmodules, .dvcignore) steer the
        # tools that read the folder; no model file needs a hidden name.
        return f"the hidden name {name!r}"
    if name.lower().endswith(".dvc"):
        return f"{name!r}, a name DVC reserves for its records"
    if len(name.encode("utf-8", "surrogatepass")) > _MAX_NAME_BYTES:
        return f"a name longer than {_MAX_NAME_BYTES} bytes"
    return None


def artifact_path_problem(model: str, version: int, path: str) -> str | None:
    """Why ``path`` cannot name an artifact of ``model`` version ``version``, or None.

    The only accepted shape is ``registry/<model>/artifacts/<version>/<file>``: POSIX,
    relative, one file name directly in that version's own folder.
    """
    if name_problem("model", model) or version < 1:
        return f"{model}/{version} is not a version an artifact can belong to"
    prefix = f"{artifact_dir(model, version)}/"
    rule = f"must be a file directly inside {prefix}"
    if not isinstance(path, str):
        return f"{path!r} {rule}"
    if "\x00" in path or "\\" in path or path.startswith("/") or ".." in path.split("/"):
        return f"{path!r} {rule} (no '..', no absolute path)"
    if not path.startswith(prefix):
        return f"{path!r} {rule}, not outside it"
    name = path[len(prefix) :]
    if "/" in name:
        return f"{path!r} {rule} (no subfolder)"
    problem = _component_problem(name)
    if problem:
        return f"{path!r} {rule} (it has {problem})"
    return None


def artifact_size_problem(size: int) -> str | None:
    """Why ``size`` cannot be an artifact's recorded size, or None."""
    if size > MAX_ARTIFACT_BYTES:
        return f"{size} bytes is over the {MAX_ARTIFACT_BYTES}-byte (1 TiB) limit for an artifact"
    return None


def entry_path_problem(relpath: str) -> str | None:
    """Why ``relpath`` (a file inside a folder artifact, from DVC's listing) is unsafe."""
    if not isinstance(relpath, str) or relpath.startswith("/"):
        return f"{relpath!r} is not a relative path"
    for name in relpath.split("/"):
        problem = _component_problem(name)
        if problem:
            return f"{relpath!r} has {problem}"
    return None


def artifact_chain(path: str) -> list[str]:
    """Every prefix of ``path`` from ``registry`` down, which must not be a symlink."""
    parts = path.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def link_problem(root: Path, relpath: str, sub: str, md5: str) -> str | None:
    """Why the symlink ``sub``, met on the way down to the file ``relpath`` whose
    recorded md5 is ``md5``, may not be followed; None for the one link accepted.

    That one is DVC's: with ``cache.type = symlink`` DVC checks a file out as a link to
    its cache object. So a link is accepted only as the file itself, never as a folder
    on the way, and only if it resolves exactly to the object of the recorded md5 in
    the DVC cache this clone configures. Reading it then yields that object's bytes,
    checked against the md5 as any file's are; a write replaces the link, never goes
    through it. A link anywhere else, another object's included, is refused.
    """
    real = os.path.realpath(root / sub)
    if sub != relpath:
        return f"passes through {sub}, a symlink to {real}; replace the link with a plain folder"
    # A folder's object (md5.dir) is a listing, never checked out as a link.
    if _FILE_MD5.fullmatch(md5) and real == os.path.realpath(
        object_path(read_dvc_config(root).cache_dir, md5)
    ):
        return None
    return (
        f"passes through {sub}, a symlink to {real}, not DVC's link to the cache object of "
        f"md5 {md5}; replace the link with a plain file"
    )


def record_problems(path: str, md5: str, size: int, out: DvcOut) -> list[tuple[str, str]]:
    """How the artifact the manifest records (``path``, ``md5``, ``size``) differs from
    its DVC record ``out``, as (field, message): the field ``md5`` or ``size`` of the
    manifest's artifact, or "" for the record itself. ``validate`` reports them all;
    pull refuses the first, since ``dvc pull`` would fetch what the record says."""
    sidecar = f"{path}.dvc"
    name = posixpath.basename(path)
    problems = []
    if out.path != name:
        problems.append(("", f"tracks {out.path!r}, not {name!r}; re-run 'dvc add {path}'"))
    if out.md5 != md5:
        problems.append(
            (
                "md5",
                f"{md5} differs from {out.md5} in {sidecar}; the manifest must record the "
                "tracked content's hash",
            )
        )
    if out.size != size:
        problems.append(
            (
                "size",
                f"{size} differs from {out.size} in {sidecar}; the manifest must record the "
                "tracked content's size",
            )
        )
    return problems


def _where(version: ModelVersion, artifact: Artifact) -> tuple[str, str]:
    """(the manifest file, the field) that name ``artifact``'s path, for messages."""
    try:
        index = version.artifacts.index(artifact)
    except ValueError:
        index = next((i for i, a in enumerate(version.artifacts) if a.name == artifact.name), 0)
    return version_path(version.model, version.version), f"artifacts[{index}].path"


def artifact_location(
    root: Path,
    version: ModelVersion,
    artifact: Artifact,
    entry: str | None = None,
    entry_md5: str = "",
) -> Path:
    """Where ``artifact`` (or the file ``entry``, of md5 ``entry_md5``, inside a folder
    artifact) lives under ``root``, checked right before it is read or written.

    Refuses, with :class:`ManifestError` naming the manifest, the field and the value,
    a path of any other shape, any symlink on the way from ``registry/`` down but the
    one :func:`link_problem` accepts, any component that exists but is not a folder,
    and a real path outside the version's artifact folder. Checked at each use,
    because the disk can change after ``validate`` ran and because a clone that never
    ran ``validate`` pulls too.
    """
    manifest, fld = _where(version, artifact)
    problem = artifact_path_problem(version.model, version.version, artifact.path)
    oversize = artifact_size_problem(artifact.size)
    if problem is None and oversize is not None:
        raise ManifestError(manifest, oversize, field=fld.replace(".path", ".size"))
    if problem is None and entry is not None:
        listed = entry_path_problem(entry)
        if listed is not None:
            problem = f"the DVC listing of the folder {artifact.path!r} is unsafe: {listed}"
    if problem is not None:
        raise ManifestError(manifest, problem, field=fld)
    relpath = artifact.path if entry is None else f"{artifact.path}/{entry}"
    md5 = artifact.md5 if entry is None else entry_md5
    chain = artifact_chain(relpath)
    for depth, sub in enumerate(chain):
        full = root / sub
        try:
            mode = os.lstat(full).st_mode
        except FileNotFoundError:
            break  # nothing deeper exists either: it will be created as plain folders
        except NotADirectoryError:  # pragma: no cover - the previous step saw a folder
            break
        if stat.S_ISLNK(mode):
            link = link_problem(root, relpath, sub, md5)
            if link is not None:
                raise ManifestError(manifest, f"{artifact.path!r} {link}", field=fld)
            return root / relpath  # DVC's link to the object: its real path is the cache
        if depth < len(chain) - 1 and not stat.S_ISDIR(mode):
            raise ManifestError(
                manifest,
                f"{artifact.path!r} passes through {sub}, which is not a folder; remove it",
                field=fld,
            )
    folder = os.path.realpath(root / artifact_dir(version.model, version.version))
    real = os.path.realpath(root / relpath)
    if not real.startswith(folder + os.sep):  # pragma: no cover - the walk above forbids it
        raise ManifestError(
            manifest, f"{artifact.path!r} resolves to {real}, outside {folder}", field=fld
        )
    return root / relpath


def artifact_file(root: Path, version: ModelVersion, artifact: Artifact) -> Path:
    """Where to read a file artifact's bytes: its file in the working tree, or, where
    DVC checked it out as a link into its cache, the cache object that link was just
    checked to resolve to, so that the read itself follows no link."""
    location = artifact_location(root, version, artifact)
    if location.is_symlink():
        return object_path(read_dvc_config(root).cache_dir, artifact.md5)
    return location


def _open_regular(path: Path, what: str) -> tuple[BinaryIO, int]:
    """``path`` opened for reading, with its size, if it is a regular file (not a
    symlink, device or FIFO); :class:`InputError` otherwise. FileNotFoundError passes
    through, for callers that fall back to another copy."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise InputError(
            f"{what}: {path} cannot be opened as a regular file ({exc.strerror})"
        ) from None
    handle = os.fdopen(descriptor, "rb")
    try:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{what}: {path} is not a regular file; remove it and pull again")
    except BaseException:
        handle.close()
        raise
    return handle, info.st_size


def open_regular_file(path: Path, size: int, what: str) -> BinaryIO:
    """``path`` opened for reading if it is a regular file (not a symlink, device or FIFO)
    of exactly ``size`` bytes; :class:`InputError` otherwise, before anything is read.
    FileNotFoundError passes through, for callers that fall back to another copy."""
    handle, found = _open_regular(path, what)
    if found != size:
        handle.close()
        raise InputError(
            f"{what}: {path} is {found} bytes but the manifest records {size}; "
            "run 'modelreg pull' to restore it"
        )
    return handle


def read_bounded_file(path: Path, limit: int, what: str) -> bytes:
    """The whole of ``path`` if it is a regular file of at most ``limit`` bytes (a file
    whose size nothing records, such as a folder's DVC listing); :class:`InputError`
    saying how large it is otherwise, before anything is read."""
    handle, found = _open_regular(path, what)
    with handle:
        data = handle.read(limit + 1) if found <= limit else b""
    if found > limit or len(data) > limit:  # the second: it grew while being read
        raise InputError(f"{what} is {max(found, len(data))} bytes, over the {limit}-byte limit")
    return data


def check_loadable(size: int, what: str, limit: int = MAX_LOADED_BYTES) -> None:
    """:class:`InputError` if a file of the recorded ``size`` is over ``limit``, the most
    a command reads into memory: a manifest cannot make it load any size it claims."""
    if size > limit:
        raise InputError(
            f"{what}: the manifest records {size} bytes, over the {limit}-byte limit "
            "for a file loaded into memory"
        )


def read_regular_file(path: Path, size: int, what: str, *, limit: int = MAX_LOADED_BYTES) -> bytes:
    """The whole of ``path``, checked as by :func:`open_regular_file`, and only if the
    recorded ``size`` passes :func:`check_loadable`."""
    check_loadable(size, what, limit)
    with open_regular_file(path, size, what) as handle:
        return handle.read(size + 1)
