"""The read API: a registry as the files at one revision.

State is read from the files alone, never rebuilt from history (invariant 5),
so answering "which version is in production" reads three small files however
long the history is.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from modelreg.core.errors import InputError, ManifestError, NotFoundError
from modelreg.core.findings import read_manifest
from modelreg.core.layout import (
    ALIASES,
    CONFIG_PATH,
    REGISTRY_DIR,
    STAGES,
    VERSIONS,
    alias_pointer_path,
    format_version_ranges,
    model_dir,
    model_manifest_path,
    stage_pointer_path,
    version_number_from_filename,
    version_path,
)
from modelreg.core.model import Model, ModelVersion, RegistryConfig, StagePointer
from modelreg.core.refs import ModelRef, parse_ref
from modelreg.core.semver import SemVer
from modelreg.core.source import TreeSource, WorktreeSource, find_repo_root

if TYPE_CHECKING:
    from modelreg.core.git import Git

__all__ = ["Registry", "Resolution", "VersionStatus"]


@dataclass(frozen=True)
class Resolution:
    """What a reference resolved to, and how."""

    ref: ModelRef
    version: ModelVersion
    via: Literal["version", "latest", "stage", "alias", "archived", "semver"]
    pointer: StagePointer | None = None

    def describe(self) -> str:
        if self.via == "semver":
            return f"semantic version v{self.version.semver}"
        if self.via == "stage" and self.pointer:
            return f"stage {self.pointer.name}"
        if self.via == "alias" and self.pointer:
            return f"alias {self.pointer.name}"
        return {"version": "version number", "latest": "latest version"}.get(self.via, self.via)

    def to_json(self) -> dict[str, Any]:
        """``resolve --json``: the version, how it was found, its manifest and artifacts."""
        version = self.version
        return {
            "format": "modelreg.resolve/1",
            "ref": self.ref.raw,
            "model": version.model,
            "version": version.version,
            "semver": version.semver,
            "resolved_via": self.describe(),
            "manifest": version_path(version.model, version.version),
            "deprecated": version.deprecated,
            "artifacts": [a.to_document() for a in version.artifacts],
        }


@dataclass(frozen=True)
class VersionStatus:
    """Where a version stands: the stages and aliases holding it, or archived."""

    stages: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    canary_in: tuple[str, ...] = ()
    archived: bool = False

    @property
    def label(self) -> str:
        """MLflow's single-word view: the most advanced stage, 'archived' or 'none'."""
        if self.stages:
            return self.stages[-1]
        return "archived" if self.archived else "none"


def _suggest(name: str, candidates: list[str]) -> str:
    lowered = {c.lower(): c for c in candidates}
    if name.lower() in lowered:
        return f"; did you mean '{lowered[name.lower()]}'?"
    import difflib  # only when a name was not found

    prefixed = [c for c in candidates if c.lower().startswith(name.lower())]
    close = prefixed or difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


