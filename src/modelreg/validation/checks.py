"""``modelreg validate``: every rule the registry's files must satisfy.

Checks run in three layers, and all problems are reported, not only the first:

1. each file alone: safe YAML, then its JSON Schema;
2. each model as a whole: names, file names against fields, numbering,
   pointers to existing non-deprecated versions of declared stages,
   artifacts matching their DVC records (and, unless offline, present in the
   DVC cache or remote);
3. against a base revision (``--base``): merged versions are never removed
   and change only in their mutable fields, and new numbers are higher than
   any the base has.

With ``--base`` only the models the change touches are checked (the base
was validated when it merged), unless ``registry.yaml`` changed, which can
invalidate any model. A full run spreads models over worker processes.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import json
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from modelreg.artifacts.dvc import ObjectStore, object_path, read_dvc_config, read_sidecar
from modelreg.artifacts.paths import (
    MAX_LISTING_BYTES,
    artifact_chain,
    artifact_path_problem,
    artifact_size_problem,
    entry_path_problem,
    link_problem,
    read_bounded_file,
    record_problems,
)
from modelreg.core.errors import InputError, ManifestError, NotFoundError
from modelreg.core.findings import Finding, Severity, check_manifest, check_manifest_bytes
from modelreg.core.git import Git
from modelreg.core.layout import (
    ALIASES,
    ARTIFACTS,
    CONFIG_PATH,
    MODEL_FILE,
    REGISTRY_DIR,
    SCHEMAS_DIR,
    STAGES,
    VERSIONS,
    format_version_ranges,
    model_dir,
    name_problem,
    version_number_from_filename,
    version_path,
)
from modelreg.core.schema import SCHEMA_NAMES, format_path, schema_text
from modelreg.core.semver import order_problems
from modelreg.core.source import TreeSource, WorktreeSource, find_repo_root
from modelreg.core.yaml_io import line_of
from modelreg.ops.change import settle
from modelreg.validation.manifest_cache import ManifestCache

__all__ = ["ValidationReport", "mutable_version_fields", "validate"]

FieldPath = tuple[str | int, ...]

_MODEL_ENTRIES = {MODEL_FILE, VERSIONS, STAGES, ALIASES, ARTIFACTS, "README.md"}
_REGISTRY_ENTRIES = {"registry.yaml", ".schemas", "README.md"}
_RECORD_CODES = {"md5": "artifact-hash", "size": "artifact-size"}
# Below this many version files, starting worker processes costs more than it saves.
_PARALLEL_THRESHOLD = 400


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of one ``validate`` run."""

    findings: tuple[Finding, ...]
    files_checked: int
    models_checked: int
    scope: Literal["full", "changed"]
    base: str | None = None
    offline: bool = False

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "modelreg.validate/1",
            "ok": self.ok,
            "scope": self.scope,
            "base": self.base,
            "offline": self.offline,
            "files_checked": self.files_checked,
            "models_checked": self.models_checked,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "findings": [f.to_json() for f in self.findings],
        }


def mutable_version_fields() -> frozenset[str]:
    """Top-level version fields the schema marks ``x-mutable``: they may change after merge."""
    import json

    schema = json.loads(schema_text("version"))
    return frozenset(k for k, v in schema["properties"].items() if v.get("x-mutable"))


# --- one model ---------------------------------------------------------------------------


@dataclass
class _ArtifactRef:
    path: str  # the version file
    field: FieldPath
    md5: str
    size: int = -1


@dataclass
class _ModelResult:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    artifacts: list[_ArtifactRef] = field(default_factory=list)


