"""``modelreg import-gto``: bring a GTO (DVC's Git Tag Ops) registry over from its tags.

GTO keeps its registry in annotated git tags (its grammar, gto/constants.py):
``NAME@vX.Y.Z`` registers a version on the tagged commit, ``NAME@vX.Y.Z!``
deregisters it, ``NAME@deprecated`` deprecates the model, ``NAME#STAGE#N`` assigns
the stage to the version registered on the tagged commit and ``NAME#STAGE!#N``
unassigns it. Events are ordered as GTO orders them: by the tag's date, then its
counter.

For each model, in one change:

* one commit with its versions, numbered 1, 2, ... in semantic-version order, each
  from the file ``artifacts.yaml`` names for the model at the version's commit (a
  file stored in git there), with the GTO version in the tag ``gto.version``, its
  tagger as author and the tag's date; a deregistered version is deprecated;
* then one commit per stage change, replayed in GTO's order with the tag's tagger as
  author and its date as the author date, so ``modelreg history`` lists the
  assignments as GTO's ``history`` does, and ``modelreg rollback`` can walk them.
  GTO lets a stage hold several versions; it shows the one assigned last, and so
  the stage pointer here holds that one (an unassignment of it falls back to the
  version assigned before it that is still assigned, or clears the stage).

Stage names are lower-cased; a GTO stage the registry does not declare is refused
(add it to registry.yaml's ``stages``). A model that already exists here is
refused: the import is for a new registry, and never half-written.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from modelreg.core.errors import AlreadyExistsError, InputError, NotFoundError
from modelreg.core.git import Git
from modelreg.core.layout import model_dir, name_problem, stage_pointer_path
from modelreg.core.model import StagePointer
from modelreg.ops.change import Change, Step, commit_message

__all__ = ["GtoEvent", "GtoImport", "import_gto", "read_gto_events"]

_NAME = r"[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?"
_SEMVER = (
    r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+(?P<build>[0-9A-Za-z.-]+))?"
)
_TAG = re.compile(
    rf"^(?P<artifact>(?:[a-zA-Z0-9-_./]+=)?{_NAME})"
    rf"(?:(?:#(?P<stage>{_NAME})|@(?P<version>v{_SEMVER}))(?P<cancel>!?)"
    r"|@(?P<deprecated>deprecated)|@(?P<created>created))(?:#(?P<counter>[0-9]+))?$"
)
GTO_VERSION_TAG = "gto.version"


@dataclass(frozen=True)
class GtoEvent:
    """One GTO tag, parsed."""

    tag: str
    model: str
    action: str  # register, deregister, assign, unassign, deprecate
    commit: str
    tagger: tuple[str, str]
    date: datetime
    counter: int = 0
    version: str | None = None
    stage: str | None = None

    @property
    def author(self) -> tuple[str, str, str]:
        return (*self.tagger, self.date.isoformat())


def _semver_key(version: str) -> tuple[int, int, int, int, str]:
    match = re.fullmatch(rf"v{_SEMVER}", version)
    assert match is not None
    pre = match["pre"] or ""
    # A release sorts after its pre-releases (semver.org rule 11, simplified).
    return (int(match["major"]), int(match["minor"]), int(match["patch"]), 0 if pre else 1, pre)


def read_gto_events(source: Path) -> list[GtoEvent]:
    """Every GTO tag of the repository at ``source``, in GTO's order (date, counter)."""
    git = Git(source)
    fields = (
        "%(refname:strip=2)%00%(objecttype)%00%(*objectname)%00%(objectname)%00"
        "%(taggername)%00%(taggeremail:trim)%00%(taggerdate:iso-strict)%00"
        "%(creatordate:iso-strict)"
    )
    out = git.text("for-each-ref", f"--format={fields}", "refs/tags")
    events = []
    for line in out.splitlines():
        name, kind, peeled, target, tagger, email, tagged, created = line.split("\0")
        match = _TAG.match(name)
        if match is None:
            continue  # not a GTO tag (a release tag, say)
        model = match["artifact"].replace("=", ":")
        if match["deprecated"]:
            action = "deprecate"
        elif match["version"]:
            action = "deregister" if match["cancel"] else "register"
        elif match["stage"]:
            action = "unassign" if match["cancel"] else "assign"
        else:
            continue  # NAME@created: GTO's marker of an artifact, no state
        moment = datetime.fromisoformat(tagged or created).astimezone(UTC)
        events.append(
            GtoEvent(
                tag=name,
                model=model,
                action=action,
                commit=peeled if kind == "tag" else target,
                tagger=(tagger or "unknown", email or "unknown@unknown"),
                date=moment,
                counter=int(match["counter"] or 0),
                version=match["version"],
                stage=match["stage"],
            )
        )
    events.sort(key=lambda e: (e.date, e.counter, e.tag))
    return events