class Registry:
    """A registry as the files of one snapshot: the working tree or a git revision.

    Open one with :meth:`open`; it reads lazily, and each file at most once.
    """

    def __init__(self, root: Path, source: TreeSource, *, git: Git | None = None) -> None:
        self.root = root
        self.source = source
        self._git = git
        self._versions: dict[tuple[str, int], ModelVersion] = {}

    @classmethod
    def open(cls, repo: str | Path | None = None, *, rev: str | None = None) -> Registry:
        """The registry of the git repository at or above ``repo`` (default: the current
        folder), as in the working tree, or as committed at ``rev``."""
        root = find_repo_root(Path(repo) if repo is not None else Path.cwd())
        if rev is None:
            return cls(root, WorktreeSource(root))
        from modelreg.core.git import Git
        from modelreg.core.git_source import GitRevisionSource

        git = Git(root)
        return cls(root, GitRevisionSource(git, rev), git=git)

    @property
    def git(self) -> Git:
        if self._git is None:
            from modelreg.core.git import Git

            self._git = Git(self.root)
        return self._git

    def close(self) -> None:
        close = getattr(self.source, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- configuration and models ------------------------------------------------------

    @cached_property
    def config(self) -> RegistryConfig:
        try:
            document = read_manifest(self.source, CONFIG_PATH, "registry")
        except NotFoundError:
            raise NotFoundError(
                f"no registry in {self.root} ({self.source.label}): {CONFIG_PATH} is missing; "
                "run 'modelreg init'"
            ) from None
        return RegistryConfig.from_document(document)

    def model_names(self) -> list[str]:
        """Every model, by folder name, sorted."""
        return [
            name
            for name in self.source.list_dir(REGISTRY_DIR)
            if not name.startswith(".") and self.source.is_dir(model_dir(name))
        ]

    def _require_model(self, name: str) -> None:
        if not self.source.is_dir(model_dir(name)):
            self.config  # noqa: B018 - a missing registry explains more than a missing model
            known = self.model_names()
            listing = f" (models: {', '.join(known[:10])}{'...' if len(known) > 10 else ''})"
            raise NotFoundError(
                f"no model named {name!r} in {self.source.label}"
                f"{_suggest(name, known) or (listing if known else '; the registry is empty')}"
            )

    def model(self, name: str) -> Model:
        self._require_model(name)
        document = read_manifest(self.source, model_manifest_path(name), "model")
        return Model.from_document(document)

    # --- versions ----------------------------------------------------------------------

    def version_numbers(self, name: str) -> list[int]:
        """The model's version numbers, ascending, from file names alone."""
        self._require_model(name)
        numbers = (
            version_number_from_filename(f)
            for f in self.source.list_dir(f"{model_dir(name)}/{VERSIONS}")
        )
        return sorted(n for n in numbers if n is not None)

    def version(self, name: str, number: int) -> ModelVersion:
        key = (name, number)
        if key in self._versions:
            return self._versions[key]
        path = version_path(name, number)
        try:
            document = read_manifest(self.source, path, "version")
        except NotFoundError:
            numbers = self.version_numbers(name)
            have = (
                f"it has versions {format_version_ranges(numbers)}"
                if numbers
                else "it has no versions yet"
            )
            raise NotFoundError(f"model {name!r} has no version {number}; {have}") from None
        found = ModelVersion.from_document(document)
        if found.model != name or found.version != number:
            raise ManifestError(
                path,
                f"describes {found.model}/{found.version}, not {name}/{number}; "
                "fix the 'model' and 'version' fields",
            )
        self._versions[key] = found
        return found

    def versions(self, name: str) -> list[ModelVersion]:
        return [self.version(name, n) for n in self.version_numbers(name)]

    def latest(self, name: str) -> ModelVersion:
        """The highest-numbered version that is not deprecated."""
        numbers = self.version_numbers(name)
        for number in reversed(numbers):
            found = self.version(name, number)
            if not found.deprecated:
                return found
        if numbers:
            raise NotFoundError(f"every version of {name!r} is deprecated; register a new one")
        raise NotFoundError(f"model {name!r} has no versions yet; register one")

    def latest_semver(self, name: str) -> ModelVersion | None:
        """The highest-numbered version that has a semver (deprecated and deleted ones
        count: a semver, like a number, is never reused), or None."""
        for number in reversed(self.version_numbers(name)):
            found = self.version(name, number)
            if found.semver is not None:
                return found
        return None

    def semver_version(self, name: str, wanted: SemVer) -> ModelVersion:
        """The version whose semver is ``wanted``; :class:`NotFoundError` if none.

        Semvers increase with the version number (``validate`` checks it), so the
        search walks down from the newest and stops at the first lower semver: a
        reference to a recent version reads a few manifests, however many there are.
        """
        latest: ModelVersion | None = None
        for number in reversed(self.version_numbers(name)):
            found = self.version(name, number)
            if found.semver is None:
                continue
            latest = latest or found
            try:
                current = SemVer.parse(found.semver)
            except InputError:  # the schema refuses it; validate reports it
                continue
            if current == wanted:
                return found
            if current < wanted:
                break
        if latest is None:
            raise NotFoundError(
                f"no version of {name!r} has a semantic version; give one with "
                f"'modelreg register {name} --bump minor' (or --semver X.Y.Z)"
            )
        raise NotFoundError(
            f"no version of {name!r} has semver {wanted}; "
            f"the latest is {latest.semver} ({latest.ref})"
        )

    # --- stages and aliases ------------------------------------------------------------

    def pointer(self, name: str, stage: str) -> StagePointer | None:
        """The pointer of a declared ``stage`` (any case), or None when the stage is empty."""
        canonical = self.config.canonical_stage(stage)
        if canonical is None:
            raise NotFoundError(
                f"{stage!r} is not a stage of this registry"
                f"{_suggest(stage, list(self.config.stages))} "
                f"(stages: {', '.join(self.config.stages)})"
            )
        self._require_model(name)
        return self._read_pointer(name, canonical, stage_pointer_path(name, canonical), False)

    def stage_pointers(self, name: str) -> dict[str, StagePointer]:
        """Every non-empty stage of the model, in lifecycle order."""
        self._require_model(name)
        present = set(self.source.list_dir(f"{model_dir(name)}/{STAGES}"))
        found = {}
        for stage in self.config.stages:
            if f"{stage}.yaml" in present:
                pointer = self._read_pointer(name, stage, stage_pointer_path(name, stage), False)
                if pointer is not None:
                    found[stage] = pointer
        return found

    def aliases(self, name: str) -> dict[str, StagePointer]:
        self._require_model(name)
        found = {}
        for filename in self.source.list_dir(f"{model_dir(name)}/{ALIASES}"):
            if filename.endswith(".yaml"):
                alias = filename.removesuffix(".yaml")
                pointer = self._read_pointer(name, alias, alias_pointer_path(name, alias), True)
                if pointer is not None:
                    found[alias] = pointer
        return found

    def _read_pointer(
        self, name: str, pointer_name: str, path: str, is_alias: bool
    ) -> StagePointer | None:
        try:
            document = read_manifest(self.source, path, "pointer")
        except NotFoundError:
            return None
        return StagePointer.from_document(name, pointer_name, document, is_alias=is_alias)

    def _archived(self, name: str) -> tuple[int, ...]:
        try:
            return self.model(name).archived
        except (NotFoundError, ManifestError):  # validate reports a missing or broken model.yaml
            return ()

    def status(self, name: str) -> dict[int, VersionStatus]:
        """For each version holding a stage or alias, or archived: where it stands."""
        stages = self.stage_pointers(name)
        aliases = self.aliases(name)
        held: dict[int, dict[str, list[str]]] = {}

        def note(version: int, kind: str, label: str) -> None:
            held.setdefault(version, {}).setdefault(kind, []).append(label)

        for stage, pointer in stages.items():
            note(pointer.version, "stages", stage)
            if pointer.canary:
                note(pointer.canary.version, "canary_in", stage)
        for alias, pointer in aliases.items():
            note(pointer.version, "aliases", alias)
        retired = {v for p in stages.values() for v in p.retired} | set(self._archived(name))
        for version in retired:
            held.setdefault(version, {})
        return {
            version: VersionStatus(
                stages=tuple(kinds.get("stages", ())),
                aliases=tuple(kinds.get("aliases", ())),
                canary_in=tuple(kinds.get("canary_in", ())),
                archived=version in retired and not kinds.get("stages"),
            )
            for version, kinds in sorted(held.items())
        }

    # --- references --------------------------------------------------------------------

    def resolve(self, ref: str | ModelRef) -> Resolution:
        """The version a reference names; :class:`NotFoundError` saying why if none."""
        parsed = parse_ref(ref) if isinstance(ref, str) else ref
        name = parsed.model
        if parsed.selector == "version":
            assert parsed.version is not None
            return Resolution(parsed, self.version(name, parsed.version), "version")
        if parsed.selector in ("latest", "model"):
            return Resolution(parsed, self.latest(name), "latest")
        if parsed.selector == "semver":
            assert parsed.semver is not None
            return Resolution(parsed, self.semver_version(name, parsed.semver), "semver")
        assert parsed.pointer is not None
        return self._resolve_pointer(parsed, parsed.pointer)

    def _resolve_pointer(self, parsed: ModelRef, label: str) -> Resolution:
        name = parsed.model
        stage = self.config.canonical_stage(label)
        if stage is not None:
            pointer = self.pointer(name, stage)
            if pointer is None:
                raise NotFoundError(
                    f"no version of {name!r} is in {stage}; promote one with "
                    f"'modelreg promote {name} VERSION --to {stage}'"
                )
            return Resolution(parsed, self._pointed(pointer), "stage", pointer)
        if label.lower() == "archived":
            archived = [v for v, s in self.status(name).items() if s.archived]
            if not archived:
                raise NotFoundError(f"no version of {name!r} is archived")
            return Resolution(parsed, self.version(name, max(archived)), "archived")
        aliases = self.aliases(name)
        if not parsed.legacy_stage and label in aliases:
            return Resolution(parsed, self._pointed(aliases[label]), "alias", aliases[label])
        known = list(self.config.stages) + ([] if parsed.legacy_stage else sorted(aliases))
        kind = "stage" if parsed.legacy_stage else "stage or alias"
        alias_list = (
            f"; aliases: {', '.join(sorted(aliases))}"
            if aliases and not parsed.legacy_stage
            else ""
        )
        raise NotFoundError(
            f"{name!r} has no {kind} {label!r}{_suggest(label, known)} "
            f"(stages: {', '.join(self.config.stages)}{alias_list})"
        )

    def _pointed(self, pointer: StagePointer) -> ModelVersion:
        try:
            return self.version(pointer.model, pointer.version)
        except NotFoundError:
            kind = "aliases" if pointer.is_alias else "stages"
            raise ManifestError(
                f"{model_dir(pointer.model)}/{kind}/{pointer.name}.yaml",
                f"points at version {pointer.version}, which does not exist; "
                "run 'modelreg validate' and fix the pointer",
                field="version",
            ) from None
