"""``modelreg deprecate``: mark a version as one that must not be used.

Deprecation is one of the fields a merged version may change (``x-mutable``),
so it is an edit of the version file, reviewed like any other: the version stays
in the registry and its weights stay in DVC, but validation refuses a stage that
points at it, and promotion refuses it. A version a stage holds cannot be
deprecated until the stage moves on; an alias pointing at it is only reported.
``undo`` lifts the deprecation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from modelreg._errors import ConflictError, InputError
from modelreg._escape import plain_text_problem
from modelreg._git import Git
from modelreg._layout import schema_comment, version_path
from modelreg._model import Deprecation, ModelVersion
from modelreg._registry import Registry
from modelreg._source import WorktreeSource, find_repo_root
from modelreg._yaml import write_bytes_atomic, write_text_atomic
from modelreg._yaml_edit import edit_manifest_text

__all__ = ["Deprecated", "deprecate"]


@dataclass(frozen=True)
class Deprecated:
    version: ModelVersion
    path: str
    aliases: tuple[str, ...]  # aliases that still point at the version
    commit: str | None


def deprecate(
    name: str,
    number: int,
    *,
    repo: str | Path | None = None,
    reason: str = "",
    undo: bool = False,
    commit: bool = False,
    now: Callable[[], datetime] | None = None,
) -> Deprecated:
    """Deprecate version ``number`` of ``name`` (or, with ``undo``, lift it)."""
    problem = plain_text_problem(reason, one_line=True)
    if problem is not None:
        raise InputError(f"--reason {problem}")
    root = find_repo_root(Path(repo) if repo is not None else Path.cwd())
    registry = Registry(root, WorktreeSource(root))
    version = registry.version(name, number)
    status = registry.status(name).get(number)
    path = version_path(name, number)
    git = Git(root)
    if commit and git.is_dirty([path]):
        raise ConflictError(
            f"{path} has uncommitted changes; commit or discard them before "
            f"{'lifting the deprecation' if undo else 'deprecating'} with --commit"
        )

    if undo:
        if version.deprecation is None:
            raise ConflictError(f"{version.ref} is not deprecated; nothing to undo")
        changed = replace(version, deprecation=None)
    else:
        if version.deprecation is not None:
            since = version.deprecation.date.strftime("%Y-%m-%d")
            why = f": {version.deprecation.reason}" if version.deprecation.reason else ""
            raise ConflictError(
                f"{version.ref} is already deprecated (since {since}{why}); use --undo to lift it"
            )
        if status is not None and status.stages:
            held = ", ".join(status.stages)
            raise ConflictError(
                f"{version.ref} is in {held}; promote another version there (or roll back) "
                "before deprecating it"
            )
        moment = (now or (lambda: datetime.now(UTC)))().replace(microsecond=0)
        changed = replace(version, deprecation=Deprecation(moment, reason.strip()))

    before = (root / path).read_bytes()
    # An edit of a file someone wrote: comments and key order outside the change stay.
    text = edit_manifest_text(
        before.decode("utf-8"), changed.to_document(), header=schema_comment(path, "version")
    )
    write_text_atomic(root / path, text)
    sha = None
    if commit:
        event = "undeprecate" if undo else "deprecate"
        subject = f"{'lift the deprecation of' if undo else 'deprecate'} {name} version {number}"
        body = f"{reason.strip()}\n\n" if reason.strip() else ""
        trailers = f"Modelreg-Event: {event}\nModelreg-Model: {name}\nModelreg-Version: {number}\n"
        if reason.strip():
            trailers += f"Modelreg-Reason: {reason.strip()}\n"
        try:
            sha = git.commit_paths(f"{subject}\n\n{body}{trailers}", [path])
        except BaseException:
            # A commit that fails (say, it cannot be signed) leaves the file as it was.
            write_bytes_atomic(root / path, before)
            raise
    aliases = status.aliases if status is not None else ()
    return Deprecated(changed, path, tuple(aliases), sha)
