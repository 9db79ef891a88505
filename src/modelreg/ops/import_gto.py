"""``modelreg import-gto``: bring a GTO (DVC's Git Tag Ops) registry over from its tags.

GTO keeps its registry in annotated git tags, in the grammar of ``gto/constants.py``
(GTO 1.10, copied below so that exactly the tags GTO reads are read):
``NAME@vX.Y.Z`` registers a version on the tagged commit, ``NAME@vX.Y.Z!``
deregisters it, ``NAME#STAGE#N`` assigns the stage to the version registered on the
tagged commit, ``NAME#STAGE!#N`` unassigns it, ``NAME@deprecated`` deprecates the
whole model (any tag may carry a ``#N`` counter; GTO's ``--simple`` tags have none).
GTO reads only annotated tags, and orders them by the tagger's date; the importer
does the same, breaking ties of one second by the counter, then the tag's name.

**What a model becomes.** Its versions, numbered 1, 2, ... in semantic-version order
(semver.org precedence: ``v1.0.0-rc.2`` < ``v1.0.0-rc.10`` < ``v1.0.0``), each from
the file ``artifacts.yaml`` names for the model at the version's commit, with the
GTO version, commit and path in the version's ``tags`` (``gto.version``,
``gto.commit``, ``gto.path``: free-form labels the schema allows and that
``validate --base`` lets change later), the registration's tagger as ``author`` and
its date as ``created``. The file is read from git when the commit stores it, or,
for a file DVC tracks there (a ``.dvc`` file or ``dvc.lock``), from SOURCE's DVC
cache, verified against DVC's md5; a version whose file is in neither is refused
with the ``dvc fetch`` that brings it.

**What its stages become.** GTO's ``show NAME#STAGE`` answers, among the versions
still registered, the one assigned to the stage most recently and not unassigned
since; a deprecated model shows nothing, as long as the deprecation is its newest
event (GTO counts as the model's events its version commits and HEAD, when HEAD's
``artifacts.yaml`` lists it: a newer one revives it). The importer replays them in GTO's
order through that same rule and writes a stage pointer change each time the
answer changes: an assignment promotes; an unassignment or a deregistration falls
back to the earlier holder, restoring its pointer file exactly when it is still on
the stage's stack (so ``history`` calls it a rollback and ``modelreg rollback`` walks
it as it would its own), or clears the stage. A deregistered version is deprecated
(its number stays taken), and ``NAME@deprecated`` deprecates every version and
clears every stage, since modelreg has no model-level deprecation; a later GTO tag
reactivating the model lifts both, as it does in GTO. An assignment that changes
nothing GTO shows (re-assigning the version a stage shows) has no counterpart.

**Commits: one per model, plus one per stage change.** The brief is one commit per
model, but ``modelreg history`` is read from the stage pointer files' git log
(:mod:`modelreg.core.pointer_log`: one entry per commit that changed a pointer,
with that commit's author and author date). One commit would show every stage's
whole GTO history as a single change by the importer. So each model is one
transaction (:class:`~modelreg.ops.change.Change`, the one write path): a first
commit with its versions, then one commit per stage change, authored by the tag's
tagger at the tag's date (the committer is the user), built with git plumbing and
landed by a single compare-and-swap of HEAD, so the model appears with its whole
history or not at all. Every commit in the series validates (a pointer never names
a deprecated version; the deprecation and the move are one commit).

**Refusals.** Everything is read and checked for every model before anything is
written, so bad input is one line (exit 1) and changes nothing: SOURCE not a git
repository; a model name modelreg cannot hold (GTO allows ``/`` and folder
prefixes); two models or two stages differing only in case; a GTO stage that
``registry.yaml`` does not declare (declare it: stages are reviewed configuration,
so no option adds them behind the reviewer's back); a tag on something other than
a commit; a version registered on two commits; an assignment to a commit with no
registered version, or with two (GTO refuses to read those too); an
``artifacts.yaml`` path that leaves the repository or is a symbolic link. A model
already here is skipped when it is exactly what the import would write (a second
run, or a rerun after a failure, does nothing more) and refused otherwise.
Lightweight tags in GTO's grammar are ignored, as GTO ignores them, and listed.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelreg.artifacts.dvc import object_path, read_dvc_config, read_sidecar
from modelreg.core.errors import (
    AlreadyExistsError,
    ConflictError,
    InputError,
    ModelregError,
    NotFoundError,
    StorageError,
)
from modelreg.core.escape import control_characters
from modelreg.core.git import Git
from modelreg.core.layout import (
    model_dir,
    model_manifest_path,
    name_problem,
    stage_pointer_path,
    version_path,
)
from modelreg.core.model import Deprecation, Model, ModelVersion, RegistryConfig, StagePointer
from modelreg.core.registry import Registry
from modelreg.core.semver import SemVer
from modelreg.core.yaml_edit import manifest_bytes
from modelreg.core.yaml_io import parse_yaml
from modelreg.ops.change import Change, Step, commit_message

__all__ = [
    "GTO_COMMIT_TAG",
    "GTO_PATH_TAG",
    "GTO_VERSION_TAG",
    "GtoEvent",
    "GtoImport",
    "GtoModelImport",
    "import_gto",
    "read_gto_events",
]

GTO_VERSION_TAG = "gto.version"
GTO_COMMIT_TAG = "gto.commit"
GTO_PATH_TAG = "gto.path"

# gto/constants.py, verbatim: the artifact (an optional folder prefix and '='), then a
# stage or a version (either cancelled by '!'), or @deprecated / @created; a counter.
_DIRNAME = "[a-zA-Z0-9-_./]+"
_NAME = r"[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?"
_SEMVER = (
    r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<buildmetadata>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
_FULLNAME_IN_TAG = f"(?P<dirname>{_DIRNAME}=)?(?P<name>{_NAME})"
_TAG = re.compile(
    f"^(?P<artifact>{_FULLNAME_IN_TAG})(((#(?P<stage>{_NAME})|@(?P<version>v{_SEMVER}))"
    r"(?P<cancel>!?))|@((?P<deprecated>deprecated)|(?P<created>created)))(#(?P<counter>[0-9]+))?$"
)
_VERSION = re.compile(f"v{_SEMVER}")

_MAX_INDEX_BYTES = 1024 * 1024
_MAX_MESSAGE = 2000


@dataclass(frozen=True)
class GtoEvent:
    """One annotated GTO tag, parsed."""

    tag: str
    model: str
    action: str
    """register, deregister, assign, unassign or deprecate; "commit" for a commit GTO
    counts among the model's events (``tag`` then names the commit)."""
    commit: str
    tagger: tuple[str, str]
    """(name, email) of the tag's tagger."""
    date: datetime
    """The tagger's date, in UTC."""
    stamp: str
    """The tagger's date as git wrote it (its own time zone), for the replayed commit."""
    counter: int = 0
    version: str | None = None
    stage: str | None = None
    message: str = ""

    @property
    def author(self) -> tuple[str, str, str]:
        """(name, email, ISO date) for a commit made on the tagger's behalf."""
        return (*self.tagger, self.stamp)

    @property
    def identity(self) -> str:
        return f"{self.tagger[0]} <{self.tagger[1]}>"


