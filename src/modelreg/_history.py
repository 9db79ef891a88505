"""``modelreg history``: every change of a model's stage pointers, from ``git log``.

History is the only question that reads history (state never does). It asks
git once for the commits that touched the pointer files along the first-parent
line, so a merged pull request shows as its merge commit, and once more for the
pointer contents before and after each change. The versions shown are read
from the files themselves, so a hand edit or a plain ``git revert`` shows as
exactly what it did, whatever its message says.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from modelreg._errors import ManifestError
from modelreg._git import Git, is_null_sha
from modelreg._layout import ALIASES, STAGES, model_dir
from modelreg._model import format_timestamp
from modelreg._registry import Registry
from modelreg._yaml import parse_yaml

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


def _version_in(blob: bytes | None, path: str) -> int | None:
    if blob is None:
        return None
    try:
        document = parse_yaml(blob, path)
    except ManifestError:
        return None
    value = document.get("version") if isinstance(document, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _reason_in(blob: bytes | None, path: str) -> str:
    if blob is None:
        return ""
    try:
        document = parse_yaml(blob, path)
    except ManifestError:
        return ""
    reason = document.get("reason") if isinstance(document, dict) else None
    return reason if isinstance(reason, str) else ""


def stage_history(
    registry: Registry,
    model: str,
    *,
    stage: str | None = None,
    rev: str = "HEAD",
    include_aliases: bool = True,
    limit: int | None = None,
) -> list[StageChange]:
    """The changes of ``model``'s stage pointers (one ``stage``, or all stages and
    aliases), newest first, along the first-parent history of ``rev``."""
    registry.version_numbers(model)  # a clear error if the model does not exist
    if stage is not None:
        canonical = registry.config.canonical_stage(stage)
        if canonical is None:
            registry.pointer(model, stage)  # raises, naming the stages there are
        paths: Sequence[str] = [f"{model_dir(model)}/{STAGES}/{canonical}.yaml"]
    else:
        paths = [f"{model_dir(model)}/{STAGES}"]
        if include_aliases:
            paths = [*paths, f"{model_dir(model)}/{ALIASES}"]
    git = registry.git
    commit = git.resolve_commit(rev)
    args = [
        "log",
        "--first-parent",
        "--no-abbrev",
        "--raw",
        "-z",
        "--no-renames",
        f"--format={_FORMAT}",
    ]
    if limit is not None:
        args.append(f"--max-count={limit}")
    raw = _parse_log(git.run(*args, commit, "--", *paths))
    blobs = _read_blobs(git, raw)

    changes = []
    for item in raw:
        parts = item.path.split("/")
        if len(parts) != 4 or not parts[3].endswith(".yaml"):
            continue
        old = None if is_null_sha(item.old_blob) else blobs.get(item.old_blob)
        new = None if is_null_sha(item.new_blob) else blobs.get(item.new_blob)
        before, after = _version_in(old, item.path), _version_in(new, item.path)
        if before == after and old is not None and new is not None:
            continue  # the reason or timestamp changed, not the version
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
        changes.append(
            StageChange(
                model=model,
                stage=parts[3].removesuffix(".yaml"),
                is_alias=parts[2] == ALIASES,
                commit=header.get("sha", ""),
                author=header.get("author", ""),
                date=datetime.fromisoformat(header["date"]),
                from_version=before,
                to_version=after,
                kind=kind,
                reason=_reason_in(new, item.path) or header.get("reason", "").strip(),
                pr=_pr_number(subject),
                subject=subject,
                merge=len(header.get("parents", "").split()) > 1,
            )
        )
    return changes


def _read_blobs(git: Git, raw: list[_RawChange]) -> dict[str, bytes]:
    wanted = sorted(
        {sha for item in raw for sha in (item.old_blob, item.new_blob) if not is_null_sha(sha)}
    )
    if not wanted:
        return {}
    with git.blobs() as reader:
        contents = reader.read_many(wanted)
    return {sha: data for sha, data in zip(wanted, contents, strict=True) if data is not None}
