"""``modelreg promote``: move a stage to a version, as one reviewed commit.

A promotion checks the stage's policy (``registry.yaml``), then rewrites one
pointer file, ``registry/<model>/stages/<stage>.yaml``: the new version, when,
the version it replaces (``previous``), the reason, and the versions the stage
has given up (``retired``, shown as archived). Nothing else changes, so
reverting the commit restores the earlier pointer byte for byte, and two
promotions of one stage always touch the same lines (git serializes them),
while promotions of different models never meet.

The gates, in order: the version is not deprecated (never overridable, since
validation refuses a stage on a deprecated version), it comes from a stage the
policy allows, its metrics meet the bounds, they do not regress against the
version in the stage beyond the tolerance, and its ONNX export passed parity.
``force`` overrides every gate but deprecation, and needs a reason: both land
in the commit message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelreg.core.errors import ConflictError, InputError
from modelreg.core.escape import markdown_text, plain_text_problem
from modelreg.core.layout import schema_comment, stage_pointer_path, version_path
from modelreg.core.model import ModelVersion, StagePointer, format_timestamp
from modelreg.core.policy import Gate, check_gates, gate_table
from modelreg.core.registry import Registry
from modelreg.core.yaml_io import dump_yaml
from modelreg.ops.change import Change, Pull, PullSpec, commit_message
from modelreg.ops.landing import BRANCH_PREFIX, Landed, LandedChange

if TYPE_CHECKING:
    from modelreg.integrations.github import GitHub

__all__ = ["Promotion", "clean_reason", "promote"]

_MAX_REASON = 2000  # the pointer schema's maxLength


@dataclass(frozen=True)
class Promotion(LandedChange):
    model: str
    stage: str
    version: int
    previous: int | None
    reason: str
    forced: bool
    gates: tuple[Gate, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "modelreg.promote/1",
            "model": self.model,
            "stage": self.stage,
            "version": self.version,
            "previous": self.previous,
            "reason": self.reason or None,
            "forced": self.forced,
            "gates": [g.to_json() for g in self.gates],
            **self.landed_json(),
        }


def clean_reason(reason: str) -> str:
    problem = plain_text_problem(reason, one_line=True)
    if problem is not None:
        raise InputError(f"--reason {problem}")
    reason = reason.strip()
    if len(reason) > _MAX_REASON:
        raise InputError(f"--reason is {len(reason)} characters; keep it under {_MAX_REASON}")
    return reason


def pointer_bytes(path: str, pointer: StagePointer) -> bytes:
    return dump_yaml(pointer.to_document(), header=schema_comment(path, "pointer")).encode()


def promote(
    name: str,
    number: int,
    stage: str,
    *,
    repo: str | Path | None = None,
    reason: str = "",
    force: bool = False,
    pr: bool = False,
    base: str | None = None,
    github: GitHub | None = None,
    now: Callable[[], datetime] | None = None,
) -> Promotion:
    """Move ``stage`` of model ``name`` to version ``number``.

    Without ``pr`` the commit lands on the current branch; with it, on a new branch
    pushed to origin, and a pull request against ``base`` is opened through
    ``github`` (default: :meth:`GitHub.from_environment`).
    """
    reason = clean_reason(reason)
    if force and not reason:
        raise InputError(
            "--force needs --reason: say why the gates are overridden (it goes in the commit)"
        )
    with Change.open(repo, now=now, pull=Pull(github, base) if pr else None) as change:
        registry = change.registry
        version = registry.version(name, number)  # clear errors for an unknown model or version
        current = registry.pointer(name, stage)
        canonical = registry.config.canonical_stage(stage)
        assert canonical is not None  # pointer() refused an undeclared stage
        stage = canonical
        name = version.model
        path = stage_pointer_path(name, stage)
        change.refuse_dirty(path)
        if current is not None and current.version == number:
            since = f" since {format_timestamp(current.since)}" if current.since else ""
            raise ConflictError(f"{version.ref} is already in {stage}{since}; nothing to promote")

        gates = check_gates(registry, version, stage, current)
        failed = [g for g in gates if not g.passed]
        hard = [g for g in failed if not g.overridable]
        if hard:
            raise ConflictError(f"cannot promote {version.ref} to {stage}: {hard[0].detail}")
        if failed and not force:
            listed = "; ".join(f"{g.name}: {g.detail}" for g in failed)
            raise ConflictError(
                f"{version.ref} fails the {stage} policy in registry/registry.yaml ({listed}); "
                "fix the version, or override with --force --reason TEXT"
            )

        retired = set(current.retired) | {current.version} if current else set()
        pointer = StagePointer(
            model=name,
            name=stage,
            version=number,
            since=change.now,
            previous=current.version if current else None,
            reason=reason,
            retired=tuple(sorted(retired - {number})),
        )
        prefix = f"{BRANCH_PREFIX}/{name}/{stage}/"
        change.check_concurrent(
            path,
            f"{name}'s {stage} pointer",
            prefix=prefix,
            read=[(version_path(name, number), f"the manifest of {version.ref}")],
        )
        change.put(path, pointer_bytes(path, pointer))
        landed = change.land(
            _message(version, stage, current, reason, gates, force),
            pull=PullSpec(
                branch=f"{prefix}promote-v{number}",
                title=f"Promote {name} v{number} to {stage}",
                body=lambda: pull_body(registry, version, stage, current, reason, gates, force),
            ),
        )
        assert landed is not None  # the pointer changes: checked above
        return _promotion(version, stage, current, reason, force, gates, path, landed)


def _promotion(
    version: ModelVersion,
    stage: str,
    current: StagePointer | None,
    reason: str,
    force: bool,
    gates: list[Gate],
    path: str,
    landed: Landed,
) -> Promotion:
    return Promotion(
        model=version.model,
        stage=stage,
        version=version.version,
        previous=current.version if current else None,
        reason=reason,
        forced=force and any(not g.passed for g in gates),
        gates=tuple(gates),
        path=path,
        commit=landed.commit,
        branch=landed.branch,
        pull=landed.pull,
        warnings=landed.warnings,
    )


def _message(
    version: ModelVersion,
    stage: str,
    current: StagePointer | None,
    reason: str,
    gates: list[Gate],
    force: bool,
) -> str:
    failed = [g for g in gates if not g.passed]
    lines = [f"promote {version.model} version {version.version} to {stage}", ""]
    if reason:
        lines += [reason, ""]
    if current is not None:
        lines += [f"Replaces version {current.version}, which {stage} retires.", ""]
    if gates:
        lines += [f"Gates: {sum(g.passed for g in gates)} of {len(gates)} passed."]
        lines += [f"- {g.name}: {'pass' if g.passed else 'FAIL'} ({g.detail})" for g in gates]
        lines.append("")
    trailers = {
        "Event": "promote",
        "Model": version.model,
        "Stage": stage,
        "Version": version.version,
        "Previous": current.version if current else "none",
        "Reason": reason,
        "Forced": ", ".join(g.name for g in failed) if force and failed else None,
    }
    return commit_message(lines[0], trailers, "\n".join(lines[2:]))


def pull_body(
    registry: Registry,
    version: ModelVersion,
    stage: str,
    current: StagePointer | None,
    reason: str,
    gates: list[Gate],
    force: bool,
) -> str:
    """The promotion pull request's description: what changes, the gates, the comparison."""
    from modelreg.reporting.compare import compare_versions, render_markdown

    name = version.model
    parts = [
        f"<!-- modelreg:promote model={name} stage={stage} version={version.version} -->",
        f"## Promote {markdown_text(name)} v{version.version} to {markdown_text(stage)}",
        "",
    ]
    if reason:
        parts += [f"**Reason:** {markdown_text(reason)}", ""]
    if current is not None:
        since = f" (since {format_timestamp(current.since)})" if current.since else ""
        shown = markdown_text(stage)
        parts += [f"Replaces v{current.version}{since}; {shown} retires it (archived).", ""]
    else:
        parts += [f"{markdown_text(stage)} holds no version yet.", ""]
    failed = [g for g in gates if not g.passed]
    parts += ["### Gates", ""]
    if force and failed:
        names = markdown_text(", ".join(g.name for g in failed))
        parts += [f"> **Forced** past failing gates ({names}). Reason: {markdown_text(reason)}", ""]
    parts += [gate_table(gates)]
    selectors = [str(current.version), str(version.version)] if current else [str(version.version)]
    comparison = compare_versions(registry, name, selectors)
    parts += ["### Comparison", "", render_markdown(comparison)]
    parts += [
        "Merging this pull request is the deployment event. To undo it: "
        f"`modelreg rollback {name} --stage {stage}`, or revert the merge.",
        "",
    ]
    return "\n".join(parts)