@dataclass
class GtoModelImport:
    """What ``import-gto`` did with one GTO artifact."""

    name: str
    state: str = "imported"
    """imported, unchanged (already here, exactly as the import would write it) or
    planned (a dry run)."""
    versions: dict[str, int] = field(default_factory=dict)
    """GTO version -> modelreg version number."""
    assignments: int = 0
    """GTO's assignment and unassignment tags of the model."""
    stage_changes: int = 0
    """Stage pointer changes: the entries ``modelreg history`` lists."""
    stages: dict[str, int] = field(default_factory=dict)
    deprecated: list[str] = field(default_factory=list)
    """GTO versions deprecated here (deregistered, or the model deprecated)."""
    model_deprecated: bool = False
    commit: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "versions": dict(self.versions),
            "assignments": self.assignments,
            "stage_changes": self.stage_changes,
            "stages": dict(self.stages),
            "deprecated": list(self.deprecated),
            "model_deprecated": self.model_deprecated,
            "commit": self.commit,
        }


@dataclass
class GtoImport:
    """What one ``import-gto`` did, model by model (each one transaction)."""

    source: str
    models: list[GtoModelImport] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)
    """(tag, why) for tags in GTO's grammar that hold no state GTO reads."""
    dry_run: bool = False

    @property
    def commits(self) -> list[str]:
        return [m.commit for m in self.models if m.commit]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "modelreg.import-gto/1",
            "source": self.source,
            "dry_run": self.dry_run,
            "models": [m.to_json() for m in self.models],
            "commits": self.commits,
            "ignored": [{"tag": tag, "why": why} for tag, why in self.ignored],
        }


# --- reading the tags ----------------------------------------------------------------------


def read_gto_events(source: str | Path) -> list[GtoEvent]:
    """Every GTO tag of the repository at ``source``, in GTO's order (date, counter)."""
    events, _ = _read_tags(Git(Path(source)))
    return events


_FIELDS = (
    "%(refname)", "%(objecttype)", "%(objectname)", "%(*objecttype)", "%(*objectname)",
    "%(taggername)", "%(taggeremail:trim)", "%(taggerdate:unix)", "%(taggerdate:iso-strict)",
)  # fmt: skip