class _Tracked:
    """What git tracks under ``registry/``, listed once, at the first question.

    Only tracked links are judged: a pull request can plant a link only by committing
    it, while DVC's own links (``cache.type = symlink``) are made in each clone and
    never tracked. And an artifact is never tracked itself (DVC keeps it out of git,
    its record is what git tracks), so one that is, or a folder committed in its
    place, is a pull request's doing.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._links: set[str] = set()
        self._paths: list[str] | None = None

    def _listed(self) -> list[str]:
        if self._paths is None:
            listed = Git(self.root).run("ls-files", "--stage", "-z", "--", REGISTRY_DIR)
            entries = [e.partition(b"\t") for e in listed.split(b"\0") if e]
            self._paths = sorted(os.fsdecode(name) for _, _, name in entries)
            self._links = {
                os.fsdecode(name) for meta, _, name in entries if meta.startswith(b"120000 ")
            }
        return self._paths

    def is_link(self, path: str) -> bool:
        self._listed()
        return path in self._links

    def holds(self, path: str) -> bool:
        """Whether git tracks ``path`` itself or anything under it."""
        paths = self._listed()
        at = bisect.bisect_left(paths, path)
        if at < len(paths) and paths[at] == path:
            return True
        # Not the next entry: 'model.pt.dvc' sorts between 'model.pt' and 'model.pt/x'.
        inside = bisect.bisect_left(paths, f"{path}/")
        return inside < len(paths) and paths[inside].startswith(f"{path}/")


class _ModelChecker:
    """All rules that involve one model's folder and nothing outside it."""

    def __init__(
        self,
        source: TreeSource,
        name: str,
        stages: tuple[str, ...] | None,
        tracked: _Tracked,
        cache: ManifestCache | None = None,
    ) -> None:
        self.source = source
        self.tracked = tracked
        # Each link on an artifact's way, judged once: True where it is refused (and so
        # reported, at the first artifact that passes through it).
        self.judged: dict[str, bool] = {}
        self.cache = cache
        self.name = name
        self.stages = stages  # None when registry.yaml is itself invalid
        self.dir = model_dir(name)
        self.result = _ModelResult()
        # number -> "deleted", "deprecated", or "" for a version that may be used
        self.versions: dict[int, str] = {}
        self.archived: list[int] = []  # model.yaml's, for check_archived
        self.card: dict[str, Any] | None = None  # model.yaml's card fields, for check_card
        self.raw: dict[str, bytes] = {}  # what each loaded file held, to locate findings
        self.semvers: dict[int, tuple[str, str]] = {}  # number -> (semver, manifest path)

    def finding(
        self, severity: Severity, code: str, path: str, message: str, fld: FieldPath
    ) -> None:
        line = line_of(self.raw[path], fld) if fld and path in self.raw else 0
        self.result.findings.append(
            Finding(severity, code, path, message, field=format_path(fld), line=line)
        )

    def error(self, code: str, path: str, message: str, fld: FieldPath = ()) -> None:
        self.finding("error", code, path, message, fld)

    def warn(self, code: str, path: str, message: str, fld: FieldPath = ()) -> None:
        self.finding("warning", code, path, message, fld)

    def load(self, path: str, kind: str) -> Any:
        self.result.files += 1
        try:
            data = self.source.read(path)
        except ManifestError as exc:  # a symlink out of the repo, an oversize file
            self.result.findings.append(Finding.from_error(exc, "unreadable"))
            return None
        self.raw[path] = data
        key = b""
        if self.cache is not None:
            key = self.cache.key(kind, data)
            cached = self.cache.get(key)
            if cached is not None:
                return cached
        document, findings = check_manifest_bytes(path, data, kind)
        self.result.findings.extend(findings)
        if self.cache is not None and document is not None and not findings:
            self.cache.put(key, document)
        return document

    def run(self) -> _ModelResult:
        problem = name_problem("model", self.name)
        if problem:
            self.error("model-name", self.dir, f"{problem}; rename the folder")
        entries = self.source.list_dir(self.dir)
        for entry in entries:
            if entry not in _MODEL_ENTRIES:
                self.error(
                    "unexpected-file",
                    f"{self.dir}/{entry}",
                    "is not part of a model folder, which holds model.yaml, versions/, stages/, "
                    "aliases/ and artifacts/; move it elsewhere",
                )
        self.check_model_file(MODEL_FILE in entries)
        self.check_versions()
        self.check_archived()
        self.check_pointers(STAGES)
        self.check_pointers(ALIASES)
        self.check_artifact_folders()
        return self.result

    def check_model_file(self, present: bool) -> None:
        path = f"{self.dir}/{MODEL_FILE}"
        if not present:
            self.error(
                "missing-model-file",
                path,
                f"is missing; every model folder needs one (at least 'name: {self.name}')",
            )
            return
        document = self.load(path, "model")
        self.archived = list(document.get("archived", [])) if document is not None else []
        self.card = dict(document.get("card", {})) if document is not None else None
        if document is not None and document["name"] != self.name:
            self.error(
                "name-mismatch",
                path,
                f"{document['name']!r} differs from the folder name; write name: {self.name}",
                ("name",),
            )

    def check_archived(self) -> None:
        """model.yaml's archived versions must exist (checked once the versions are read)."""
        for position, number in enumerate(self.archived):
            if number not in self.versions:
                self.error(
                    "archived-unknown",
                    f"{self.dir}/{MODEL_FILE}",
                    f"version {number} does not exist; remove it from archived",
                    ("archived", position),
                )

    def check_versions(self) -> None:
        folder = f"{self.dir}/{VERSIONS}"
        for filename in self.source.list_dir(folder):
            path = f"{folder}/{filename}"
            number = version_number_from_filename(filename)
            if number is None:
                digits = "".join(ch for ch in filename if ch.isdigit()).lstrip("0")
                example = f"{digits}.yaml" if digits else "3.yaml"
                self.error(
                    "version-file-name",
                    path,
                    f"is not a version file name: name it after the version number, e.g. {example}",
                )
                continue
            document = self.load(path, "version")
            if document is None:
                self.versions[number] = ""
                continue
            self.versions[number] = (
                "deleted"
                if "deleted" in document
                else "deprecated"
                if "deprecation" in document
                else ""
            )
            self.check_version(path, number, document)
            if isinstance(document.get("semver"), str):
                self.semvers[number] = (document["semver"], path)
        ordered = sorted(self.semvers.items())
        for number, problem in order_problems((n, text) for n, (text, _) in ordered):
            self.error("semver-order", self.semvers[number][1], problem, ("semver",))
        numbers = sorted(self.versions)
        if numbers:
            gaps = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))
            if gaps:
                shown = ", ".join(map(str, gaps[:10])) + ("..." if len(gaps) > 10 else "")
                self.warn(
                    "version-gap",
                    folder,
                    f"{'version' if len(gaps) == 1 else 'versions'} {shown} "
                    f"{'is' if len(gaps) == 1 else 'are'} missing; merged versions must "
                    "never be deleted (deprecate them instead)",
                )

    def check_version(self, path: str, number: int, document: dict[str, Any]) -> None:
        if document["model"] != self.name:
            self.error(
                "model-mismatch",
                path,
                f"{document['model']!r} differs from the folder name; write model: {self.name}",
                ("model",),
            )
        if document["version"] != number:
            self.error(
                "version-mismatch",
                path,
                f"{document['version']!r} differs from the file "
                f"name; write version: {number} or rename the file",
                ("version",),
            )
        names: set[str] = set()
        for index, artifact in enumerate(document["artifacts"]):
            fld: FieldPath = ("artifacts", index)
            if artifact["name"] in names:
                self.error(
                    "artifact-duplicate",
                    path,
                    f"name {artifact['name']!r} is used twice; give each artifact its own name",
                    (*fld, "name"),
                )
            names.add(artifact["name"])
            is_onnx = artifact["format"] == "onnx"
            if is_onnx and "opset" not in artifact:
                self.error(
                    "artifact-opset",
                    path,
                    "an ONNX artifact must record its opset "
                    "(the default-domain opset_import of the model)",
                    (*fld, "opset"),
                )
            if not is_onnx and "opset" in artifact:
                self.error(
                    "artifact-opset",
                    path,
                    f"only ONNX artifacts have an opset, this one "
                    f"is {artifact['format']!r}; remove opset",
                    (*fld, "opset"),
                )
            self.check_artifact_path(path, fld, artifact, number)

    def check_artifact_path(
        self, path: str, fld: FieldPath, artifact: dict[str, Any], number: int
    ) -> None:
        target: str = artifact["path"]
        # The same rule pull, serve, export and the MLflow plugin apply where they use it.
        problem = artifact_path_problem(self.name, number, target)
        if problem is not None:
            self.error("artifact-path", path, problem, (*fld, "path"))
            return
        oversize = artifact_size_problem(artifact["size"])
        if oversize is not None:
            self.error("artifact-size", path, oversize, (*fld, "size"))
        sidecar = f"{target}.dvc"
        for sub in [*artifact_chain(target), sidecar]:
            if self.refused_link(path, (*fld, "path"), target, sub, artifact["md5"]):
                return
        if self.source.exists(target) and self.tracked.holds(target):
            self.error(
                "artifact-committed",
                path,
                f"{target} is committed to git, where only its DVC record belongs (a "
                "file or folder committed at an artifact's path is what pull would "
                "have to overwrite); remove it with 'git rm -r --cached'",
                (*fld, "path"),
            )
            return
        try:
            out = read_sidecar(sidecar, self.source.read(sidecar))
        except NotFoundError:
            self.error(
                "artifact-untracked",
                path,
                f"{target} has no DVC record ({sidecar} is missing); "
                f"track it with 'dvc add {target}'",
                (*fld, "path"),
            )
            return
        except ManifestError as exc:
            self.result.findings.append(Finding.from_error(exc, "artifact-record"))
            return
        for name, message in record_problems(target, artifact["md5"], artifact["size"], out):
            if name:
                self.error(_RECORD_CODES[name], path, message, (*fld, name))
            else:
                self.error("artifact-record", sidecar, message)
        self.result.artifacts.append(
            _ArtifactRef(path, (*fld, "md5"), artifact["md5"], artifact["size"])
        )

    def refused_link(self, path: str, fld: FieldPath, target: str, sub: str, md5: str) -> bool:
        """Whether ``sub`` on the way to the artifact ``target`` is a committed link that
        the rule pull and serve apply (:func:`link_problem`) refuses; reported once."""
        if sub in self.judged:
            return self.judged[sub]
        problem = None
        if self.source.is_symlink(sub) and self.tracked.is_link(sub):
            if sub == f"{target}.dvc":
                problem = f"{sub} is a symlink; a DVC record must be a plain file"
            else:
                found = link_problem(self.tracked.root, target, sub, md5)
                problem = None if found is None else f"{target!r} {found}"
        if problem is not None:
            self.error("artifact-path", path, problem, fld)
        self.judged[sub] = problem is not None
        return problem is not None

    def check_pointers(self, kind: str) -> None:
        folder = f"{self.dir}/{kind}"
        is_alias = kind == ALIASES
        for filename in self.source.list_dir(folder):
            path = f"{folder}/{filename}"
            if not filename.endswith(".yaml"):
                stem = filename.rsplit(".", 1)[0]
                example = (
                    f"{stem}.yaml"
                    if stem
                    else ("production.yaml" if not is_alias else "champion.yaml")
                )
                self.error(
                    "pointer-file-name",
                    path,
                    f"is not a pointer file: {kind}/ holds one <name>.yaml per "
                    f"{'alias' if is_alias else 'stage'}; rename it (e.g. {example}) or remove it",
                )
                continue
            label = filename.removesuffix(".yaml")
            if not self.pointer_name_ok(path, label, is_alias):
                continue
            document = self.load(path, "pointer")
            if document is not None:
                self.check_pointer(path, document, is_alias)
                if not is_alias:
                    self.check_card(label, document["version"])

    def check_card(self, stage: str, version: int) -> None:
        """A version in the last stage (production) is in people's hands: its model's card
        should say what it is for and where it fails. A warning, not an error: the
        registry is still consistent without one."""
        if self.card is None or not self.stages or stage != self.stages[-1]:
            return
        missing = [
            field
            for field in ("intended_use", "limitations")
            if not str(self.card.get(field) or "").strip()
        ]
        if missing:
            self.warn(
                "card-incomplete",
                f"{self.dir}/{MODEL_FILE}",
                f"{stage} holds version {version}, but the model card has no "
                f"{' or '.join(missing)}; describe {'them' if len(missing) > 1 else 'it'} "
                "under card: ('modelreg card' shows the card)",
                ("card", missing[0]),
            )

    def pointer_name_ok(self, path: str, label: str, is_alias: bool) -> bool:
        if is_alias:
            problem = name_problem("alias", label)
            if problem:
                self.error("alias-name", path, f"{problem}; rename the file")
                return False
            if self.stages and label.lower() in self.stages:
                self.error(
                    "alias-shadows-stage",
                    path,
                    f"alias {label!r} has the name of a "
                    "stage, so NAME@"
                    f"{label} would be ambiguous; rename the alias",
                )
                return False
            return True
        if self.stages is None:
            return True  # registry.yaml is broken; its own findings explain
        if label in self.stages:
            return True
        if label.lower() in self.stages:
            self.error(
                "stage-file-case",
                path,
                f"stage files are lowercase; rename it to {label.lower()}.yaml",
            )
            return False
        hint = _closest(label, self.stages)
        self.error(
            "unknown-stage",
            path,
            f"{label!r} is not a stage declared in {CONFIG_PATH}{hint}; name the file after "
            f"one of them: {', '.join(f'{s}.yaml' for s in self.stages)}",
        )
        return False

    def check_pointer(self, path: str, document: dict[str, Any], is_alias: bool) -> None:
        have = format_version_ranges(sorted(self.versions))
        version = document["version"]
        self.check_target(path, ("version",), version, have, deprecated_is_error=not is_alias)
        if is_alias:
            for extra in ("canary", "retired"):
                if extra in document:
                    self.error(
                        "alias-field",
                        path,
                        f"aliases cannot have {extra}; only stages do: remove it",
                        (extra,),
                    )
            return
        canary = document.get("canary")
        if canary:
            self.check_target(path, ("canary", "version"), canary["version"], have, True)
            if canary["version"] == version:
                self.error(
                    "canary-same",
                    path,
                    f"the canary is version {version}, which the "
                    "stage already serves; canary another version or remove it",
                    ("canary", "version"),
                )
        for index, retired in enumerate(document.get("retired", ())):
            if retired not in self.versions:
                self.error(
                    "pointer-target",
                    path,
                    f"version {retired} does not exist (versions: {have}); remove it",
                    ("retired", index),
                )
            elif retired == version:
                self.error(
                    "retired-current",
                    path,
                    f"version {version} is both the current and "
                    "a retired version; remove it from retired",
                    ("retired", index),
                )
        previous = document.get("previous")
        if previous is not None and previous not in self.versions:
            self.warn("pointer-previous", path, f"version {previous} does not exist", ("previous",))

    def check_target(
        self, path: str, fld: FieldPath, version: int, have: str, deprecated_is_error: bool
    ) -> None:
        if version not in self.versions:
            self.error(
                "pointer-target",
                path,
                f"version {version} does not exist (versions: "
                f"{have or 'none'}); point at an existing version",
                fld,
            )
        elif self.versions[version] == "deleted":
            self.error(
                "pointer-deleted",
                path,
                f"version {version} was deleted; point at another version",
                fld,
            )
        elif self.versions[version]:
            message = (
                f"version {version} is deprecated; promote another version, or remove its "
                f"deprecation in {version_path(self.name, version)}"
            )
            if deprecated_is_error:
                self.error("pointer-deprecated", path, message, fld)
            else:
                self.warn("pointer-deprecated", path, message, fld)

    def check_artifact_folders(self) -> None:
        folder = f"{self.dir}/{ARTIFACTS}"
        if self.planted_link(folder):
            return
        for entry in self.source.list_dir(folder):
            number = int(entry) if entry.isdigit() else None
            if self.planted_link(f"{folder}/{entry}"):
                continue
            if number is None or number not in self.versions:
                self.warn(
                    "orphan-artifacts",
                    f"{folder}/{entry}",
                    "belongs to no version manifest; remove it or register the version",
                )
                continue
            # A link planted beside the artifacts would steer any later write to its name.
            for name in self.source.list_dir(f"{folder}/{entry}"):
                self.planted_link(f"{folder}/{entry}/{name}")

    def planted_link(self, path: str) -> bool:
        """Whether ``path`` (in an artifacts folder) is a committed link, reported here
        unless an artifact's path already met it (its manifest's finding names it)."""
        if path in self.judged:
            return self.judged[path]
        if not (self.source.is_symlink(path) and self.tracked.is_link(path)):
            return False
        self.error(
            "artifact-link",
            path,
            "is a symlink; an artifact folder holds only plain files and folders "
            "(the artifacts and their DVC records); remove it",
        )
        return True


