"""Where each registry file lives, and which names are allowed.

Every path is repository-relative, POSIX-style, as git prints it::

    registry/registry.yaml                      stages, policies, storage
    registry/.schemas/<kind>.schema.json        copies of the schemas, for editors
    registry/<model>/model.yaml                 description, owners, tags, card
    registry/<model>/versions/<N>.yaml          one file per version
    registry/<model>/stages/<stage>.yaml        a pointer: which version holds the stage
    registry/<model>/aliases/<alias>.yaml       a pointer with a free-form name
    registry/<model>/artifacts/<N>/<file>.dvc   DVC's record of each artifact
"""

from __future__ import annotations

import posixpath
import re

from modelreg.core.errors import InputError
from modelreg.core.semver import looks_like_semver

__all__ = [
    "ALIASES",
    "ARTIFACTS",
    "CONFIG_PATH",
    "MODEL_FILE",
    "REGISTRY_DIR",
    "RESERVED_STAGE_NAMES",
    "SCHEMAS_DIR",
    "STAGES",
    "VERSIONS",
    "alias_pointer_path",
    "artifact_dir",
    "check_alias_name",
    "check_model_name",
    "check_stage_name",
    "format_version_ranges",
    "model_dir",
    "model_manifest_path",
    "name_problem",
    "schema_comment",
    "stage_pointer_path",
    "version_number_from_filename",
    "version_path",
]

REGISTRY_DIR = "registry"
CONFIG_PATH = f"{REGISTRY_DIR}/registry.yaml"
SCHEMAS_DIR = f"{REGISTRY_DIR}/.schemas"
MODEL_FILE = "model.yaml"
VERSIONS = "versions"
STAGES = "stages"
ALIASES = "aliases"
ARTIFACTS = "artifacts"

MODEL_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?\Z")
STAGE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}\Z")
ALIAS_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}\Z")
_VERSION_FILE = re.compile(r"([1-9][0-9]{0,8})\.yaml\Z")

# Names a version reference already gives a meaning to, or that MLflow uses.
RESERVED_STAGE_NAMES = frozenset({"latest", "none", "archived", "all"})

# Windows cannot create these, with or without an extension.
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)


def schema_comment(relpath: str, kind: str) -> str:
    """The ``yaml-language-server`` line that points an editor at the schema copy."""
    target = posixpath.relpath(f"{SCHEMAS_DIR}/{kind}.schema.json", posixpath.dirname(relpath))
    return f"yaml-language-server: $schema={target}"


def model_dir(model: str) -> str:
    return f"{REGISTRY_DIR}/{model}"


def model_manifest_path(model: str) -> str:
    return f"{REGISTRY_DIR}/{model}/{MODEL_FILE}"


def version_path(model: str, version: int) -> str:
    return f"{REGISTRY_DIR}/{model}/{VERSIONS}/{version}.yaml"


def stage_pointer_path(model: str, stage: str) -> str:
    return f"{REGISTRY_DIR}/{model}/{STAGES}/{stage}.yaml"


def alias_pointer_path(model: str, alias: str) -> str:
    return f"{REGISTRY_DIR}/{model}/{ALIASES}/{alias}.yaml"


def artifact_dir(model: str, version: int) -> str:
    return f"{REGISTRY_DIR}/{model}/{ARTIFACTS}/{version}"


def version_number_from_filename(filename: str) -> int | None:
    """``3`` for ``3.yaml``; None for anything that is not a version file name."""
    match = _VERSION_FILE.match(filename)
    return int(match.group(1)) if match else None


def name_problem(kind: str, name: str) -> str | None:
    """Why ``name`` cannot be a ``kind`` ("model", "stage" or "alias"), or None if it can."""
    if kind == "model":
        if not MODEL_NAME.match(name):
            return (
                f"{name!r} is not a valid model name: use letters, digits, '.', '_' and '-', "
                "starting and ending with a letter or digit, at most 64 characters"
            )
        if name.split(".")[0].lower() in _WINDOWS_DEVICES:
            return f"{name!r} is a reserved device name on Windows; choose another model name"
        return None
    if kind == "stage":
        if not STAGE_NAME.match(name):
            return (
                f"{name!r} is not a valid stage name: use lowercase letters, digits, '-' and '_', "
                "starting with a letter, at most 32 characters"
            )
        if name in RESERVED_STAGE_NAMES:
            return f"{name!r} is reserved and cannot name a stage"
        if name.lower() in _WINDOWS_DEVICES:
            return f"{name!r} is a reserved device name on Windows; choose another stage name"
        return None
    if kind == "alias":
        if looks_like_semver(name):
            return f"{name!r} reads as a semantic version (NAME@v1.2.3) and cannot name an alias"
        if not ALIAS_NAME.match(name):
            return (
                f"{name!r} is not a valid alias: use letters, digits, '-' and '_', "
                "at most 64 characters"
            )
        if name.lower() == "latest" or re.fullmatch(r"[vV][0-9]+", name):
            return f"{name!r} is reserved and cannot name an alias (it reads as a version)"
        if name.lower() in _WINDOWS_DEVICES:
            return f"{name!r} is a reserved device name on Windows; choose another alias"
        return None
    raise ValueError(kind)


def _check(kind: str, name: str) -> str:
    problem = name_problem(kind, name)
    if problem:
        raise InputError(problem)
    return name


def check_model_name(name: str) -> str:
    """``name`` if it can name a model, else :class:`InputError` saying why."""
    return _check("model", name)


def check_stage_name(name: str) -> str:
    return _check("stage", name)


def check_alias_name(name: str) -> str:
    return _check("alias", name)


def format_version_ranges(numbers: list[int]) -> str:
    """``1-3, 5`` for the ascending numbers [1, 2, 3, 5]; "" for none."""
    if not numbers:
        return ""
    parts: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(f"{start}-{prev}" if prev > start else str(start))
        if n is not None:
            start = prev = n
    return ", ".join(parts)