def _read_tags(git: Git) -> tuple[list[GtoEvent], list[tuple[str, str]]]:
    # Fields end in NUL, which no git field can hold, so a hostile tagger name (a
    # newline in it) cannot shift a record; the newline after each record is stripped.
    out = git.text("for-each-ref", "--format=" + "%00".join(_FIELDS) + "%00", "refs/tags")
    tokens = out.split("\0")
    count = len(_FIELDS)
    found: list[tuple[re.Match[str], list[str]]] = []
    ignored: list[tuple[str, str]] = []
    for start in range(0, len(tokens) - count + 1, count):
        record = tokens[start : start + count]
        name = record[0].lstrip("\n").removeprefix("refs/tags/")
        match = _TAG.fullmatch(name)
        if match is None:
            continue  # not a GTO tag (a release tag, say): GTO does not read it either
        if match["created"]:
            ignored.append((name, "NAME@created marks an artifact and holds no state"))
        elif record[1] != "tag":
            ignored.append((name, "a lightweight tag; GTO reads only annotated tags"))
        elif record[3] != "commit":
            raise InputError(
                f"tag {name!r} points at a {record[3] or 'missing object'}, not a commit; GTO "
                "tags name commits: delete it, or tag the version's commit"
            )
        elif not record[7] or not record[8]:
            raise InputError(f"tag {name!r} has no tagger date; GTO cannot order it either")
        else:
            found.append((match, record))
    with git.blobs() as reader:
        messages = reader.read_many([record[2] for _, record in found])
    events = []
    for (match, record), raw in zip(found, messages, strict=True):
        if match["deprecated"]:
            action = "deprecate"
        elif match["version"]:
            action = "deregister" if match["cancel"] else "register"
        else:
            action = "unassign" if match["cancel"] else "assign"
        events.append(
            GtoEvent(
                tag=record[0].lstrip("\n").removeprefix("refs/tags/"),
                model=match["artifact"].replace("=", ":"),
                action=action,
                commit=record[4],
                tagger=(_plain(record[5])[:200] or "unknown", _plain(record[6])[:200] or "unknown"),
                date=datetime.fromtimestamp(int(record[7]), UTC),
                stamp=record[8],
                counter=int(match["counter"] or 0),
                version=match["version"],
                stage=match["stage"],
                message=_tag_message(raw or b""),
            )
        )
    events.sort(key=_gto_order)
    return events, ignored


def _tag_message(raw: bytes) -> str:
    """A tag object's message, without its signature, as plain text."""
    _, _, body = raw.partition(b"\n\n")
    body = body.split(b"-----BEGIN PGP SIGNATURE-----")[0]
    body = body.split(b"-----BEGIN SSH SIGNATURE-----")[0]
    text = body.decode("utf-8", "replace").strip()
    return _plain(text, lines=True)[:_MAX_MESSAGE]


def _plain(text: str, *, lines: bool = False) -> str:
    """``text`` without control characters (a tagger's name reaches terminals and
    manifests, whose schemas refuse them); ``lines`` keeps line breaks and tabs."""
    keep = "\n\t" if lines else ""
    return "".join(c for c in text if c.isprintable() or c == " " or c in keep).strip()


# --- semantic versions ---------------------------------------------------------------------


def _semver_key(version: str) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
    """semver.org precedence of ``vX.Y.Z[-PRE][+BUILD]``: numbers compare as numbers, a
    release follows its pre-releases, numeric identifiers precede alphanumeric ones, a
    longer pre-release follows its prefix; build metadata does not count."""
    match = _VERSION.fullmatch(version)
    if match is None:
        raise InputError(f"{version!r} is not a semantic version (vX.Y.Z)")
    pre = match["prerelease"]
    parts = tuple(
        (0, int(p), "") if p.isdigit() else (1, 0, p) for p in (pre.split(".") if pre else ())
    )
    return (int(match["major"]), int(match["minor"]), int(match["patch"]), 0 if pre else 1, parts)


# --- the plan ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ArtifactFile:
    """Where a version's file is: a blob in SOURCE's git, or an object in its DVC cache."""

    path: str
    """As ``artifacts.yaml`` names it, relative to the repository."""
    blob: str | None = None
    cached: Path | None = None
    md5: str | None = None

    @property
    def filename(self) -> str:
        return posixpath.basename(self.path)


@dataclass(frozen=True)
class _PlannedVersion:
    number: int
    gto_version: str
    registration: GtoEvent
    file: _ArtifactFile


@dataclass(frozen=True)
class _PlannedStep:
    """One event that changes what GTO shows: stage holders and deprecations after it."""

    event: GtoEvent
    holders: Mapping[str, int | None]
    """Each stage whose holder changed -> its new holder (None: cleared)."""
    deprecations: Mapping[int, Deprecation | None]
    """Each version whose deprecation changed -> its deprecation (None: lifted)."""


@dataclass(frozen=True)
class _Plan:
    name: str
    versions: tuple[_PlannedVersion, ...]
    steps: tuple[_PlannedStep, ...]
    stages: Mapping[str, int]
    deprecated: Mapping[int, Deprecation]
    model_deprecated: bool
    assignments: int
    description: str
    kind: str | None

    def summary(self, state: str, commit: str | None = None) -> GtoModelImport:
        numbers = {v.number: v.gto_version for v in self.versions}
        return GtoModelImport(
            name=self.name,
            state=state,
            versions={v.gto_version: v.number for v in self.versions},
            assignments=self.assignments,
            stage_changes=sum(len(s.holders) for s in self.steps),
            stages=dict(self.stages),
            deprecated=[numbers[n] for n in sorted(self.deprecated)],
            model_deprecated=self.model_deprecated,
            commit=commit,
        )