@dataclass
class GtoImport:
    """What ``import-gto`` did, per model."""

    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    commits: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"format": "modelreg.import-gto/1", "models": self.models, "commits": self.commits}


def _artifact_file(source: Git, commit: str, model: str) -> tuple[str, bytes]:
    """The file ``artifacts.yaml`` at ``commit`` names for ``model``, as stored in git."""
    raw = source.run("show", f"{commit}:artifacts.yaml", check=False)
    document = yaml.safe_load(raw) if raw else None
    entry = document.get(model) if isinstance(document, dict) else None
    path = entry.get("path") if isinstance(entry, dict) else None
    if not isinstance(path, str) or not path:
        raise NotFoundError(
            f"{model}: artifacts.yaml at {commit[:12]} names no path for it; import-gto "
            "registers the file a version's commit holds"
        )
    if path.startswith("/") or ".." in Path(path).parts:
        raise InputError(f"{model}: artifacts.yaml path {path!r} leaves the repository")
    kind = source.text("cat-file", "-t", f"{commit}:{path}", check=False).strip()
    if kind != "blob":
        raise NotFoundError(
            f"{model}: {path} is not a file stored in git at {commit[:12]} (a DVC-tracked "
            "file is not read by import-gto: pull it and run 'modelreg register')"
        )
    return Path(path).name, source.run("cat-file", "blob", f"{commit}:{path}")


def _holders(
    events: Sequence[GtoEvent], numbers: dict[str, int]
) -> Iterable[tuple[GtoEvent, str, int | None]]:
    """Each event that changes which version a stage shows: (event, stage, version or
    None for a cleared stage), as GTO shows a stage: the version assigned last among
    those still assigned."""
    assigned: dict[str, list[int]] = {}
    for event in events:
        if event.action not in ("assign", "unassign") or event.stage is None:
            continue
        stage = event.stage.lower()
        number = numbers.get(event.commit)
        if number is None:
            raise NotFoundError(
                f"{event.tag}: no version of {event.model} is registered on {event.commit[:12]}"
            )
        held = assigned.setdefault(stage, [])
        before = held[-1] if held else None
        if number in held:
            held.remove(number)
        if event.action == "assign":
            held.append(number)
        after = held[-1] if held else None
        if after != before:
            yield event, stage, after


