"""``modelreg diff BASE HEAD``: the registry events between two revisions.

What a deploy job needs after a merge, as GTO's ``check-ref`` gives it: which
versions were registered, deprecated or changed, and which stages and aliases
moved, to which version, from which. Events come from the state of the two
revisions, not from commit messages, so a squash merge, a hand edit or a plain
``git revert`` reports exactly what it did.

Only the files that differ are read: one ``git diff --raw`` names them with
their old and new blobs, and one ``git cat-file --batch`` reads those. A stage
pointer that changed is a rollback when its new file is one the stage held
earlier at BASE (see :func:`modelreg.core.pointer_log.pointer_stack`), a promotion
otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from modelreg.core.errors import ManifestError
from modelreg.core.escape import markdown_cell, markdown_code
from modelreg.core.findings import check_manifest_bytes
from modelreg.core.git import Git, is_null_sha
from modelreg.core.layout import (
    ALIASES,
    CONFIG_PATH,
    MODEL_FILE,
    REGISTRY_DIR,
    STAGES,
    VERSIONS,
    version_number_from_filename,
)
from modelreg.core.pointer_log import pointer_stack
from modelreg.core.source import find_repo_root

__all__ = [
    "RegistryDiff",
    "RegistryEvent",
    "describe",
    "diff_revisions",
    "github_outputs",
    "render_markdown",
]

# In the order events are listed in, within one model.
EventKind = Literal[
    "config_changed",
    "registered",
    "metadata_changed",
    "deprecated",
    "undeprecated",
    "removed",
    "promoted",
    "rolled_back",
    "cleared",
    "canary_changed",
    "alias_set",
    "alias_removed",
]
_ORDER: tuple[EventKind, ...] = get_args(EventKind)


@dataclass(frozen=True)
class RegistryEvent:
    """One change between the two revisions."""

    event: EventKind
    model: str | None
    path: str
    version: int | None = None
    stage: str | None = None
    alias: str | None = None
    previous: int | None = None
    """For a stage or alias: the version it pointed at in BASE."""
    detail: str = ""
    fields: tuple[str, ...] = ()
    """For ``metadata_changed`` and ``config_changed``: the top-level fields that differ."""

    @property
    def label(self) -> str:
        return self.event.replace("_", " ")

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "model": self.model,
            "version": self.version,
            "ref": f"{self.model}/{self.version}" if self.model and self.version else None,
            "stage": self.stage,
            "alias": self.alias,
            "previous": self.previous,
            "fields": list(self.fields),
            "detail": self.detail or None,
            "path": self.path,
        }


@dataclass(frozen=True)
class RegistryDiff:
    base: str
    head: str
    base_commit: str
    head_commit: str
    events: tuple[RegistryEvent, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "modelreg.diff/1",
            "base": self.base,
            "head": self.head,
            "base_commit": self.base_commit,
            "head_commit": self.head_commit,
            "events": [e.to_json() for e in self.events],
        }


def github_outputs(diff: RegistryDiff) -> dict[str, str]:
    """The diff as GitHub Actions step outputs, one line each, for deploy jobs:
    ``changed``, ``count``, ``models`` (JSON list), ``moves`` (JSON list of the stages
    that moved: model, stage, version, previous, event) and ``events`` (JSON)."""
    moves = [
        {
            "model": e.model,
            "stage": e.stage,
            "version": e.version,
            "previous": e.previous,
            "event": e.event,
        }
        for e in diff.events
        if e.event in ("promoted", "rolled_back", "cleared")
    ]

    def compact(value: object) -> str:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=True)

    return {
        "changed": "true" if diff.events else "false",
        "count": str(len(diff.events)),
        "models": compact(sorted({e.model for e in diff.events if e.model})),
        "moves": compact(moves),
        "events": compact([e.to_json() for e in diff.events]),
    }


@dataclass(frozen=True)
class _Change:
    path: str
    old: str | None
    new: str | None


def diff_revisions(repo: str | Path | None, base: str, head: str = "HEAD") -> RegistryDiff:
    """The registry events between revisions ``base`` and ``head`` of ``repo``."""
    git = Git(find_repo_root(Path(repo) if repo is not None else Path.cwd()))
    base_commit = git.resolve_commit(base)
    head_commit = git.resolve_commit(head)
    changes = _changed_files(git, base_commit, head_commit)
    blobs = _read(git, changes)
    events: list[RegistryEvent] = []
    for change in changes:
        events += _events(git, change, blobs, base, head, base_commit)
    events.sort(key=_sort_key)
    return RegistryDiff(base, head, base_commit, head_commit, tuple(events))


def _changed_files(git: Git, base: str, head: str) -> list[_Change]:
    out = git.run(
        "diff", "--raw", "-z", "--no-renames", "--no-abbrev", base, head, "--", REGISTRY_DIR
    )
    fields = out.split(b"\0")
    changes = []
    for i in range(0, len(fields) - 1, 2):
        meta = fields[i].decode().lstrip(":").split(" ")
        if len(meta) < 5:
            continue
        path = fields[i + 1].decode("utf-8", "surrogateescape")
        old, new = (None if is_null_sha(sha) else sha for sha in (meta[2], meta[3]))
        changes.append(_Change(path, old, new))
    return changes


def _read(git: Git, changes: list[_Change]) -> dict[str, bytes]:
    wanted = sorted(
        {sha for c in changes if _kind(c.path) for sha in (c.old, c.new) if sha is not None}
    )
    if not wanted:
        return {}
    with git.blobs() as reader:
        contents = reader.read_many(wanted)
    return {sha: data for sha, data in zip(wanted, contents, strict=True) if data is not None}


def _kind(path: str) -> str | None:
    """Which schema a registry file follows, for the files that carry events."""
    if path == CONFIG_PATH:
        return "registry"
    parts = path.split("/")
    if len(parts) == 3 and parts[2] == MODEL_FILE:
        return "model"
    if len(parts) == 4 and parts[2] == VERSIONS and version_number_from_filename(parts[3]):
        return "version"
    if len(parts) == 4 and parts[2] in (STAGES, ALIASES) and parts[3].endswith(".yaml"):
        return "pointer"
    return None


def _document(
    change: _Change, sha: str | None, blobs: Mapping[str, bytes], kind: str, rev: str
) -> dict[str, Any] | None:
    if sha is None:
        return None
    data = blobs.get(sha)
    if data is None:
        raise ManifestError(change.path, f"cannot be read at {rev} (blob {sha[:10]} is missing)")
    document, findings = check_manifest_bytes(change.path, data, kind)
    if findings:
        first = findings[0]
        raise ManifestError(
            first.path,
            f"{first.message} (at {rev}; run 'modelreg validate' there)",
            line=first.line,
            field=first.field,
        )
    return dict(document)


def _events(
    git: Git,
    change: _Change,
    blobs: Mapping[str, bytes],
    base: str,
    head: str,
    base_commit: str,
) -> list[RegistryEvent]:
    kind = _kind(change.path)
    if kind is None:
        return []
    before = _document(change, change.old, blobs, kind, base)
    after = _document(change, change.new, blobs, kind, head)
    parts = change.path.split("/")
    if kind == "registry":
        fields = _changed_fields(before or {}, after or {})
        return [RegistryEvent("config_changed", None, change.path, fields=fields)] if fields else []
    model = parts[1]
    if kind == "model":
        if before is None or after is None:
            return []  # a model appears or goes with its versions; those are the events
        fields = _changed_fields(before, after)
        return (
            [RegistryEvent("metadata_changed", model, change.path, fields=fields)] if fields else []
        )
    if kind == "version":
        number = version_number_from_filename(parts[3])
        return _version_events(model, number, change.path, before, after)
    name = parts[3].removesuffix(".yaml")
    if parts[2] == ALIASES:
        return _alias_events(model, name, change.path, before, after)
    return _stage_events(git, model, name, change, before, after, base_commit)


def _changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(k for k in {*before, *after} if before.get(k) != after.get(k)))


def _version_events(
    model: str,
    number: int | None,
    path: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> list[RegistryEvent]:
    if after is None:
        return [RegistryEvent("removed", model, path, version=number)]
    if before is None:
        deprecated = after.get("deprecation")
        events = [RegistryEvent("registered", model, path, version=number)]
        if deprecated:
            events.append(
                RegistryEvent("deprecated", model, path, version=number, detail=_why(deprecated))
            )
        return events
    events = []
    was, now = before.pop("deprecation", None), after.pop("deprecation", None)
    if now and not was:
        events.append(RegistryEvent("deprecated", model, path, version=number, detail=_why(now)))
    elif was and not now:
        events.append(RegistryEvent("undeprecated", model, path, version=number))
    fields = _changed_fields(before, after)
    if fields:
        events.append(RegistryEvent("metadata_changed", model, path, version=number, fields=fields))
    return events


def _why(deprecation: Mapping[str, Any]) -> str:
    return str(deprecation.get("reason") or "")


def _alias_events(
    model: str, alias: str, path: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[RegistryEvent]:
    old = int(before["version"]) if before else None
    if after is None:
        return [RegistryEvent("alias_removed", model, path, alias=alias, previous=old)]
    new = int(after["version"])
    if new == old:
        return []
    return [RegistryEvent("alias_set", model, path, version=new, alias=alias, previous=old)]


def _stage_events(
    git: Git,
    model: str,
    stage: str,
    change: _Change,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    base_commit: str,
) -> list[RegistryEvent]:
    old = int(before["version"]) if before else None
    path = change.path
    if after is None:
        return [RegistryEvent("cleared", model, path, stage=stage, previous=old)]
    new = int(after["version"])
    reason = str(after.get("reason") or "")
    if new == old:
        canary_before, canary_after = (before or {}).get("canary"), after.get("canary")
        if canary_before == canary_after:
            return []  # only the note or the time changed
        if canary_after:
            detail = f"v{canary_after['version']} takes {float(canary_after['weight']):.0%}"
        else:
            detail = "no canary"
        return [
            RegistryEvent(
                "canary_changed", model, path, version=new, stage=stage, previous=old, detail=detail
            )
        ]
    earlier = pointer_stack(git, base_commit, path)[:-1] if old is not None else []
    restored = any(state.blob == change.new for state in earlier)
    event: EventKind = "rolled_back" if restored else "promoted"
    if restored:
        reason = ""  # the restored file's reason is the old promotion's, not the rollback's
    return [
        RegistryEvent(event, model, path, version=new, stage=stage, previous=old, detail=reason)
    ]


def _sort_key(event: RegistryEvent) -> tuple[str, int, int, str]:
    return (
        event.model or "",
        _ORDER.index(event.event),
        event.version or 0,
        event.stage or event.alias or "",
    )


def _version_text(number: int | None) -> str:
    return "-" if number is None else f"v{number}"


def describe(event: RegistryEvent) -> tuple[str, str, str, str, str]:
    """(event, model, version, stage or alias, detail) as people read them."""
    where = event.stage or (f"@{event.alias}" if event.alias else "")
    if event.stage or event.alias:
        version = f"{_version_text(event.previous)} → {_version_text(event.version)}"
    else:
        version = _version_text(event.version) if event.version else ""
    detail = event.detail or ", ".join(event.fields)
    return (event.label, event.model or "", version, where, detail)


def render_markdown(diff: RegistryDiff) -> str:
    """The events as a Markdown table, for a job summary or a pull request."""
    span = (
        f"{markdown_code(diff.base)} ({diff.base_commit[:10]}) and "
        f"{markdown_code(diff.head)} ({diff.head_commit[:10]})"
    )
    if not diff.events:
        return f"No registry changes between {span}.\n"
    lines = [
        f"### Registry changes between {span}",
        "",
        "| Event | Model | Version | Stage | Detail |",
        "|---|---|---|---|---|",
    ]
    for event in diff.events:
        lines.append("| " + " | ".join(markdown_cell(cell) for cell in describe(event)) + " |")
    return "\n".join(lines) + "\n"