def _plan_model(
    name: str,
    events: Sequence[GtoEvent],
    config: RegistryConfig,
    source: Git,
    cache_dir: Path,
) -> _Plan:
    stage_of = _stage_names(name, events, config)
    registrations: dict[str, GtoEvent] = {}
    for event in events:
        if event.action != "register":
            continue
        assert event.version is not None
        first = registrations.setdefault(event.version, event)
        if first.commit != event.commit:
            raise InputError(
                f"{name} {event.version} is registered on two commits ({first.tag} on "
                f"{first.commit[:12]}, {event.tag} on {event.commit[:12]}); GTO cannot tell "
                "which one it is: delete one of the tags"
            )
    if not registrations:
        raise NotFoundError(
            f"GTO artifact {name!r} has no registered version (NAME@vX.Y.Z tag); "
            "import-gto brings versions over with their files"
        )
    ordered = sorted(registrations, key=lambda v: (_semver_key(v), registrations[v].date, v))
    index: dict[str, Any] = {}
    versions = []
    for number, gto_version in enumerate(ordered, start=1):
        registration = registrations[gto_version]
        file = _locate_file(source, cache_dir, name, gto_version, registration.commit, index)
        versions.append(_PlannedVersion(number, gto_version, registration, file))
    numbers = {v.gto_version: v.number for v in versions}
    on_commit: dict[str, list[str]] = {}
    for version in versions:
        on_commit.setdefault(version.registration.commit, []).append(version.gto_version)

    # GTO's state, replayed tag by tag (gto/base.py: Artifact, Version, VStage), with
    # the commits GTO reads as the model's events too (gto/index.py's enrichments).
    events = sorted([*events, *_commit_events(source, name, on_commit)], key=_gto_order)
    active = dict.fromkeys(numbers.values(), True)  # registered and not deregistered
    model_active = True
    vstage: dict[tuple[int, str], tuple[bool, int]] = {}  # -> (assigned, order of last assign)
    shown: dict[str, int] = {}
    deprecated: dict[int, Deprecation] = {}
    steps: list[_PlannedStep] = []
    assignments = 0
    for order, event in enumerate(events):
        model_active = event.action != "deprecate"  # any later event reactivates it
        if event.action in ("register", "deregister"):
            assert event.version is not None
            if event.version in numbers:
                active[numbers[event.version]] = event.action == "register"
        elif event.action in ("assign", "unassign"):
            assert event.stage is not None
            assignments += 1
            number = _assigned_version(name, event, on_commit, numbers)
            stage = stage_of[event.stage]
            if event.action == "assign":
                vstage[(number, stage)] = (True, order)
            else:
                last = vstage.get((number, stage), (False, -1))[1]
                vstage[(number, stage)] = (False, last)
        now_shown: dict[str, int | None] = {}
        for (number, stage), (assigned, when) in vstage.items():
            if not (assigned and active[number] and model_active):
                continue
            held = now_shown.get(stage)
            if held is None or when > vstage[(held, stage)][1]:
                now_shown[stage] = number
        moved = {
            stage: now_shown.get(stage)
            for stage in sorted(set(shown) | set(now_shown))
            if shown.get(stage) != now_shown.get(stage)
        }
        shown = {s: n for s, n in now_shown.items() if n is not None}
        changed: dict[int, Deprecation | None] = {}
        for number, is_active in active.items():
            gone = not (is_active and model_active)
            if gone and number not in deprecated:
                why = (
                    f"model deprecated in GTO ({event.tag})"
                    if not model_active
                    else f"deregistered in GTO ({event.tag})"
                )
                deprecated[number] = changed[number] = Deprecation(event.date, why)
            elif not gone and number in deprecated:
                del deprecated[number]
                changed[number] = None
        if moved or changed:
            steps.append(_PlannedStep(event, moved, changed))
    kind, description = _index_fields(index)
    return _Plan(
        name=name,
        versions=tuple(versions),
        steps=tuple(steps),
        stages=dict(sorted(shown.items())),
        deprecated=dict(deprecated),
        model_deprecated=not model_active,
        assignments=assignments,
        description=description,
        kind=kind,
    )


def _gto_order(event: GtoEvent) -> tuple[datetime, int, int, str]:
    """GTO's order of events: by date; within a second a commit before the tags on it,
    then by counter, then by name."""
    return (event.date, 0 if event.action == "commit" else 1, event.counter, event.tag)


def _commit_events(source: Git, name: str, on_commit: Mapping[str, list[str]]) -> list[GtoEvent]:
    """The commits GTO counts among the model's events: each version's, and HEAD's
    when its ``artifacts.yaml`` lists the model. GTO calls a model deprecated only
    while its deprecation is its newest event, so a newer such commit revives it."""
    shas = set(on_commit)
    head = source.head_commit()
    if head is not None and head not in shas:
        raw = source.run("cat-file", "blob", f"{head}:artifacts.yaml", check=False)
        document = parse_yaml(raw, "artifacts.yaml at HEAD") if raw else None
        if isinstance(document, dict) and name in document:
            shas.add(head)
    fields = "%H%x00%ct%x00%cI%x00%an%x00%ae%x00"
    out = source.text("log", "--no-walk=unsorted", f"--format={fields}", *sorted(shas))
    tokens = out.split("\0")
    events = []
    for start in range(0, len(tokens) - 4, 5):
        sha, unix, stamp, author, email = tokens[start : start + 5]
        sha = sha.strip()
        events.append(
            GtoEvent(
                tag=f"commit {sha[:12]}",
                model=name,
                action="commit",
                commit=sha,
                tagger=(_plain(author)[:200] or "unknown", _plain(email)[:200] or "unknown"),
                date=datetime.fromtimestamp(int(unix), UTC),
                stamp=stamp,
            )
        )
    return events


