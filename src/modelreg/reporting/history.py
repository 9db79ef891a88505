"""``modelreg history``: every change of a model's stage pointers, from ``git log``.

History is the only question that reads history (state never does). It reads
the pointer files' log once (:mod:`modelreg.core.pointer_log`: the commits that
touched them along the first-parent line, so a merged pull request shows as its
merge commit, and the pointer contents before and after each change), and
replays each file's changes as the stack rollback walks. What a change was is
read from the files themselves: one that brings back a file the stage held
below is a rollback, anything else a promotion, so a hand edit, a plain
``git revert`` of a promotion or a ``git revert`` of a rollback shows as exactly
what it did, whatever its message says.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from modelreg.core.errors import GitError
from modelreg.core.git import Git
from modelreg.core.layout import ALIASES, STAGES, model_dir
from modelreg.core.model import format_timestamp
from modelreg.core.pointer_log import (
    Move,
    PointerBlob,
    PointerChange,
    PointerStack,
    read_pointer_blobs,
    read_pointer_log,
)
from modelreg.core.registry import Registry
from modelreg.core.yaml_io import write_text_atomic

__all__ = ["StageChange", "stage_history"]

Kind = Literal["assigned", "promoted", "rolled back", "cleared"]


@dataclass(frozen=True)
class StageChange:
    """One commit that changed which version a stage (or alias) points at."""

    model: str
    stage: str
    is_alias: bool
    commit: str
    author: str
    date: datetime
    from_version: int | None
    to_version: int | None
    kind: Kind
    reason: str
    pr: int | None
    subject: str
    merge: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "stage" if not self.is_alias else "alias": self.stage,
            "commit": self.commit,
            "author": self.author,
            "date": format_timestamp(self.date),
            "from_version": self.from_version,
            "to_version": self.to_version,
            "kind": self.kind,
            "reason": self.reason or None,
            "pr": self.pr,
            "subject": self.subject,
        }


def stage_history(
    registry: Registry,
    model: str,
    *,
    stage: str | None = None,
    rev: str = "HEAD",
    include_aliases: bool = True,
    limit: int | None = None,
    use_cache: bool = True,
) -> list[StageChange]:
    """The changes of ``model``'s stage pointers (one ``stage``, or all stages and
    aliases), newest first, along the first-parent history of ``rev``.

    With ``use_cache`` the changes are kept under ``.git/modelreg/history/`` and a
    later call asks git only about the commits added since (see :class:`_Cache`).
    """
    registry.version_numbers(model)  # a clear error if the model does not exist
    if stage is not None:
        canonical = registry.config.canonical_stage(stage)
        if canonical is None:
            registry.pointer(model, stage)  # raises, naming the stages there are
        paths: list[str] = [f"{model_dir(model)}/{STAGES}/{canonical}.yaml"]
    else:
        paths = [f"{model_dir(model)}/{STAGES}"]
        if include_aliases:
            paths.append(f"{model_dir(model)}/{ALIASES}")
    git = registry.git
    commit = git.resolve_commit(rev)
    cache = _Cache(git, paths) if use_cache else None
    log, blobs = _changes_along(git, commit, paths, cache)
    changes = _classify(model, log, blobs)
    return changes[:limit] if limit is not None else changes


def _classify(
    model: str, log: list[PointerChange], blobs: dict[str, PointerBlob]
) -> list[StageChange]:
    """The changes that moved a pointer, newest first, each named by what it did to
    its file's stack (replayed oldest first, whatever the commit message says)."""
    stacks: dict[str, PointerStack] = {}
    moves: list[Move] = []
    for item in reversed(log):
        moves.append(stacks.setdefault(item.path, PointerStack()).apply(item))
    moves.reverse()
    changes = (_to_change(model, item, move, blobs) for item, move in zip(log, moves, strict=True))
    return [change for change in changes if change is not None]


def _to_change(
    model: str, item: PointerChange, move: Move, blobs: dict[str, PointerBlob]
) -> StageChange | None:
    parts = item.path.split("/")
    if len(parts) != 4 or not parts[3].endswith(".yaml"):
        return None
    absent = PointerBlob(None, "")
    old = blobs.get(item.old_blob, absent) if item.old_blob else absent
    new = blobs.get(item.new_blob, absent) if item.new_blob else absent
    before, after = old.version, new.version
    if before == after and item.old_blob is not None and item.new_blob is not None:
        return None  # the reason or timestamp changed, not the version
    kind: Kind
    if after is None:
        kind = "cleared"
    elif move != "pushed":
        kind = "rolled back"
    elif before is None:
        kind = "assigned"
    else:
        kind = "promoted"
    return StageChange(
        model=model,
        stage=parts[3].removesuffix(".yaml"),
        is_alias=parts[2] == ALIASES,
        commit=item.commit,
        author=item.author,
        date=datetime.fromisoformat(item.date),
        from_version=before,
        to_version=after,
        kind=kind,
        # A rollback restores the earlier file with its old reason; the rollback's own
        # reason is in its commit's trailer (a hand revert has none).
        reason=item.reason if kind == "rolled back" else new.reason or item.reason,
        pr=item.pr,
        subject=item.subject,
        merge=item.merge,
    )