def _closest(name: str, candidates: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the candidate nearest ``name``, or ""."""
    import difflib

    lowered = name.lower()
    close = [c for c in candidates if c.startswith(lowered)] or difflib.get_close_matches(
        lowered, list(candidates), n=1, cutoff=0.5
    )
    return f" (did you mean '{close[0]}'?)" if close else ""


@contextlib.contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Parsing thousands of files allocates millions of objects and no cycles; the
    cyclic collector finds nothing to free and costs ~7% of a run."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class _ChunkResult:
    findings: list[Finding]
    files: int
    artifacts: int
    cache_used: set[bytes] = field(default_factory=set)
    cache_new: dict[bytes, Any] = field(default_factory=dict)


# The manifest cache's entries, set before worker processes fork so that they
# inherit it instead of receiving a copy through a pipe. None: no cache.
_CACHE_ENTRIES: dict[bytes, Any] | None = None


def _check_chunk(
    root: str,
    names: Sequence[str],
    stages: tuple[str, ...] | None,
    presence: bool,
    remote: str | None = None,
) -> _ChunkResult:
    """Check some models, then (``presence``) look for their artifacts' objects: the
    unit of work one process does. Runs in worker processes, so it takes and
    returns plain, picklable values."""
    source = WorktreeSource(Path(root))
    cache = ManifestCache(None, _CACHE_ENTRIES) if _CACHE_ENTRIES is not None else None
    tracked = _Tracked(Path(root))
    with _without_cycle_collection():
        results = [_ModelChecker(source, name, stages, tracked, cache).run() for name in names]
    findings = [finding for result in results for finding in result.findings]
    refs = [ref for result in results for ref in result.artifacts]
    if presence and refs:
        findings += _missing_artifacts(Path(root), source, refs, remote)
    chunk = _ChunkResult(findings, sum(r.files for r in results), len(refs))
    if cache is not None:
        chunk.cache_used, chunk.cache_new = cache.used, cache.new
    return chunk


# --- the registry as a whole -------------------------------------------------------------


def _storage_remote(root: Path, source: TreeSource, findings: list[Finding]) -> str | None:
    """registry.yaml's ``storage.dvc_remote``, the DVC remote register pushes to; an
    error finding (and None: DVC's default is looked in) if DVC has no remote of that
    name, so the artifacts would be looked for, and pushed, nowhere."""
    try:
        data = source.read(CONFIG_PATH)
    except (NotFoundError, ManifestError):
        return None  # reported by _check_config
    document, _ = check_manifest_bytes(CONFIG_PATH, data, "registry")
    storage = document.get("storage") if isinstance(document, dict) else None
    name = storage.get("dvc_remote") if isinstance(storage, dict) else None
    if not isinstance(name, str) or not name:
        return None
    remotes = read_dvc_config(root).remote_urls
    if name.lower() in remotes:  # DVC lower-cases remote names
        return name.lower()
    known = ", ".join(sorted(remotes)) or "none"
    findings.append(
        Finding(
            "error",
            "dvc-remote",
            CONFIG_PATH,
            f"{name!r} is not one of DVC's remotes (dvc remote list: {known}); add it "
            f"('dvc remote add {name} URL') or name one of those",
            format_path(("storage", "dvc_remote")),
            line_of(data, ("storage", "dvc_remote")),
        )
    )
    return None


def _check_config(source: TreeSource, findings: list[Finding]) -> tuple[str, ...] | None:
    try:
        data = source.read(CONFIG_PATH)
    except NotFoundError:
        raise NotFoundError(
            f"no registry here: {CONFIG_PATH} is missing; run 'modelreg init'"
        ) from None
    except ManifestError as exc:
        findings.append(Finding.from_error(exc, "unreadable"))
        return None
    document, problems = check_manifest_bytes(CONFIG_PATH, data, "registry")
    findings.extend(problems)
    if document is None:
        return None

    def error(code: str, message: str, fld: FieldPath) -> None:
        findings.append(
            Finding("error", code, CONFIG_PATH, message, format_path(fld), line_of(data, fld))
        )

    stages: tuple[str, ...] = tuple(document["stages"])
    for index, stage in enumerate(stages):
        problem = name_problem("stage", stage)
        if problem:
            error("stage-name", problem, ("stages", index))
    for stage, policy in document.get("policies", {}).items():
        if stage not in stages:
            error(
                "policy-stage",
                f"{stage!r} is not a declared stage{_closest(stage, stages)}; "
                "a policy applies to a stage listed under 'stages'",
                ("policies", stage),
            )
        for index, source_stage in enumerate(policy.get("from", ())):
            if source_stage != "none" and source_stage not in stages:
                error(
                    "policy-stage",
                    f"{source_stage!r} is not a declared stage{_closest(source_stage, stages)}; "
                    "use a stage or 'none'",
                    ("policies", stage, "from", index),
                )
        for metric, bound in policy.get("require", {}).items():
            if "min" in bound and "max" in bound and bound["min"] > bound["max"]:
                error(
                    "policy-bound",
                    f"min {bound['min']} is above max {bound['max']}; no version could pass",
                    ("policies", stage, "require", metric),
                )
    return stages


def _check_registry_folder(source: TreeSource, names: list[str], findings: list[Finding]) -> None:
    seen: dict[str, str] = {}
    for entry in source.list_dir(REGISTRY_DIR):
        path = f"{REGISTRY_DIR}/{entry}"
        if entry in _REGISTRY_ENTRIES:
            continue
        if not source.is_dir(path):
            findings.append(
                Finding(
                    "error",
                    "unexpected-file",
                    path,
                    "is not part of the "
                    "registry; registry/ holds registry.yaml and one folder per model",
                )
            )
            continue
        if entry.startswith("."):
            continue
        names.append(entry)
        folded = entry.lower()
        if folded in seen:
            findings.append(
                Finding(
                    "error",
                    "model-name-case",
                    path,
                    f"differs from {seen[folded]!r} only in case, "
                    "which collides on macOS and Windows; rename one",
                )
            )
        seen[folded] = entry
    for kind in SCHEMA_NAMES:
        path = f"{SCHEMAS_DIR}/{kind}.schema.json"
        try:
            present = source.read(path).decode("utf-8", "replace")
        except (NotFoundError, ManifestError):
            continue
        if present != schema_text(kind):
            findings.append(
                Finding(
                    "warning",
                    "stale-schema",
                    path,
                    "differs from the schema "
                    "this modelreg checks with; run 'modelreg init' to refresh it",
                )
            )


def _split(names: list[str], source: TreeSource, parts: int) -> list[list[str]]:
    """Spread models over ``parts`` chunks, balanced by their number of version files."""
    sized = sorted(
        ((len(source.list_dir(f"{model_dir(n)}/{VERSIONS}")), n) for n in names), reverse=True
    )
    chunks: list[list[str]] = [[] for _ in range(parts)]
    loads = [0] * parts
    for size, name in sized:
        i = loads.index(min(loads))
        chunks[i].append(name)
        loads[i] += size + 1
    return [c for c in chunks if c]


def _run_model_checks(
    root: Path,
    source: TreeSource,
    names: list[str],
    stages: tuple[str, ...] | None,
    jobs: int,
    presence: bool,
    remote: str | None = None,
) -> list[_ChunkResult]:
    total = sum(len(source.list_dir(f"{model_dir(n)}/{VERSIONS}")) for n in names)
    can_fork = "fork" in multiprocessing.get_all_start_methods()
    if jobs <= 1 or total < _PARALLEL_THRESHOLD or len(names) < 2 or not can_fork:
        return [_check_chunk(str(root), names, stages, presence, remote)]
    chunks = _split(names, source, jobs)
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=len(chunks) - 1, mp_context=context) as pool:
        futures = [
            pool.submit(_check_chunk, str(root), chunk, stages, presence, remote)
            for chunk in chunks[1:]
        ]
        results = [
            _check_chunk(str(root), chunks[0], stages, presence, remote)
        ]  # a share for us too
        results += [future.result() for future in futures]
    return results


def _missing_artifacts(
    root: Path, source: TreeSource, refs: list[_ArtifactRef], remote: str | None
) -> list[Finding]:
    # The remote register pushes to: registry.yaml's storage.dvc_remote, else DVC's default.
    store = ObjectStore(root, read_dvc_config(root), remote)
    missing = store.missing(ref.md5 for ref in refs)
    findings = []
    for ref in refs:
        if ref.md5 in missing:
            # Lines are looked up only now: re-reading a file is cheaper than locating
            # every artifact of every version in case one is missing.
            line = line_of(source.read(ref.path), ref.field)
            findings.append(
                Finding(
                    "error",
                    "artifact-missing",
                    ref.path,
                    f"{ref.md5} {store.absence()}; push it from the clone that "
                    "registered it ('dvc push'), or pass --offline to skip this check",
                    format_path(ref.field),
                    line,
                )
            )
        else:
            problem = _object_problem(store, ref)
            if problem is not None:
                line = line_of(source.read(ref.path), ref.field)
                code = "artifact-listing" if ref.md5.endswith(".dir") else "artifact-size"
                findings.append(
                    Finding("error", code, ref.path, problem, format_path(ref.field), line)
                )
    return findings


def _object_problem(store: ObjectStore, ref: _ArtifactRef) -> str | None:
    """What pull would refuse in an object found in a local store: a file of another size
    than recorded, or a folder whose listing names an unsafe path."""
    for folder in (store.config.cache_dir, store.remote_dir):
        if folder is None:
            continue
        found = object_path(folder, ref.md5)
        try:
            if not ref.md5.endswith(".dir"):
                size = found.stat().st_size
                if ref.size >= 0 and size != ref.size:
                    return (
                        f"the object {ref.md5} in {folder} is {size} bytes, not the "
                        f"{ref.size} the manifest records; pull would refuse it"
                    )
                return None
            what = f"the folder's DVC listing ({ref.md5}) in {folder}"
            try:
                listing = json.loads(read_bounded_file(found, MAX_LISTING_BYTES, what))
            except InputError as exc:
                return f"{exc}; pull would refuse it"
            for entry in listing:
                relpath = entry.get("relpath") if isinstance(entry, dict) else None
                problem = entry_path_problem(relpath)  # type: ignore[arg-type]
                if problem is not None:
                    return f"the folder's DVC listing ({ref.md5}) is unsafe: {problem}"
            return None
        except (OSError, ValueError, AttributeError):
            continue
    return None


# --- against the base revision -----------------------------------------------------------


def _first_difference(before: Any, after: Any, path: tuple[str | int, ...]) -> tuple[Any, ...]:
    """The deepest path at which two documents differ, with both values there."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in [*before, *(k for k in after if k not in before)]:
            if before.get(key, _ABSENT) != after.get(key, _ABSENT):
                return _first_difference(
                    before.get(key, _ABSENT), after.get(key, _ABSENT), (*path, key)
                )
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (b, a) in enumerate(zip(before, after, strict=True)):
            if b != a:
                return _first_difference(b, a, (*path, index))
    return path, before, after


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


_ABSENT = _Absent()


def _show(value: Any) -> str:
    from modelreg.core.schema import describe

    return "(absent)" if value is _ABSENT else describe(value)


def _check_against_base(
    git: Git,
    base_label: str,
    base: str,
    changes: list[tuple[str, str]],
    models: set[str],
    findings: list[Finding],
) -> int:
    """Rules that compare the change with ``base``; returns how many base files it read."""
    if not models:
        return 0
    mutable = mutable_version_fields()
    areas = [
        f"{model_dir(m)}/{area}"
        for m in sorted(models)
        for area in (VERSIONS, ARTIFACTS, MODEL_FILE)
    ]
    base_files = {entry.path: entry.sha for entry in git.ls_tree(base, areas)}
    base_max: dict[str, int] = {}
    for path in base_files:
        parts = path.split("/")
        if len(parts) == 4 and parts[2] == VERSIONS:
            number = version_number_from_filename(parts[3])
            if number is not None:
                base_max[parts[1]] = max(base_max.get(parts[1], 0), number)

    modified = [
        p
        for status, p in changes
        if status == "M" and p in base_files and p.split("/")[2:3] == [VERSIONS]
    ]
    with git.blobs() as reader:
        base_blobs = dict(
            zip(modified, reader.read_many([base_files[p] for p in modified]), strict=True)
        )
    worktree = WorktreeSource(git.root)
    for status, path in changes:
        parts = path.split("/")
        if len(parts) < 3:
            continue
        model, area = parts[1], parts[2]
        if status == "D" and path in base_files:
            if area == VERSIONS:
                number = version_number_from_filename(parts[3]) if len(parts) == 4 else None
                fix = (
                    f"deprecate it with 'modelreg deprecate {model} {number}'"
                    if number
                    else "restore it"
                )
                findings.append(
                    Finding(
                        "error",
                        "version-deleted",
                        path,
                        f"was merged on "
                        f"{base_label} and can never be removed; restore it and {fix}",
                    )
                )
            elif area == MODEL_FILE:
                findings.append(
                    Finding(
                        "error",
                        "model-deleted",
                        path,
                        f"exists on {base_label}; a registered model's folder is never removed",
                    )
                )
            elif area == ARTIFACTS and path.endswith(".dvc"):
                findings.append(
                    Finding(
                        "error",
                        "artifact-record-changed",
                        path,
                        f"records an artifact of a version merged on {base_label}; restore it",
                    )
                )
        elif status == "M" and area == ARTIFACTS and path.endswith(".dvc") and path in base_files:
            findings.append(
                Finding(
                    "error",
                    "artifact-record-changed",
                    path,
                    "records an "
                    f"artifact of a version merged on {base_label}, which is immutable; "
                    "restore it and register a new version instead",
                )
            )
        elif status == "M" and area == VERSIONS and path in base_blobs:
            _compare_versions(path, base_label, base_blobs[path], worktree, mutable, findings)
        elif status == "A" and area == VERSIONS and len(parts) == 4:
            number = version_number_from_filename(parts[3])
            highest = base_max.get(model, 0)
            if number is not None and number <= highest:
                findings.append(
                    Finding(
                        "error",
                        "version-not-monotonic",
                        path,
                        f"version {number} is new, but "
                        f"{base_label} already has version {highest} of {model}; numbers only grow "
                        f"and are never reused: number it {highest + 1}",
                    )
                )
    return len(base_blobs)


def _compare_versions(
    path: str,
    base_label: str,
    before_bytes: bytes | None,
    worktree: WorktreeSource,
    mutable: frozenset[str],
    findings: list[Finding],
) -> None:
    if before_bytes is None:
        return
    before, problems = check_manifest_bytes(path, before_bytes, "version")
    try:
        after, now_problems = check_manifest(worktree, path, "version")
    except (NotFoundError, ManifestError):
        return
    if problems or now_problems or before is None or after is None:
        return  # schema errors are reported by the model checks
    for key in sorted(set(before) | set(after)):
        if key in mutable or before.get(key, _ABSENT) == after.get(key, _ABSENT):
            continue
        where, old, new = _first_difference(
            before.get(key, _ABSENT), after.get(key, _ABSENT), (key,)
        )
        allowed = ", ".join(sorted(mutable))
        findings.append(
            Finding(
                "error",
                "immutable-changed",
                path,
                f"changed from {_show(old)} to {_show(new)} since "
                f"{base_label}; a merged version is immutable except {allowed}: register a new "
                "version instead",
                format_path(where),
            )
        )


# --- entry point -------------------------------------------------------------------------


def validate(
    repo: str | Path | None = None,
    *,
    base: str | None = None,
    offline: bool = False,
    jobs: int | None = None,
    cache: bool = True,
) -> ValidationReport:
    """Check the registry in the working tree of ``repo``; see the module docstring.

    ``base`` (a branch, tag or commit) adds the checks against that revision
    and limits the per-model checks to models the change touches. ``offline``
    skips looking for artifacts in the DVC cache and remote. ``jobs`` caps
    worker processes (default: one per CPU). ``cache``, on full runs, keeps manifests that passed
    parsing and their schema under ``.git/modelreg/`` by content, so unchanged files
    are not parsed again (see :mod:`modelreg.validation.manifest_cache`).
    """
    root = find_repo_root(Path(repo) if repo is not None else Path.cwd())
    settle(root)  # a writer killed half way: finish or undo its change before judging
    source = WorktreeSource(root)
    findings: list[Finding] = []
    stages = _check_config(source, findings)
    names: list[str] = []
    _check_registry_folder(source, names, findings)
    files = 1
    scope: Literal["full", "changed"] = "full"
    base_commit = None
    changes: list[tuple[str, str]] = []
    if base is not None:
        git = Git(root)
        base_commit = git.resolve_commit(base)
        # Untracked files matter where they add state (a version, a pointer, a model).
        # Listing them under all of registry/ would walk every artifact folder and its
        # .gitignore (~110 ms at 10,000 versions); literal paths let git skip the rest.
        watched = [
            f"{model_dir(name)}/{area}"
            for name in names
            for area in (VERSIONS, STAGES, ALIASES, MODEL_FILE)
        ]
        changes = git.changed_paths(base_commit, [REGISTRY_DIR], [CONFIG_PATH, *watched])
        touched = {p.split("/")[1] for _, p in changes if len(p.split("/")) >= 3}
        global_change = any(p == CONFIG_PATH or p.startswith(f"{SCHEMAS_DIR}/") for _, p in changes)
        if not global_change:
            scope = "changed"
            names = [n for n in names if n in touched]
        files += _check_against_base(git, base, base_commit, changes, touched, findings)

    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    has_dvc = (root / ".dvc").is_dir()
    global _CACHE_ENTRIES
    # Only a full run reads enough files to repay loading the cache (~0.2 s at 10,000
    # versions); a --base run checks the models the change touches, from scratch.
    manifests = ManifestCache.open(root) if cache and scope == "full" else None
    _CACHE_ENTRIES = manifests.entries if manifests is not None else None
    presence = not offline and has_dvc
    remote = _storage_remote(root, source, findings) if presence else None
    try:
        chunks = _run_model_checks(root, source, names, stages, workers, presence, remote)
    finally:
        _CACHE_ENTRIES = None
    for chunk in chunks:
        findings.extend(chunk.findings)
        files += chunk.files
    if manifests is not None:
        manifests.save(
            (key for chunk in chunks for key in chunk.cache_used),
            {k: v for chunk in chunks for k, v in chunk.cache_new.items()},
        )
    if not offline and not has_dvc and any(chunk.artifacts for chunk in chunks):
        findings.append(
            Finding(
                "error",
                "dvc-missing",
                ".dvc",
                "DVC is not initialised, so no artifact can be checked; run 'modelreg init', "
                "or pass --offline",
            )
        )
    ordered = sorted(findings, key=lambda f: (f.path, f.line, f.field, f.code))
    return ValidationReport(
        findings=tuple(ordered),
        files_checked=files,
        models_checked=len(names),
        scope=scope,
        base=base_commit,
        offline=offline,
    )