def _stage_names(name: str, events: Sequence[GtoEvent], config: RegistryConfig) -> dict[str, str]:
    """Each GTO stage of the model -> the registry's stage (names compare ignoring case,
    as modelreg's do); one line naming every stage that does not map."""
    gto_stages = sorted({e.stage for e in events if e.stage is not None})
    by_lower: dict[str, list[str]] = {}
    for stage in gto_stages:
        by_lower.setdefault(stage.lower(), []).append(stage)
    twins = [" and ".join(repr(s) for s in group) for group in by_lower.values() if len(group) > 1]
    if twins:
        raise InputError(
            f"{name}: GTO stages {'; '.join(twins)} differ only in case and would be one "
            "stage here; rename one in GTO (new tags) before importing"
        )
    unusable = [s for s in gto_stages if name_problem("stage", s.lower())]
    if unusable:
        raise InputError(
            f"{name}: GTO stage {unusable[0]!r} cannot name a stage here: "
            f"{name_problem('stage', unusable[0].lower())}"
        )
    unknown = [s for s in gto_stages if config.canonical_stage(s) is None]
    if unknown:
        raise NotFoundError(
            f"{name}: GTO stages {', '.join(unknown)} are not declared in "
            f"registry/registry.yaml (stages: {', '.join(config.stages)}); add them to "
            "'stages' there, in promotion order, commit, and import again"
        )
    return {s: str(config.canonical_stage(s)) for s in gto_stages}


def _assigned_version(
    name: str, event: GtoEvent, on_commit: Mapping[str, list[str]], numbers: Mapping[str, int]
) -> int:
    """The version an assignment tag means: the one registered on its commit (GTO's
    ``find_version(commit_hexsha=...)``, which also refuses none or several)."""
    there = on_commit.get(event.commit, [])
    if not there:
        raise NotFoundError(
            f"tag {event.tag!r}: no version of {name} is registered on commit "
            f"{event.commit[:12]}; register one there in GTO (gto register) and import again"
        )
    if len(there) > 1:
        raise InputError(
            f"tag {event.tag!r}: commit {event.commit[:12]} holds versions "
            f"{', '.join(there)} of {name}, and GTO cannot tell which one is assigned "
            "either: deregister all but one"
        )
    return numbers[there[0]]


def _index_fields(index: Mapping[str, Any]) -> tuple[str | None, str]:
    """The model's GTO type and description, from ``artifacts.yaml`` at its newest
    version's commit (its last entry read)."""
    entry = index.get("latest")
    if not isinstance(entry, dict):
        return None, ""
    kind = entry.get("type")
    text = entry.get("description")
    kind = kind if isinstance(kind, str) and kind and not control_characters(kind) else None
    description = text if isinstance(text, str) and not control_characters(text) else ""
    return (kind[:200] if kind else None), description[:20000]


def _locate_file(
    source: Git, cache_dir: Path, name: str, version: str, commit: str, index: dict[str, Any]
) -> _ArtifactFile:
    """The file ``artifacts.yaml`` names for ``name`` at ``commit``: stored in git there,
    or tracked by DVC there with its object in SOURCE's cache."""
    where = f"{name} {version}: artifacts.yaml at {commit[:12]}"
    raw = source.run("cat-file", "blob", f"{commit}:artifacts.yaml", check=False)
    if not raw:
        raise NotFoundError(
            f"{where} does not exist; import-gto needs the file GTO's index names for "
            "each version (a virtual artifact has none)"
        )
    if len(raw) > _MAX_INDEX_BYTES:
        raise InputError(f"{where} is larger than {_MAX_INDEX_BYTES} bytes")
    document = parse_yaml(raw, f"artifacts.yaml at {commit[:12]}")
    entry = document.get(name) if isinstance(document, dict) else None
    path = entry.get("path") if isinstance(entry, dict) else None
    if not isinstance(path, str) or not path.strip():
        raise NotFoundError(
            f"{where} names no path for {name!r}; import-gto needs the file of each version"
        )
    index["latest"] = entry
    clean = posixpath.normpath(path.strip())
    if clean.startswith(("/", "../")) or clean in ("..", "."):
        raise InputError(f"{where}: path {path!r} leaves the repository; name a file in it")
    if "\\" in clean or control_characters(clean):
        raise InputError(f"{where}: path {path!r} is not a plain relative path with '/'")
    listed = source.run("ls-tree", "-z", commit, "--", clean).split(b"\0")[0].decode()
    if listed:
        meta, _, _ = listed.partition("\t")
        mode, kind, sha = meta.split()
        if mode == "120000":
            raise InputError(f"{where}: {clean} is a symbolic link; name the file itself")
        if kind == "tree":
            raise InputError(f"{where}: {clean} is a folder; import-gto imports one file")
        if kind != "blob":
            raise InputError(f"{where}: {clean} is a submodule, not a file")
        return _ArtifactFile(clean, blob=sha)
    md5 = _dvc_md5(source, commit, clean, where)
    if md5 is None:
        raise NotFoundError(
            f"{where}: {clean} is neither stored in git nor tracked by DVC at that commit"
        )
    for candidate in (object_path(cache_dir, md5), cache_dir / md5[:2] / md5[2:]):
        if candidate.is_file():
            return _ArtifactFile(clean, cached=candidate, md5=md5)
    raise NotFoundError(
        f"{where}: {clean} is tracked by DVC (md5 {md5}) and is not in the source's DVC "
        f"cache ({cache_dir}); run 'dvc fetch --all-tags' there, then import again"
    )


