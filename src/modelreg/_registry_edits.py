"""Small edits of the registry: a model's or version's description and tags, aliases.

Each edit changes one file and, with ``commit``, commits exactly that file with
``Modelreg-*`` trailers, like ``promote`` does, so ``history``, ``diff`` and
``git revert`` treat it like any other change. A file with uncommitted changes
is refused rather than committed along with someone's unfinished edit. These
are the writes behind the MLflow registry plugin's ``update_*``, ``set_*_tag``
and ``*_alias`` calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from modelreg._bootstrap import write_manifest
from modelreg._errors import ConflictError, InputError, NotFoundError
from modelreg._git import Git
from modelreg._layout import (
    alias_pointer_path,
    check_alias_name,
    check_model_name,
    model_dir,
    model_manifest_path,
    version_path,
)
from modelreg._model import Model, ModelVersion, format_timestamp
from modelreg._registry import Registry
from modelreg._schema import format_path, load_schema
from modelreg._source import WorktreeSource, find_repo_root

__all__ = [
    "create_model",
    "delete_alias",
    "set_alias",
    "update_model",
    "update_version",
]

Clock = Callable[[], datetime]


def _now(now: Clock | None) -> datetime:
    return (now or (lambda: datetime.now(UTC)))().replace(microsecond=0)


def _open(repo: str | Path | None) -> tuple[Path, Registry, Git]:
    root = find_repo_root(Path(repo) if repo is not None else Path.cwd())
    return root, Registry(root, WorktreeSource(root)), Git(root)


def _checked(document: dict[str, object], kind: str, what: str) -> None:
    violations = load_schema(kind)(document)
    if violations:
        first = violations[0]
        raise InputError(f"{what}: {format_path(first.path)}: {first.message}")


def _commit(git: Git, path: str, subject: str, trailers: Mapping[str, str | int]) -> str:
    lines = "".join(f"Modelreg-{key}: {value}\n" for key, value in trailers.items())
    return git.commit_paths(f"{subject}\n\n{lines}", [path])


def _refuse_dirty(git: Git, path: str) -> None:
    if git.is_dirty([path]):
        raise ConflictError(f"{path} has uncommitted changes; commit or discard them first")


def _tags(
    current: Mapping[str, str], set_tags: Mapping[str, str] | None, delete: Iterable[str]
) -> dict[str, str]:
    tags = dict(current)
    tags.update(set_tags or {})
    for key in delete:
        tags.pop(key, None)
    return tags


def create_model(
    name: str,
    *,
    repo: str | Path | None = None,
    description: str = "",
    tags: Mapping[str, str] | None = None,
    commit: bool = False,
    now: Clock | None = None,
) -> tuple[Model, str | None]:
    """Add model ``name`` with no versions yet; :class:`ConflictError` if it exists."""
    check_model_name(name)
    root, registry, git = _open(repo)
    registry.config  # noqa: B018 - fails early, with the fix, if there is no registry
    existing = {n.lower(): n for n in registry.model_names()}
    if name.lower() in existing:
        raise ConflictError(f"model {existing[name.lower()]!r} already exists")
    if (root / model_dir(name)).exists():
        raise ConflictError(f"{model_dir(name)} exists but has no model.yaml; remove it first")
    model = Model(name=name, description=description, tags=dict(tags or {}), created=_now(now))
    document = model.to_document()
    path = model_manifest_path(name)
    _checked(document, "model", path)
    write_manifest(root, path, document, "model")
    sha = (
        _commit(git, path, f"add model {name}", {"Event": "model", "Model": name})
        if commit
        else None
    )
    return model, sha


def update_model(
    name: str,
    *,
    repo: str | Path | None = None,
    description: str | None = None,
    set_tags: Mapping[str, str] | None = None,
    delete_tags: Iterable[str] = (),
    commit: bool = False,
) -> tuple[Model, str | None]:
    """Change a model's description and tags (the fields a merged model.yaml may change)."""
    root, registry, git = _open(repo)
    model = registry.model(name)
    path = model_manifest_path(name)
    if commit:
        _refuse_dirty(git, path)
    changed = replace(
        model,
        description=model.description if description is None else description,
        tags=_tags(model.tags, set_tags, delete_tags),
    )
    document = changed.to_document()
    _checked(document, "model", path)
    write_manifest(root, path, document, "model")
    sha = (
        _commit(git, path, f"update model {name}", {"Event": "model", "Model": name})
        if commit
        else None
    )
    return changed, sha


def update_version(
    name: str,
    number: int,
    *,
    repo: str | Path | None = None,
    description: str | None = None,
    set_tags: Mapping[str, str] | None = None,
    delete_tags: Iterable[str] = (),
    commit: bool = False,
) -> tuple[ModelVersion, str | None]:
    """Change a version's description and tags (mutable after merge; the rest is not)."""
    root, registry, git = _open(repo)
    version = registry.version(name, number)
    path = version_path(name, number)
    if commit:
        _refuse_dirty(git, path)
    changed = replace(
        version,
        description=version.description if description is None else description,
        tags=_tags(version.tags, set_tags, delete_tags),
    )
    document = changed.to_document()
    _checked(document, "version", path)
    write_manifest(root, path, document, "version")
    trailers: dict[str, str | int] = {"Event": "version", "Model": name, "Version": number}
    sha = _commit(git, path, f"update {name} version {number}", trailers) if commit else None
    return changed, sha


def set_alias(
    name: str,
    alias: str,
    number: int,
    *,
    repo: str | Path | None = None,
    commit: bool = False,
    now: Clock | None = None,
) -> str | None:
    """Point ``alias`` of ``name`` at version ``number`` (moving it if it points elsewhere)."""
    check_alias_name(alias)
    root, registry, git = _open(repo)
    if registry.config.canonical_stage(alias) is not None:
        raise InputError(f"{alias!r} is a stage of this registry; an alias needs another name")
    version = registry.version(name, number)
    if version.deprecated:
        raise ConflictError(f"{version.ref} is deprecated; an alias must not point at it")
    path = alias_pointer_path(name, alias)
    if commit:
        _refuse_dirty(git, path)
    previous = registry.aliases(name).get(alias)
    document: dict[str, object] = {"version": number, "since": format_timestamp(_now(now))}
    if previous is not None and previous.version != number:
        document["previous"] = previous.version
    _checked(document, "pointer", path)
    write_manifest(root, path, document, "pointer")
    if not commit:
        return None
    trailers: dict[str, str | int] = {"Event": "alias", "Model": name, "Alias": alias}
    trailers["Version"] = number
    return _commit(git, path, f"point {name}@{alias} at version {number}", trailers)


def delete_alias(
    name: str, alias: str, *, repo: str | Path | None = None, commit: bool = False
) -> str | None:
    """Remove ``alias`` of ``name``; :class:`NotFoundError` if it is not set."""
    root, registry, git = _open(repo)
    if alias not in registry.aliases(name):
        raise NotFoundError(f"{name!r} has no alias {alias!r}")
    path = alias_pointer_path(name, alias)
    if commit:
        _refuse_dirty(git, path)
    (root / path).unlink()
    if not commit:
        return None
    trailers: dict[str, str | int] = {"Event": "alias", "Model": name, "Alias": alias}
    return _commit(git, path, f"remove {name}@{alias}", trailers)
