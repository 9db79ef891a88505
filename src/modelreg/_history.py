"""``modelreg history``: every change of a model's stage pointers, from ``git log``.

History is the only question that reads history (state never does). It asks
git once for the commits that touched the pointer files along the first-parent
line, so a merged pull request shows as its merge commit, and once more for the
pointer contents before and after each change. The versions shown are read
from the files themselves, so a hand edit or a plain ``git revert`` shows as
exactly what it did, whatever its message says.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from modelreg._errors import GitError
from modelreg._git import Git, is_null_sha
from modelreg._layout import ALIASES, STAGES, model_dir
from modelreg._model import format_timestamp
from modelreg._registry import Registry
from modelreg._yaml import top_level_scalars, write_text_atomic

__all__ = ["StageChange", "stage_history"]

_PR_PATTERNS = (
    re.compile(r"^Merge pull request #(\d+)\b"),
    re.compile(r"\(#(\d+)\)\s*$"),
    re.compile(r"^Merge branch '[^']*' into .*\(!(\d+)\)"),
)
_FIELDS = ("sha", "parents", "author", "date", "subject", "event", "reason")
_FORMAT = (
    "%x1e%H%x1f%P%x1f%an <%ae>%x1f%aI%x1f%s%x1f"
    "%(trailers:key=Modelreg-Event,valueonly,separator=%x2C)%x1f"
    "%(trailers:key=Modelreg-Reason,valueonly,separator=%x20)%x1f"
)

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


def _pr_number(subject: str) -> int | None:
    for pattern in _PR_PATTERNS:
        match = pattern.search(subject)
        if match:
            return int(match.group(1))
    return None


@dataclass
class _RawChange:
    header: dict[str, str]
    old_blob: str
    new_blob: str
    path: str


def _parse_log(output: bytes) -> list[_RawChange]:
    changes = []
    for record in output.split(b"\x1e"):
        if not record.strip():
            continue
        head, _, raw = record.rpartition(b"\x1f")
        values = head.decode("utf-8", "replace").split("\x1f")
        header = dict(zip(_FIELDS, values, strict=False))
        fields = raw.lstrip(b"\0\n").split(b"\0")
        for i in range(0, len(fields) - 1, 2):
            meta = fields[i].decode().lstrip(":").split(" ")
            if len(meta) < 5:
                continue
            path = fields[i + 1].decode("utf-8", "surrogateescape")
            changes.append(_RawChange(header, meta[2], meta[3], path))
    return changes


_POINTER_KEYS = frozenset({"version", "reason"})


@dataclass(frozen=True)
class _PointerBlob:
    version: int | None
    reason: str


# Pointer files written by modelreg are canonical: block style, one top-level key per
# line, the reason a plain scalar on its own line. Those (all but hand-written ones)
# are read with two regular expressions; anything else goes through the YAML parser.
_FAST_VERSION = re.compile(rb"^version: ([1-9][0-9]{0,8})\r?$", re.MULTILINE)
_FAST_REASON = re.compile(rb"^reason: ?(.*?)\r?$", re.MULTILINE)
_PLAIN_REASON = re.compile(r"[A-Za-z][\w ,.()/+=-]*[\w.)]|[A-Za-z]")
_NOT_TEXT = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n"})


def _read_pointer_blob(blob: bytes) -> _PointerBlob:
    fast = _read_canonical_pointer(blob)
    if fast is not None:
        return fast
    values = top_level_scalars(blob, _POINTER_KEYS)
    version = values.get("version")
    reason = values.get("reason")
    return _PointerBlob(
        version if isinstance(version, int) and not isinstance(version, bool) else None,
        reason if isinstance(reason, str) else "",
    )


def _read_canonical_pointer(blob: bytes) -> _PointerBlob | None:
    """The blob read without the YAML parser, or None when it is not canonical
    enough for that to give the parser's answer."""
    if b"\n " in blob or b"\n\t" in blob or b"{" in blob or b"[" in blob:
        return None  # indented continuation lines or flow style: let the parser decide
    versions = _FAST_VERSION.findall(blob)
    reasons = _FAST_REASON.findall(blob)
    if len(versions) != 1 or len(reasons) > 1:
        return None
    reason = ""
    if reasons:
        try:
            reason = reasons[0].decode()
        except UnicodeDecodeError:
            return None
        if not _PLAIN_REASON.fullmatch(reason) or reason.lower() in _NOT_TEXT:
            return None
        if ": " in reason or " #" in reason:
            return None
    return _PointerBlob(int(versions[0]), reason)


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
    raw, blobs = _changes_along(git, commit, paths, cache)
    changes = [c for c in (_to_change(model, item, blobs) for item in raw) if c is not None]
    return changes[:limit] if limit is not None else changes