def _changes_along(
    git: Git, commit: str, paths: Sequence[str], cache: _Cache | None
) -> tuple[list[PointerChange], dict[str, PointerBlob]]:
    """Every change to ``paths`` on ``commit``'s first-parent chain, newest first, with
    what each pointer blob says; from the cache where it still holds."""
    log: list[PointerChange] | None = None
    blobs: dict[str, PointerBlob] = {}
    if cache is not None:
        cached = cache.load()
        if cached is not None:
            tip, old_log, blobs = cached
            if tip == commit:
                return old_log, blobs
            if _on_first_parent_chain(git, tip, commit):
                log = read_pointer_log(git, f"{tip}..{commit}", paths) + old_log
    if log is None:
        log, blobs = read_pointer_log(git, commit, paths), {}
    wanted = {
        sha
        for item in log
        for sha in (item.old_blob, item.new_blob)
        if sha is not None and sha not in blobs
    }
    blobs.update(read_pointer_blobs(git, wanted))
    if cache is not None:
        cache.save(commit, log, blobs)
    return log, blobs


def _on_first_parent_chain(git: Git, ancestor: str, commit: str) -> bool:
    """Whether ``ancestor`` lies on ``commit``'s first-parent chain (so the chain's changes
    up to ``ancestor`` are still what they were). A force-push makes this false."""
    try:
        out = git.text("rev-list", "--first-parent", "--parents", f"{ancestor}..{commit}")
    except GitError:  # the old tip no longer exists
        return False
    lines = out.split("\n")
    lines = [line for line in lines if line]
    if not lines:
        return False  # commit is behind the cached tip, or unrelated to it
    oldest = lines[-1].split()
    return len(oldest) > 1 and oldest[1] == ancestor


class _Cache:
    """Stage changes already read, per set of pointer paths, with the commit they lead to.

    The changes of a pointer file along a first-parent chain never change once made,
    so the cache is extended, never trusted blindly: it is used only when its tip is
    still on the requested commit's first-parent chain. It is a convenience: any
    problem reading or writing it means recomputing, never a wrong answer.
    """

    FORMAT = 3

    def __init__(self, git: Git, paths: Sequence[str]) -> None:
        key = hashlib.sha1("\0".join(paths).encode()).hexdigest()
        self.paths = list(paths)
        self.file = _git_dir(git) / "modelreg" / "history" / f"{key}.json"

    def load(self) -> tuple[str, list[PointerChange], dict[str, PointerBlob]] | None:
        try:
            document = json.loads(self.file.read_text("utf-8"))
            if document["format"] != self.FORMAT or document["paths"] != self.paths:
                return None
            log = [_change_from_json(item) for item in document["log"]]
            blobs = {sha: PointerBlob(v[0], v[1]) for sha, v in document["blobs"].items()}
            return str(document["tip"]), log, blobs
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
            return None

    def save(self, tip: str, log: list[PointerChange], blobs: dict[str, PointerBlob]) -> None:
        document = {
            "format": self.FORMAT,
            "paths": self.paths,
            "tip": tip,
            "log": [_change_to_json(item) for item in log],
            "blobs": {sha: [b.version, b.reason] for sha, b in blobs.items()},
        }
        # A read-only repository cannot keep the cache; history still works, uncached.
        with contextlib.suppress(OSError):
            write_text_atomic(self.file, json.dumps(document, separators=(",", ":")))


def _change_to_json(c: PointerChange) -> list[object]:
    # A row, not an object: thousands of them are read on every cached call.
    return [
        c.commit,
        " ".join(c.parents),
        c.author,
        c.date,
        c.subject,
        c.event,
        c.reason,
        c.path,
        c.old_blob,
        c.new_blob,
    ]


def _change_from_json(row: list[Any]) -> PointerChange:
    """One cached change; a malformed one raises what :meth:`_Cache.load` catches."""
    commit, parents, author, date, subject, event, reason, path, old, new = row
    texts = (commit, parents, author, date, subject, event, reason, path)
    if any(type(text) is not str for text in texts):
        raise TypeError("not a cached change")
    if (old is not None and type(old) is not str) or (new is not None and type(new) is not str):
        raise TypeError("not a cached change")
    return PointerChange(
        commit, tuple(parents.split()), author, date, subject, event, reason, path, old, new
    )


def _git_dir(git: Git) -> Path:
    dot_git = git.root / ".git"
    if dot_git.is_dir():
        return dot_git
    # A linked worktree or submodule: .git is a file pointing elsewhere.
    return Path(git.text("rev-parse", "--git-common-dir").strip()).resolve()