def _dvc_md5(source: Git, commit: str, path: str, where: str) -> str | None:
    """DVC's md5 of ``path`` at ``commit``: from ``path.dvc``, or an output in dvc.lock."""
    sidecar = source.run("cat-file", "blob", f"{commit}:{path}.dvc", check=False)
    found: str | None = None
    if sidecar:
        out = read_sidecar(f"{path}.dvc at {commit[:12]}", sidecar)
        found = out.md5 if out.path == posixpath.basename(path) else None
    else:
        lock = source.run("cat-file", "blob", f"{commit}:dvc.lock", check=False)
        if lock and len(lock) <= _MAX_INDEX_BYTES:
            document = parse_yaml(lock, f"dvc.lock at {commit[:12]}")
            stages = document.get("stages") if isinstance(document, dict) else None
            for stage in stages.values() if isinstance(stages, dict) else ():
                for out in stage.get("outs") or () if isinstance(stage, dict) else ():
                    if isinstance(out, dict) and out.get("path") == path:
                        found = out.get("md5") if isinstance(out.get("md5"), str) else None
    if found is None:
        return None
    if found.endswith(".dir"):
        raise InputError(f"{where}: {path} is a folder DVC tracks; import-gto imports one file")
    if not re.fullmatch(r"[0-9a-f]{32}", found):
        raise InputError(f"{where}: DVC's md5 of {path} ({found!r}) is not an md5")
    return found


# --- what is here already ------------------------------------------------------------------


def _already_here(registry: Registry, plan: _Plan) -> bool:
    """Whether the model is here exactly as importing ``plan`` would leave it."""
    name = plan.name
    if registry.version_numbers(name) != [v.number for v in plan.versions]:
        return False
    for planned in plan.versions:
        version = registry.version(name, planned.number)
        tags = version.tags
        if (
            tags.get(GTO_VERSION_TAG) != planned.gto_version
            or tags.get(GTO_COMMIT_TAG) != planned.registration.commit
            or (version.deprecation is not None) != (planned.number in plan.deprecated)
        ):
            return False
    pointers = {stage: p.version for stage, p in registry.stage_pointers(name).items()}
    return pointers == dict(plan.stages)


def _refuse_existing(registry: Registry, plan: _Plan, names: Sequence[str]) -> str | None:
    """None when the model is new here; "unchanged" when already imported as is; else
    one line refusing it."""
    here = registry.model_names()
    if plan.name in here:
        if _already_here(registry, plan):
            return "unchanged"
        raise AlreadyExistsError(
            f"model {plan.name!r} already exists here and differs from GTO's; import-gto "
            "adds new models only (leave it out with --model, or remove it first)"
        )
    twins = [m for m in (*here, *names) if m != plan.name and m.lower() == plan.name.lower()]
    if twins:
        raise ConflictError(
            f"GTO artifact {plan.name!r} and model {twins[0]!r} differ only in case and "
            "would share a folder on macOS and Windows; import one of them with --model"
        )
    return None


# --- the import ----------------------------------------------------------------------------


