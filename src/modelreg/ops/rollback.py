"""``modelreg rollback``: put a stage back on the version it held before.

A promotion pushes onto a stage's history and a rollback pops it. The pointer
file carries the link: ``previous`` names the version the stage held before the
current one, and git history holds the exact file of that time. The rollback
replays the pointer's changes along the first-parent line (so a merged or
squashed pull request counts as the commit that made the change) into that
stack, and reverts the commit on top: the pointer file becomes byte for byte
what it was, as ``git revert`` would make it. Rolling back twice walks back two
promotions, never forward again, and a hand ``git revert`` of the promotion
commit gives the same state.

``--to VERSION`` walks back further, to the named version, in one commit. When
history cannot show the earlier file (a shallow clone, a rewritten history, a
hand-written pointer), the rollback writes a fresh pointer to the earlier
version instead, in the same one-commit shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelreg.core.errors import ConflictError
from modelreg.core.escape import markdown_text
from modelreg.core.findings import check_manifest_bytes
from modelreg.core.git import Git
from modelreg.core.layout import stage_pointer_path, version_path
from modelreg.core.model import StagePointer, format_timestamp
from modelreg.core.pointer_log import pointer_stack
from modelreg.ops.change import Change, Pull, PullSpec, commit_message
from modelreg.ops.landing import BRANCH_PREFIX, LandedChange
from modelreg.ops.promote import clean_reason, pointer_bytes

if TYPE_CHECKING:
    from modelreg.integrations.github import GitHub

__all__ = ["Rollback", "rollback"]


@dataclass(frozen=True)
class Rollback(LandedChange):
    model: str
    stage: str
    version: int
    """The version the stage holds after the rollback."""
    rolled_back: int
    """The version it held before."""
    reverted: tuple[str, ...]
    """The commits whose pointer change this undoes (empty when a fresh pointer was written)."""
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "modelreg.rollback/1",
            "model": self.model,
            "stage": self.stage,
            "version": self.version,
            "rolled_back": self.rolled_back,
            "reverted": list(self.reverted),
            "reason": self.reason or None,
            **self.landed_json(),
        }


@dataclass(frozen=True)
class _Step:
    """One earlier state of the pointer: the commit that left it, and its file."""

    commit: str
    subject: str
    content: bytes
    pointer: StagePointer


def rollback(
    name: str,
    stage: str,
    *,
    repo: str | Path | None = None,
    to: int | None = None,
    reason: str = "",
    pr: bool = False,
    base: str | None = None,
    github: GitHub | None = None,
    now: Callable[[], datetime] | None = None,
) -> Rollback:
    """Move ``stage`` of ``name`` back to the version it held before (or to ``to``)."""
    reason = clean_reason(reason)
    with Change.open(repo, now=now, pull=Pull(github, base) if pr else None) as change:
        registry, git = change.registry, change.git
        current = registry.pointer(name, stage)
        canonical = registry.config.canonical_stage(stage)
        assert canonical is not None  # pointer() refused an undeclared stage
        stage, name = canonical, registry.model(name).name
        path = stage_pointer_path(name, stage)
        change.refuse_dirty(path)
        if current is None:
            raise ConflictError(f"{name} has no version in {stage}; there is nothing to roll back")
        if to is not None:
            registry.version(name, to)  # a clear error for a version that does not exist
            if to == current.version:
                raise ConflictError(f"{name}/{to} is already in {stage}; nothing to roll back")
        elif current.previous is None:
            raise ConflictError(
                f"{stage} of {name} has held only v{current.version}; there is no earlier version "
                f"to roll back to (use 'modelreg promote' to move it to another version)"
            )

        steps: list[_Step] = []
        target_content: bytes | None = None
        assert change.head is not None  # a pointer was read, so there are commits
        for step in _earlier_states(git, change.head, path, current):
            steps.append(step)
            if to is None or step.pointer.version == to:
                target_content = step.content
                break
        if target_content is not None:
            target = steps[-1].pointer.version
            content = target_content
        else:
            # History cannot show the earlier file: write a fresh pointer to the version.
            steps = []
            fallback = to if to is not None else current.previous
            assert fallback is not None  # checked above: a --to, or a previous version
            target = fallback
            if to is not None and to not in current.retired and to != current.previous:
                held = sorted({*current.retired, *([current.previous] if current.previous else [])})
                earlier = ", ".join(f"v{v}" for v in held) or "none"
                raise ConflictError(
                    f"{name}/{to} has not held {stage} before (earlier versions there: {earlier}); "
                    "a rollback returns to one of those, 'modelreg promote' moves anywhere else"
                )
            retired = (set(current.retired) | {current.version}) - {target}
            fresh = StagePointer(
                name, stage, target, since=change.now, reason=reason, retired=tuple(sorted(retired))
            )
            content = pointer_bytes(path, fresh)

        version = registry.version(name, target)
        if version.deleted is not None:
            raise ConflictError(
                f"cannot roll {stage} of {name} back to v{target}: it was deleted; "
                "promote another version instead"
            )
        if version.deprecation is not None:
            why = f" ({version.deprecation.reason})" if version.deprecation.reason else ""
            raise ConflictError(
                f"cannot roll {stage} of {name} back to v{target}: it is deprecated{why}; "
                "promote another version instead, or lift the deprecation (deprecate --undo)"
            )

        canary = steps[-1].pointer.canary if steps else None
        if canary is not None:
            sent = registry.version(name, canary.version)
            gone = "deleted" if sent.deleted is not None else None
            if sent.deprecation is not None:
                why = f" ({sent.deprecation.reason})" if sent.deprecation.reason else ""
                gone = f"deprecated{why}"
            if gone is not None:
                raise ConflictError(
                    f"cannot roll {stage} of {name} back to v{target}: the pointer then sent "
                    f"{canary.weight:.0%} of requests to the canary v{canary.version}, which is "
                    f"{gone} now; move {stage} to v{target} without it with "
                    f"'modelreg promote {name} {target} {stage}' (--force --reason if its "
                    "gates refuse)"
                )

        prefix = f"{BRANCH_PREFIX}/{name}/{stage}/"
        change.check_concurrent(
            path,
            f"{name}'s {stage} pointer",
            prefix=prefix,
            refuse=False,
            read=[
                (version_path(name, v), f"the manifest of {name}/{v}")
                for v in (target, *([canary.version] if canary else []))
            ],
        )
        change.put(path, content)

        def body() -> str:
            from modelreg.reporting.compare import compare_versions, render_markdown

            assert current is not None
            comparison = compare_versions(registry, name, [str(current.version), str(target)])
            return _pull_body(
                name, stage, target, current, steps, reason, render_markdown(comparison)
            )

        landed = change.land(
            _message(name, stage, target, current.version, steps, reason),
            pull=PullSpec(
                branch=f"{prefix}rollback-to-v{target}",
                title=f"Roll back {name} {stage} to v{target}",
                body=body,
            ),
        )
        assert landed is not None  # the pointer changes: checked above
        return Rollback(
            model=name,
            stage=stage,
            version=target,
            rolled_back=current.version,
            reverted=tuple(s.commit for s in steps),
            reason=reason,
            path=path,
            commit=landed.commit,
            branch=landed.branch,
            pull=landed.pull,
            warnings=landed.warnings,
        )


def _earlier_states(git: Git, head: str, path: str, current: StagePointer) -> Iterator[_Step]:
    """The pointer's earlier states, newest first, each with the commit whose change
    it undoes; stops where history no longer shows the state ``previous`` names."""
    stack = pointer_stack(git, head, path)
    blob = git.text("rev-parse", "--verify", "--quiet", f"{head}:{path}", check=False).strip()
    if not stack or stack[-1].blob != blob:
        return
    pointer = current
    with git.blobs() as reader:
        for above, below in zip(reversed(stack), reversed(stack[:-1]), strict=False):
            if pointer.previous is None or above.commit is None or below.blob is None:
                return
            data = reader.read(below.blob)
            earlier = _parse(path, data, pointer) if data is not None else None
            if earlier is None or earlier.version != pointer.previous:
                return
            yield _Step(above.commit, above.subject, data or b"", earlier)
            pointer = earlier


def _parse(path: str, data: bytes, like: StagePointer) -> StagePointer | None:
    document, findings = check_manifest_bytes(path, data, "pointer")
    if findings:
        return None
    return StagePointer.from_document(like.model, like.name, document)


def _message(
    name: str, stage: str, target: int, rolled_back: int, steps: list[_Step], reason: str
) -> str:
    if len(steps) == 1:
        lines = [f'Revert "{steps[0].subject}"', "", f"This reverts commit {steps[0].commit}."]
    else:
        lines = [f"roll back {name} {stage} to version {target}", ""]
        if steps:
            lines.append(f"This reverts commits {', '.join(s.commit for s in steps)}.")
        else:
            lines.append(f"The stage held v{target} before v{rolled_back}.")
    lines.append("")
    if reason:
        lines += [reason, ""]
    trailers = {
        "Event": "rollback",
        "Model": name,
        "Stage": stage,
        "Version": target,
        "Previous": rolled_back,
        "Reason": reason,
        "Reverts": " ".join(s.commit for s in steps),
    }
    return commit_message(lines[0], trailers, "\n".join(lines[2:]))


def _pull_body(
    name: str,
    stage: str,
    target: int,
    current: StagePointer,
    steps: list[_Step],
    reason: str,
    comparison: str,
) -> str:
    since = f" (in {stage} since {format_timestamp(current.since)})" if current.since else ""
    parts = [
        f"<!-- modelreg:rollback model={name} stage={stage} version={target} -->",
        f"## Roll back {markdown_text(name)} {markdown_text(stage)} to v{target}",
        "",
        f"Takes v{current.version}{since} out of {markdown_text(stage)} and restores v{target}.",
        "",
    ]
    if reason:
        parts += [f"**Reason:** {markdown_text(reason)}", ""]
    if steps:
        reverted = ", ".join(s.commit[:10] for s in steps)
        parts += [f"Restores the pointer file exactly as it was (reverts {reverted}).", ""]
    parts += ["### Comparison", "", comparison]
    return "\n".join(parts)
