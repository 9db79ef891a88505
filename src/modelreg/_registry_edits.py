"""Small edits of the registry: a model's or version's description and tags, aliases.

Each edit changes one file and, with ``commit``, commits exactly that file with
``Modelreg-*`` trailers, like ``promote`` does, so ``history``, ``diff`` and
``git revert`` treat it like any other change. A file with uncommitted changes
is refused rather than committed along with someone's unfinished edit. These
are the writes behind the MLflow registry plugin's ``update_*``, ``set_*_tag``
and ``*_alias`` calls.
"""

from __future__ import annotations

import shutil
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
    stage_pointer_path,
    version_path,
)
from modelreg._model import Deprecation, Model, ModelVersion, format_timestamp
from modelreg._registry import Registry
from modelreg._schema import format_path, load_schema
from modelreg._source import WorktreeSource, find_repo_root

__all__ = [
    "create_model",
    "delete_alias",
    "delete_model",
    "delete_version",
    "leave_stages",
    "rename_model",
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


def delete_version(
    name: str,
    number: int,
    *,
    repo: str | Path | None = None,
    reason: str = "",
    commit: bool = False,
    now: Clock | None = None,
) -> str | None:
    """Mark version ``number`` deleted: a tombstone (its number is never reused, its
    files stay in DVC). Aliases on it go with it; a stage holding it must move first."""
    root, registry, git = _open(repo)
    version = registry.version(name, number)
    if version.deleted is not None:
        raise NotFoundError(f"{version.ref} is already deleted")
    status = registry.status(name).get(number)
    if status is not None and status.stages:
        raise ConflictError(
            f"{version.ref} is in {', '.join(status.stages)}; promote another version there "
            "(or roll back) before deleting it"
        )
    path = version_path(name, number)
    aliases = [alias_pointer_path(name, a) for a in (status.aliases if status else ())]
    if commit:
        for changed in (path, *aliases):
            _refuse_dirty(git, changed)
    deleted = replace(version, deleted=Deprecation(_now(now), reason.strip()))
    write_manifest(root, path, deleted.to_document(), "version")
    for alias_path in aliases:
        (root / alias_path).unlink()
    if not commit:
        return None
    trailers: dict[str, str | int] = {"Event": "delete", "Model": name, "Version": number}
    lines = "".join(f"Modelreg-{k}: {v}\n" for k, v in trailers.items())
    return git.commit_paths(f"delete {name} version {number}\n\n{lines}", [path, *aliases])


def _tracked(git: Git, folder: str) -> bool:
    return bool(git.text("ls-files", "--", folder).strip())


def delete_model(name: str, *, repo: str | Path | None = None, commit: bool = False) -> str | None:
    """Remove model ``name`` from the registry (its files stay in DVC and in git's history,
    so a revert restores it); a stage holding one of its versions must be cleared first."""
    root, registry, git = _open(repo)
    registry.model(name)
    held = registry.stage_pointers(name)
    if held:
        stages = ", ".join(f"{s} (v{p.version})" for s, p in held.items())
        raise ConflictError(
            f"{name} still has versions in {stages}; a model in use cannot be deleted"
        )
    folder = model_dir(name)
    if commit and git.is_dirty([folder]):
        raise ConflictError(f"{folder} has uncommitted changes; commit or discard them first")
    if _tracked(git, folder):
        git.run("rm", "-r", "-q", "--", folder)
    shutil.rmtree(root / folder, ignore_errors=True)
    if not commit:
        return None
    message = f"delete model {name}\n\nModelreg-Event: delete\nModelreg-Model: {name}\n"
    git.run(
        "commit", "--quiet", "--no-verify", "-F", "-", "--", folder, input_bytes=message.encode()
    )
    return git.head_commit()


def rename_model(
    name: str, new_name: str, *, repo: str | Path | None = None, commit: bool = False
) -> str | None:
    """Rename model ``name``: its folder moves (pulled files too) and every manifest that
    names it or a path in it is rewritten, in one commit."""
    check_model_name(new_name)
    root, registry, git = _open(repo)
    model = registry.model(name)
    versions = registry.versions(name)
    existing = {n.lower(): n for n in registry.model_names()}
    if new_name.lower() in existing and new_name.lower() != name.lower():
        raise ConflictError(f"model {existing[new_name.lower()]!r} already exists")
    old_folder, new_folder = model_dir(name), model_dir(new_name)
    if commit and git.is_dirty([old_folder]):
        raise ConflictError(f"{old_folder} has uncommitted changes; commit or discard them first")
    old_prefix, new_prefix = f"{old_folder}/", f"{new_folder}/"
    (root / old_folder).rename(root / new_folder)
    write_manifest(
        root, model_manifest_path(new_name), replace(model, name=new_name).to_document(), "model"
    )
    for version in versions:
        moved = tuple(
            replace(a, path=new_prefix + a.path.removeprefix(old_prefix)) for a in version.artifacts
        )
        renamed = replace(version, model=new_name, artifacts=moved)
        write_manifest(
            root, version_path(new_name, version.version), renamed.to_document(), "version"
        )
    if not commit:
        return None
    git.run("add", "-A", "--", old_folder, new_folder)
    message = (
        f"rename model {name} to {new_name}\n\n"
        f"Modelreg-Event: rename\nModelreg-Model: {new_name}\nModelreg-Previous: {name}\n"
    )
    git.run(
        "commit",
        "--quiet",
        "--no-verify",
        "-F",
        "-",
        "--",
        old_folder,
        new_folder,
        input_bytes=message.encode(),
    )
    return git.head_commit()


def leave_stages(
    name: str,
    number: int,
    *,
    archive: bool,
    repo: str | Path | None = None,
    reason: str = "",
    commit: bool = False,
) -> str | None:
    """Take version ``number`` out of every stage it holds (MLflow's transition to None,
    or with ``archive`` to Archived), in one commit.

    A stage left empty loses its pointer file; the versions it had retired stay
    archived (kept in model.yaml's ``archived``). Archiving adds the version there;
    moving it to None takes it out of ``archived`` and of every stage's retired list.
    """
    root, registry, git = _open(repo)
    version = registry.version(name, number)
    model = registry.model(name)
    pointers = registry.stage_pointers(name)
    archived = set(model.archived)
    removed: list[str] = []
    edited: dict[str, dict[str, object]] = {}
    for stage, pointer in pointers.items():
        path = stage_pointer_path(name, stage)
        if pointer.version == number:
            removed.append(path)
            archived |= set(pointer.retired)
        elif not archive and number in pointer.retired:
            document = pointer.to_document()
            document["retired"] = [v for v in pointer.retired if v != number]
            if not document["retired"]:
                del document["retired"]
            edited[path] = document
    if archive:
        archived.add(number)
    else:
        archived.discard(number)
    if not removed and not edited and archived == set(model.archived):
        where = "archived" if archive else "in no stage"
        raise ConflictError(f"{version.ref} is already {where}")
    model_path = model_manifest_path(name)
    changed = [*removed, *edited, model_path]
    if commit:
        for path in changed:
            _refuse_dirty(git, path)
    for path in removed:
        (root / path).unlink()
    for path, document in edited.items():
        write_manifest(root, path, document, "pointer")
    write_manifest(
        root, model_path, replace(model, archived=tuple(sorted(archived))).to_document(), "model"
    )
    if not commit:
        return None
    target = "Archived" if archive else "None"
    body = f"{reason.strip()}\n\n" if reason.strip() else ""
    message = (
        f"move {name} version {number} to {target}\n\n{body}"
        f"Modelreg-Event: transition\nModelreg-Model: {name}\nModelreg-Version: {number}\n"
    )
    return git.commit_paths(message, changed)
