"""What the read commands answer: listings and views of a registry, each with its JSON.

``list``, ``versions``, ``show``, ``history`` and ``promote --check`` render these.
Each result's ``to_json()`` is the versioned document ``--json`` prints
(``"format": "modelreg.<kind>/1"``); it lives here, beside the data, so a program
calling the library gets the very document a script reading the CLI gets.
Nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelreg.core.model import Model, ModelVersion, Score, StagePointer
from modelreg.core.refs import parse_ref
from modelreg.core.registry import Registry, Resolution, VersionStatus

if TYPE_CHECKING:
    from modelreg.core.policy import Gate
    from modelreg.reporting.history import StageChange

__all__ = [
    "GateCheck",
    "ModelEntry",
    "ModelList",
    "ModelView",
    "StageHistory",
    "VersionList",
    "VersionView",
    "check_promotion",
    "list_models",
    "list_versions",
    "model_history",
    "resolve",
    "show",
]

Repo = str | Path | None


@dataclass(frozen=True)
class ModelEntry:
    """One model as ``list`` shows it: its versions and what its stages hold."""

    model: Model
    versions: tuple[int, ...]
    stages: dict[str, StagePointer]
    aliases: dict[str, StagePointer]

    def to_json(self) -> dict[str, Any]:
        m = self.model
        return {
            "name": m.name,
            "description": m.description or None,
            "task": m.task,
            "owners": list(m.owners),
            "tags": dict(m.tags),
            "versions": len(self.versions),
            "latest_version": self.versions[-1] if self.versions else None,
            "stages": {s: p.version for s, p in self.stages.items()},
            "aliases": {a: p.version for a, p in self.aliases.items()},
            "deleted": m.deleted is not None,
        }


@dataclass(frozen=True)
class ModelList:
    """Every model of the registry, with the registry's stages in promotion order."""

    stages: tuple[str, ...]
    models: tuple[ModelEntry, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "modelreg.list/1",
            "stages": list(self.stages),
            "models": [entry.to_json() for entry in self.models],
        }


@dataclass(frozen=True)
class VersionView:
    """One version with where it stands; ``resolution`` when a reference named it."""

    version: ModelVersion
    status: VersionStatus | None
    resolution: Resolution | None = None

    def document(self) -> dict[str, Any]:
        """The version's manifest plus its ref, stages, aliases and archived flag."""
        status = self.status
        document = self.version.to_document()
        document["ref"] = self.version.ref
        document["stages"] = list(status.stages) if status else []
        document["aliases"] = list(status.aliases) if status else []
        document["archived"] = bool(status and status.archived)
        if self.resolution is not None:
            document["resolved_via"] = self.resolution.describe()
        return document

    def to_json(self) -> dict[str, Any]:
        return {"format": "modelreg.show/1", "version": self.document()}


@dataclass(frozen=True)
class VersionList:
    """A model's versions, newest first."""

    model: str
    versions: tuple[VersionView, ...]
    score: Score | None = None
    """The registry's weighted score, when it defines one."""

    def score_of(self, view: VersionView) -> float | None:
        return self.score.of(view.version.metrics) if self.score is not None else None

    def sorted_by_score(self) -> VersionList:
        """The versions best score first (those without a score last, newest first)."""
        scored = sorted(
            self.versions,
            key=lambda v: (self.score_of(v) is None, -(self.score_of(v) or 0.0)),
        )
        return replace(self, versions=tuple(scored))

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "format": "modelreg.versions/1",
            "model": self.model,
            "versions": [view.document() for view in self.versions],
        }
        if self.score is not None:
            document["score"] = self.score.describe()
            for entry, view in zip(document["versions"], self.versions, strict=True):
                entry["score"] = self.score_of(view)
        return document


@dataclass(frozen=True)
class ModelView:
    """One model: its manifest, version numbers, stage pointers and aliases."""

    model: Model
    versions: tuple[int, ...]
    stages: dict[str, StagePointer]
    aliases: dict[str, StagePointer]
    stage_order: tuple[str, ...]  # the registry's stages, held or not

    def to_json(self) -> dict[str, Any]:
        document = self.model.to_document()
        document["versions"] = list(self.versions)
        document["stages"] = {
            s: {
                "version": p.version,
                "since": p.since.isoformat() if p.since else None,
                "reason": p.reason or None,
            }
            for s, p in self.stages.items()
        }
        document["aliases"] = {a: p.version for a, p in self.aliases.items()}
        return {"format": "modelreg.show/1", "model": document}


