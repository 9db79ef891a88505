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
from datetime import datetime
from pathlib import Path
from typing import Any

from modelreg.core.errors import ConflictError, InputError
from modelreg.core.escape import plain_text_problem
from modelreg.core.layout import stage_pointer_path, version_path
from modelreg.core.model import Deprecation, ModelVersion
from modelreg.ops.change import Change, commit_message

__all__ = ["Deprecated", "deprecate"]


@dataclass(frozen=True)
class Deprecated:
    version: ModelVersion
    path: str
    aliases: tuple[str, ...]  # aliases that still point at the version
    commit: str | None

    def to_json(self) -> dict[str, Any]:
        deprecation = self.version.deprecation
        return {
            "format": "modelreg.deprecate/1",
            "ref": self.version.ref,
            "deprecated": deprecation is not None,
            "reason": deprecation.reason if deprecation else None,
            "path": self.path,
            "aliases": list(self.aliases),
            "commit": self.commit,
        }


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
    reason = reason.strip()
    with Change.open(repo, now=now) as change:
        version = change.registry.version(name, number)
        status = change.registry.status(name).get(number)
        path = version_path(name, number)
        if commit:
            change.refuse_dirty(path)
        if undo:
            if version.deprecation is None:
                raise ConflictError(f"{version.ref} is not deprecated; nothing to undo")
            changed = replace(version, deprecation=None)
        else:
            if version.deprecation is not None:
                since = version.deprecation.date.strftime("%Y-%m-%d")
                why = f": {version.deprecation.reason}" if version.deprecation.reason else ""
                raise ConflictError(
                    f"{version.ref} is already deprecated (since {since}{why}); "
                    "use --undo to lift it"
                )
            if status is not None and status.stages:
                raise ConflictError(
                    f"{version.ref} is in {', '.join(status.stages)}; promote another version "
                    "there (or roll back) before deprecating it"
                )
            if status is not None and status.canary_in:
                raise ConflictError(
                    f"{version.ref} is the canary in {', '.join(status.canary_in)}; take the "
                    "canary out of that pointer before deprecating it"
                )
            changed = replace(version, deprecation=Deprecation(change.now, reason))
        # Decided on this clone's stage pointers: a version promoted (or made a canary)
        # upstream since the last pull must not be deprecated here.
        stages = [] if undo else change.registry.config.stages
        change.check_concurrent(
            path,
            f"the manifest of {version.ref}",
            prefix=None,
            read=[
                (stage_pointer_path(version.model, s), f"{version.model}'s {s} pointer")
                for s in stages
            ],
        )
        change.put_manifest(path, changed.to_document(), "version")
        subject = f"{'lift the deprecation of' if undo else 'deprecate'} {name} version {number}"
        trailers = {
            "Event": "undeprecate" if undo else "deprecate",
            "Model": name,
            "Version": number,
            "Reason": reason,
        }
        sha = change.apply(commit_message(subject, trailers, reason), commit=commit)
    aliases = status.aliases if status is not None else ()
    return Deprecated(changed, path, tuple(aliases), sha)