def import_gto(
    source: str | Path,
    *,
    repo: str | Path | None = None,
    models: Sequence[str] = (),
    push: bool = True,
    progress: bool = False,
) -> GtoImport:
    """Import the GTO registry in the git repository ``source`` (``models``: only these).
    ``progress`` lets DVC draw its hashing and transfer bars on stderr (a terminal's)."""
    from modelreg.ops.register import register_into

    source_path = Path(source)
    if not (source_path / ".git").exists() and not (source_path / "HEAD").is_file():
        raise InputError(f"{source}: not a git repository")
    events = read_gto_events(source_path)
    names = sorted({e.model for e in events})
    if models:
        missing = sorted(set(models) - set(names))
        if missing:
            raise NotFoundError(f"{source} has no GTO tags for {', '.join(missing)}")
        names = [n for n in names if n in models]
    if not names:
        raise NotFoundError(f"{source} has no GTO tags (NAME@vX.Y.Z, NAME#STAGE#N)")
    for name in names:
        problem = name_problem("model", name)
        if problem:
            raise InputError(f"GTO artifact {name!r}: {problem}")
    source_git = Git(source_path)
    result = GtoImport()
    for name in names:
        mine = [e for e in events if e.model == name]
        with Change.open(repo) as change:
            config = change.registry.config
            if (change.root / model_dir(name)).exists():
                raise AlreadyExistsError(
                    f"model {name!r} already exists here; import-gto adds new models"
                )
            stages = sorted({e.stage.lower() for e in mine if e.stage})
            unknown = [s for s in stages if config.canonical_stage(s) is None]
            if unknown:
                raise NotFoundError(
                    f"{name}: GTO stages {', '.join(unknown)} are not declared in "
                    f"registry/registry.yaml (stages: {', '.join(config.stages)}); add them"
                )
            registered = [e for e in mine if e.action == "register"]
            by_version: dict[str, GtoEvent] = {}
            for event in registered:
                assert event.version is not None
                by_version.setdefault(event.version, event)
            ordered = sorted(by_version, key=_semver_key)
            numbers: dict[str, int] = {}  # commit -> our version (the greatest there)
            gone = {e.version for e in mine if e.action == "deregister"}
            for number, version in enumerate(ordered, start=1):
                event = by_version[version]
                filename, content = _artifact_file(source_git, event.commit, name)
                with tempfile.TemporaryDirectory(prefix="modelreg-gto-") as scratch:
                    weights = Path(scratch) / filename
                    weights.write_bytes(content)
                    register_into(
                        change,
                        name,
                        number,
                        weights=weights,
                        description=f"imported from GTO {version} ({event.tag})",
                        tags={GTO_VERSION_TAG: version, "gto.commit": event.commit},
                        push=push,
                        created=event.date,
                        progress=progress,
                    )
                numbers[event.commit] = number
            steps = []
            pointers: dict[str, StagePointer] = {}
            for event, stage, holder in _holders(mine, numbers):
                path = stage_pointer_path(name, stage)
                current = pointers.get(stage)
                reason = f"GTO {event.tag}"
                if holder is None:
                    pointers.pop(stage, None)
                    data: bytes | None = None
                    subject = f"clear {name}'s {stage} stage (GTO {event.tag})"
                else:
                    retired = set(current.retired) | {current.version} if current else set()
                    pointer = StagePointer(
                        model=name,
                        name=stage,
                        version=holder,
                        since=event.date.replace(microsecond=0),
                        previous=current.version if current else None,
                        reason=reason,
                        retired=tuple(sorted(retired - {holder})),
                    )
                    pointers[stage] = pointer
                    data = _pointer_bytes(path, pointer)
                    subject = f"promote {name} version {holder} to {stage}"
                trailers = {"Event": "promote" if holder else "transition", "Model": name,
                            "Stage": stage, "Version": holder or "", "Reason": reason}  # fmt: skip
                steps.append(Step(commit_message(subject, trailers), {path: data}, event.author))
            held = {p.version for p in pointers.values()}
            _deprecate(change, name, numbers, by_version, gone, held)
            plural = "s" if len(ordered) != 1 else ""
            message = commit_message(
                f"import {name} from GTO ({len(ordered)} version{plural})",
                {"Event": "import", "Model": name},
            )
            sha = change.commit(message, series=steps)
        assert sha is not None
        result.commits.append(sha)
        result.models[name] = {
            "versions": {v: numbers[by_version[v].commit] for v in ordered},
            "assignments": len(steps),
            "stages": {s: p.version for s, p in pointers.items()},
            "deprecated": sorted(v for v in gone if v),
        }
    return result


def _pointer_bytes(path: str, pointer: StagePointer) -> bytes:
    from modelreg.ops.promote import pointer_bytes

    return pointer_bytes(path, pointer)


def _deprecate(
    change: Change,
    name: str,
    numbers: dict[str, int],
    by_version: dict[str, GtoEvent],
    gone: set[str | None],
    held: set[int],
) -> None:
    """A version GTO deregistered is deprecated here (its number stays taken), unless a
    stage still shows it: GTO allows that, and a deprecated version may not be held."""
    from dataclasses import replace

    from modelreg.core.layout import version_path
    from modelreg.core.model import Deprecation, ModelVersion

    for version in sorted(v for v in gone if v and v in by_version):
        number = numbers[by_version[version].commit]
        if number in held:
            continue
        path = version_path(name, number)
        staged = change.staged(path)
        assert staged is not None
        document = yaml.safe_load(staged)
        parsed = ModelVersion.from_document(document)
        marked = replace(
            parsed, deprecation=Deprecation(change.now, f"deregistered in GTO ({version}!)")
        )
        change.put_manifest(path, marked.to_document(), "version")