@dataclass(frozen=True)
class StageHistory:
    """The commits that moved a model's stages and aliases, newest first."""

    model: str
    changes: tuple[StageChange, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "modelreg.history/1",
            "model": self.model,
            "changes": [c.to_json() for c in self.changes],
        }


@dataclass(frozen=True)
class GateCheck:
    """A stage policy's gates for a version, judged against ``against`` (the version
    the stage holds now, or on ``base``); a dry run of ``promote``."""

    version: ModelVersion
    stage: str  # canonical spelling
    against: StagePointer | None
    base: str | None
    gates: tuple[Gate, ...]

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "modelreg.gates/1",
            "model": self.version.model,
            "version": self.version.version,
            "stage": self.stage,
            "against": self.against.version if self.against else None,
            "base": self.base,
            "passed": self.passed,
            "gates": [g.to_json() for g in self.gates],
        }


def list_models(repo: Repo = None) -> ModelList:
    """Every model with its version count, latest version, stages and aliases."""
    with Registry.open(repo) as registry:
        entries = tuple(
            ModelEntry(
                registry.model(name),
                tuple(registry.version_numbers(name)),
                registry.stage_pointers(name),
                registry.aliases(name),
            )
            for name in registry.model_names()
        )
        return ModelList(tuple(registry.config.stages), entries)


def list_versions(name: str, repo: Repo = None) -> VersionList:
    """Model ``name``'s versions (``name`` may be any reference to it), newest first."""
    model = parse_ref(name).model
    with Registry.open(repo) as registry:
        found = registry.versions(model)
        status = registry.status(model)
        score = registry.config.score
    views = tuple(VersionView(v, status.get(v.version)) for v in reversed(found))
    return VersionList(model, views, score)


def show(ref: str, repo: Repo = None) -> ModelView | VersionView:
    """A model (``ref`` is ``NAME``) or the version ``ref`` names, with where it stands."""
    parsed = parse_ref(ref)
    with Registry.open(repo) as registry:
        if parsed.selector == "model":
            return ModelView(
                registry.model(parsed.model),
                tuple(registry.version_numbers(parsed.model)),
                registry.stage_pointers(parsed.model),
                registry.aliases(parsed.model),
                tuple(registry.config.stages),
            )
        resolution = registry.resolve(parsed)
        version = resolution.version
        status = registry.status(version.model).get(version.version)
    return VersionView(version, status, resolution)


def resolve(ref: str, repo: Repo = None) -> Resolution:
    """The version ``ref`` names in the working tree's registry, and how it was found."""
    with Registry.open(repo) as registry:
        return registry.resolve(ref)


def model_history(
    name: str, repo: Repo = None, *, stage: str | None = None, limit: int | None = None
) -> StageHistory:
    """Who moved which version of ``name`` into which stage or alias, from git log."""
    from modelreg.reporting.history import stage_history

    model = parse_ref(name).model
    with Registry.open(repo) as registry:
        changes = stage_history(registry, model, stage=stage, limit=limit)
    return StageHistory(model, tuple(changes))


def check_promotion(
    name: str, version: int, stage: str, repo: Repo = None, *, base: str | None = None
) -> GateCheck:
    """The gates ``promote`` would apply, changing nothing: judged against the version
    the stage holds now or, with ``base``, the one it holds at that revision (a pull
    request is judged against its target branch, not its own change)."""
    from modelreg.core.policy import check_gates

    with Registry.open(repo) as registry:
        candidate = registry.version(name, version)
        current = registry.pointer(candidate.model, stage)  # a clear error for a bad stage
        canonical = registry.config.canonical_stage(stage) or stage
        if base is not None:
            with Registry.open(registry.root, rev=base) as before:
                held = candidate.model in before.model_names()
                current = before.pointer(candidate.model, canonical) if held else None
        gates = check_gates(registry, candidate, canonical, current)
    return GateCheck(candidate, canonical, current, base, tuple(gates))