def import_gto(
    source: str | Path,
    *,
    repo: str | Path | None = None,
    models: Sequence[str] = (),
    push: bool = True,
    dry_run: bool = False,
    progress: bool = False,
) -> GtoImport:
    """Import the GTO registry of the git repository ``source`` (``models``: only these)
    into the registry at ``repo``: one transaction per model (see the module docstring).

    Everything is read and checked for every model first; a problem raises one
    :class:`~modelreg.ModelregError` line and nothing is written. ``dry_run`` stops
    there and reports what would be imported. ``push`` uploads the files to the DVC
    remote; ``progress`` lets DVC draw its bars on stderr (a terminal's).
    """
    source_path = Path(source)
    source_git = Git(source_path)
    if not source_path.is_dir() or not _is_repository(source_git):
        raise InputError(f"{source}: not a git repository (give the GTO repository's top folder)")
    events, ignored = _read_tags(source_git)
    names = sorted({e.model for e in events})
    if models:
        missing = [m for m in dict.fromkeys(models) if m not in names]
        if missing:
            raise NotFoundError(
                f"{source} has no GTO tags for {', '.join(missing)}"
                + (f" (it has {', '.join(names)})" if names else "")
            )
        names = [n for n in names if n in models]
    if not names:
        raise NotFoundError(f"{source} has no GTO tags (NAME@vX.Y.Z, NAME#STAGE#N)")
    for name in names:
        problem = name_problem("model", name)
        if problem:
            others = [n for n in names if n != name]
            hint = f"; import the others with --model {' --model '.join(others)}" if others else ""
            raise InputError(f"GTO artifact {problem}{hint}")
    cache_dir = read_dvc_config(source_path).cache_dir
    result = GtoImport(source=str(source), ignored=ignored, dry_run=dry_run)
    with Registry.open(repo) as registry:
        config = registry.config
        plans = [
            _plan_model(name, [e for e in events if e.model == name], config, source_git, cache_dir)
            for name in names
        ]
        states = {plan.name: _refuse_existing(registry, plan, names) for plan in plans}
    for plan in plans:
        state = states[plan.name]
        if state is not None or dry_run:
            result.models.append(plan.summary(state or "planned"))
            continue
        sha = _import_model(plan, source_git, repo=repo, push=push, progress=progress)
        result.models.append(plan.summary("imported", sha))
    return result


def _is_repository(git: Git) -> bool:
    """Whether ``git.root`` is a repository's top folder (or a bare repository), not
    merely a folder inside one."""
    try:
        top = git.text("rev-parse", "--show-toplevel", check=False).strip()
        bare = git.text("rev-parse", "--is-bare-repository", check=False).strip()
    except ModelregError:
        return False
    if bare == "true":
        return True
    return bool(top) and Path(top).resolve() == git.root.resolve()


def _import_model(
    plan: _Plan, source: Git, *, repo: str | Path | None, push: bool, progress: bool
) -> str:
    from modelreg.ops.register import register_into

    name = plan.name
    with Change.open(repo) as change:
        # Checked again under the lock: another writer may have added it meanwhile.
        if (change.root / model_dir(name)).exists():
            raise AlreadyExistsError(
                f"model {name!r} appeared here while importing; nothing of it was imported"
            )
        manifests: dict[str, bytes] = {}
        semvers = _semvers(plan.versions)
        with tempfile.TemporaryDirectory(prefix="modelreg-gto-") as scratch:
            for planned in plan.versions:
                weights = _materialise(source, planned, Path(scratch))
                registration = planned.registration
                try:
                    done = register_into(
                        change,
                        name,
                        planned.number,
                        weights=weights,
                        description=_description(registration),
                        tags={
                            GTO_VERSION_TAG: planned.gto_version,
                            GTO_COMMIT_TAG: registration.commit,
                            GTO_PATH_TAG: planned.file.path,
                        },
                        push=push,
                        created=registration.date,
                        progress=progress,
                        semver=semvers.get(planned.number),
                    )
                except ModelregError as exc:
                    # The file is a scratch copy: name the one in the source instead.
                    where = f"{planned.file.path} at {registration.commit[:12]}"
                    message = f"{registration.tag}: {str(exc).replace(str(weights), where)}"
                    raise (StorageError if isinstance(exc, StorageError) else InputError)(
                        message
                    ) from None
                weights.unlink()
                # The registration's tagger registered it, from the GTO version's commit
                # (in SOURCE): not the importer, nor this repository's HEAD.
                lineage = replace(
                    done.version.lineage, git_commit=registration.commit, git_dirty=None
                )
                version = replace(done.version, author=registration.identity[:500], lineage=lineage)
                manifests[done.path] = change.put_manifest(
                    done.path, version.to_document(), "version"
                )
        _describe_model(change, plan)
        steps = list(_steps(plan, change, manifests))
        plural = "s" if len(plan.versions) != 1 else ""
        message = commit_message(
            f"import {name} from GTO ({len(plan.versions)} version{plural})",
            {"Event": "import", "Model": name},
        )
        sha = change.commit(message, series=steps)
    assert sha is not None
    return sha


def _semvers(versions: Sequence[_PlannedVersion]) -> dict[int, str]:
    """Each version's semver, from its GTO version, so ``NAME@v1.2.0`` names the same
    version here as in GTO. Versions come in semver order; one that semver.org cannot
    order against the one before (build metadata only) keeps its GTO version in the
    ``gto.version`` tag alone."""
    semvers: dict[int, str] = {}
    seen: set[str] = set()
    for planned in versions:
        try:
            semver = str(SemVer.parse(planned.gto_version, allow_v=True))
        except InputError:
            continue
        if semver not in seen:
            seen.add(semver)
            semvers[planned.number] = semver
    return semvers


def _description(registration: GtoEvent) -> str:
    """The version's description: the registration tag's message, where GTO's own
    default would say nothing more, and where it came from."""
    source = f"Imported from GTO ({registration.tag})."
    message = registration.message
    if not message or message.startswith("Registering artifact "):
        return source
    return f"{message}\n\n{source}"