def _to_change(model: str, item: _RawChange, blobs: dict[str, _PointerBlob]) -> StageChange | None:
    parts = item.path.split("/")
    if len(parts) != 4 or not parts[3].endswith(".yaml"):
        return None
    absent = _PointerBlob(None, "")
    old = blobs.get(item.old_blob, absent)
    new = blobs.get(item.new_blob, absent)
    before, after = old.version, new.version
    if before == after and not is_null_sha(item.old_blob) and not is_null_sha(item.new_blob):
        return None  # the reason or timestamp changed, not the version
    header = item.header
    subject = header.get("subject", "")
    event = header.get("event", "")
    kind: Kind
    if after is None:
        kind = "cleared"
    elif "rollback" in event or subject.startswith(('Revert "', "Revert '")):
        kind = "rolled back"
    elif before is None:
        kind = "assigned"
    else:
        kind = "promoted"
    return StageChange(
        model=model,
        stage=parts[3].removesuffix(".yaml"),
        is_alias=parts[2] == ALIASES,
        commit=header.get("sha", ""),
        author=header.get("author", ""),
        date=datetime.fromisoformat(header["date"]),
        from_version=before,
        to_version=after,
        kind=kind,
        # A rollback restores the earlier file with its old reason; the rollback's own
        # reason is in its commit's trailer (a hand revert has none).
        reason=(
            header.get("reason", "").strip()
            if kind == "rolled back"
            else new.reason or header.get("reason", "").strip()
        ),
        pr=_pr_number(subject),
        subject=subject,
        merge=len(header.get("parents", "").split()) > 1,
    )


def _log(git: Git, revisions: str, paths: Sequence[str]) -> list[_RawChange]:
    args = [
        "log",
        "--first-parent",
        "--no-abbrev",
        "--raw",
        "-z",
        "--no-renames",
        f"--format={_FORMAT}",
        revisions,
        "--",
        *paths,
    ]
    return _parse_log(git.run(*args))


def _changes_along(
    git: Git, commit: str, paths: Sequence[str], cache: _Cache | None
) -> tuple[list[_RawChange], dict[str, _PointerBlob]]:
    """Every change to ``paths`` on ``commit``'s first-parent chain, newest first, with
    what each pointer blob says; from the cache where it still holds."""
    raw: list[_RawChange] | None = None
    blobs: dict[str, _PointerBlob] = {}
    if cache is not None:
        cached = cache.load()
        if cached is not None:
            tip, old_raw, blobs = cached
            if tip == commit:
                return old_raw, blobs
            if _on_first_parent_chain(git, tip, commit):
                raw = _log(git, f"{tip}..{commit}", paths) + old_raw
    if raw is None:
        raw, blobs = _log(git, commit, paths), {}
    wanted = {
        sha
        for item in raw
        for sha in (item.old_blob, item.new_blob)
        if not is_null_sha(sha) and sha not in blobs
    }
    blobs.update({sha: _read_pointer_blob(data) for sha, data in _read_blobs(git, wanted).items()})
    if cache is not None:
        cache.save(commit, raw, blobs)
    return raw, blobs


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


def _read_blobs(git: Git, wanted: set[str]) -> dict[str, bytes]:
    ordered = sorted(wanted)
    if not ordered:
        return {}
    with git.blobs() as reader:
        contents = reader.read_many(ordered)
    return {sha: data for sha, data in zip(ordered, contents, strict=True) if data is not None}


class _Cache:
    """Stage changes already read, per set of pointer paths, with the commit they lead to.

    The changes of a pointer file along a first-parent chain never change once made,
    so the cache is extended, never trusted blindly: it is used only when its tip is
    still on the requested commit's first-parent chain. It is a convenience: any
    problem reading or writing it means recomputing, never a wrong answer.
    """

    FORMAT = 1

    def __init__(self, git: Git, paths: Sequence[str]) -> None:
        key = hashlib.sha1("\0".join(paths).encode()).hexdigest()
        self.paths = list(paths)
        self.file = _git_dir(git) / "modelreg" / "history" / f"{key}.json"

    def load(self) -> tuple[str, list[_RawChange], dict[str, _PointerBlob]] | None:
        try:
            document = json.loads(self.file.read_text("utf-8"))
            if document["format"] != self.FORMAT or document["paths"] != self.paths:
                return None
            raw = [_RawChange(r["header"], r["old"], r["new"], r["path"]) for r in document["raw"]]
            blobs = {sha: _PointerBlob(v[0], v[1]) for sha, v in document["blobs"].items()}
            return str(document["tip"]), raw, blobs
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None

    def save(self, tip: str, raw: list[_RawChange], blobs: dict[str, _PointerBlob]) -> None:
        document = {
            "format": self.FORMAT,
            "paths": self.paths,
            "tip": tip,
            "raw": [
                {"header": r.header, "old": r.old_blob, "new": r.new_blob, "path": r.path}
                for r in raw
            ],
            "blobs": {sha: [b.version, b.reason] for sha, b in blobs.items()},
        }
        # A read-only repository cannot keep the cache; history still works, uncached.
        with contextlib.suppress(OSError):
            write_text_atomic(self.file, json.dumps(document, separators=(",", ":")))


def _git_dir(git: Git) -> Path:
    dot_git = git.root / ".git"
    if dot_git.is_dir():
        return dot_git
    # A linked worktree or submodule: .git is a file pointing elsewhere.
    return Path(git.text("rev-parse", "--git-common-dir").strip()).resolve()