def _materialise(source: Git, planned: _PlannedVersion, scratch: Path) -> Path:
    """The version's file, under its own name in ``scratch``; a DVC object is checked
    against its md5 on the way (a damaged cache is an error, never imported)."""
    file = planned.file
    target = scratch / file.filename
    if file.blob is not None:
        target.write_bytes(source.run("cat-file", "blob", file.blob))
        return target
    assert file.cached is not None and file.md5 is not None
    digest = hashlib.md5(usedforsecurity=False)
    with file.cached.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(1 << 20):
            digest.update(chunk)
            writer.write(chunk)
    if digest.hexdigest() != file.md5:
        target.unlink()
        raise StorageError(
            f"{planned.registration.tag}: the DVC cache object {file.cached} does not match "
            f"its md5 {file.md5}; run 'dvc fetch --all-tags' there again"
        )
    target.chmod(0o644)
    return target


def _describe_model(change: Change, plan: _Plan) -> None:
    """model.yaml gets the description and type ``artifacts.yaml`` gives the model."""
    if not plan.description and not plan.kind:
        return
    path = model_manifest_path(plan.name)
    staged = change.staged(path)
    assert staged is not None
    model = Model.from_document(parse_yaml(staged, path))
    tags = {**model.tags, **({"gto.type": plan.kind} if plan.kind else {})}
    described = replace(model, description=plan.description or model.description, tags=tags)
    change.put_manifest(path, described.to_document(), "model")


def _steps(plan: _Plan, change: Change, manifests: dict[str, bytes]) -> Iterator[Step]:
    """The commits after the versions': one per event that changed what GTO shows."""
    name = plan.name
    # Each stage's pointer files as modelreg's stack holds them (core/pointer_log): a
    # fall back to a version still on it restores that file, as a rollback does.
    stacks: dict[str, list[tuple[int | None, bytes | None]]] = {}
    current: dict[str, StagePointer] = {}
    for step in plan.steps:
        event = step.event
        falls_back = event.action in _FALLS_BACK
        files: dict[str, bytes | None] = {}
        for stage, holder in step.holders.items():
            path = stage_pointer_path(name, stage)
            stack = stacks.setdefault(stage, [(None, None)])
            before = current.get(stage)
            below = [data for version, data in stack[:-1] if version == holder]
            data: bytes | None
            if (falls_back or holder is None) and below:
                data = below[-1]
            elif holder is None:
                data = None
            else:
                retired = (set(before.retired) | {before.version}) if before else set()
                pointer = StagePointer(
                    model=name,
                    name=stage,
                    version=holder,
                    since=event.date,
                    previous=before.version if before else None,
                    reason=f"GTO {event.tag}",
                    retired=tuple(sorted(retired - {holder})),
                )
                data = manifest_bytes(path, pointer.to_document(), "pointer", old=None)
            _replay(stack, holder, data, rollback=falls_back)
            if data is None:
                current.pop(stage, None)
            else:
                current[stage] = StagePointer.from_document(name, stage, parse_yaml(data, path))
            files[path] = data
        for number, deprecation in step.deprecations.items():
            path = version_path(name, number)
            old = manifests[path]
            version = ModelVersion.from_document(parse_yaml(old, path))
            document = replace(version, deprecation=deprecation).to_document()
            manifests[path] = files[path] = manifest_bytes(path, document, "version", old=old)
        yield Step(_step_message(name, step), files, event.author)


_FALLS_BACK = frozenset({"unassign", "deregister", "deprecate"})
"""GTO events after which a stage shows an earlier holder (or nothing): replayed as
rollbacks, so ``history`` and ``modelreg rollback`` read them as modelreg's own."""


def _replay(
    stack: list[tuple[int | None, bytes | None]],
    holder: int | None,
    data: bytes | None,
    *,
    rollback: bool,
) -> None:
    """``stack`` after a commit writing ``data``, as :class:`PointerStack` replays it:
    a file held on it pops down to it; a fresh one replaces the top after a rollback
    and goes on top otherwise."""
    for place, (_, held) in enumerate(stack):
        if held == data:
            del stack[place + 1 :]
            return
    if rollback:
        del stack[-1:]
    stack.append((holder, data))


def _step_message(name: str, step: _PlannedStep) -> str:
    event = step.event
    moves = [
        f"clear {name}'s {stage} stage"
        if holder is None
        else f"{'roll back' if event.action in _FALLS_BACK else 'promote'} {name}'s {stage} "
        f"stage to version {holder}"
        for stage, holder in step.holders.items()
    ]
    moves += [
        f"{'deprecate' if deprecation else 'undeprecate'} {name} version {number}"
        for number, deprecation in step.deprecations.items()
    ]
    subject = f"{'; '.join(moves)} (GTO {event.tag})"
    if len(subject) > 200:
        subject = f"{event.action} {name} (GTO {event.tag})"
    kind = "rollback" if event.action in _FALLS_BACK else "promote"
    stage, holder = next(iter(step.holders.items()), (None, None))
    trailers = {
        "Event": kind if step.holders else "deprecate",
        "Model": name,
        "Stage": stage,
        "Version": holder,
        "Reason": f"GTO {event.tag}",
    }
    return commit_message(subject, trailers, event.message)
