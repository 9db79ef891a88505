"""Small edits of the registry: descriptions, tags, aliases, deletions, renames, archiving.

Each edit is a set of file changes applied by :func:`_apply`: with ``commit``, one
commit of exactly those files with ``Modelreg-*`` trailers (like ``promote``), so
``history``, ``diff`` and ``git revert`` treat it like any other change. An edit
that changes nothing commits nothing. If writing or committing fails, every file
is put back as it was, in the working tree and in the index, so a retry starts
from the same state. A file with uncommitted changes is refused rather than
committed along with someone's unfinished edit. :func:`write_lock` serialises
writers across threads and processes (an MLflow server runs several workers).
These are the writes behind the MLflow registry plugin.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelreg._errors import AlreadyExistsError, ConflictError, InputError, NotFoundError
from modelreg._git import Git
from modelreg._layout import (
    alias_pointer_path,
    check_alias_name,
    check_model_name,
    model_dir,
    model_manifest_path,
    schema_comment,
    stage_pointer_path,
    version_path,
)
from modelreg._model import Deprecation, Model, ModelVersion, format_timestamp
from modelreg._registry import Registry
from modelreg._schema import format_path, load_schema
from modelreg._source import WorktreeSource, find_repo_root
from modelreg._yaml import dump_yaml, write_bytes_atomic
from modelreg._yaml_edit import edit_manifest_text

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
    "write_lock",
]

Clock = Callable[[], datetime]
_THREAD_LOCK = threading.Lock()


@contextlib.contextmanager
def write_lock(root: Path) -> Iterator[None]:
    """One writer at a time in ``root``'s repository, across threads and processes."""
    lock_path = root / ".git" / "modelreg-write.lock"
    with _THREAD_LOCK, lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _now(now: Clock | None) -> datetime:
    return (now or (lambda: datetime.now(UTC)))().replace(microsecond=0)


def _open(repo: str | Path | None, *names: str) -> tuple[Path, Registry, Git]:
    for name in names:  # every name, before it becomes a path
        check_model_name(name)
    root = find_repo_root(Path(repo) if repo is not None else Path.cwd())
    return root, Registry(root, WorktreeSource(root)), Git(root)


def _manifest(root: Path, path: str, document: dict[str, Any], kind: str) -> bytes:
    """The new bytes of ``path``: an existing file keeps its comments and key order."""
    violations = load_schema(kind)(document)
    if violations:
        first = violations[0]
        raise InputError(f"{path}: {format_path(first.path)}: {first.message}")
    header = schema_comment(path, kind)
    try:
        old = (root / path).read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return dump_yaml(document, header=header).encode("utf-8")
    return edit_manifest_text(old, document, header=header).encode("utf-8")


def _message(subject: str, trailers: Mapping[str, str | int], body: str = "") -> str:
    lines = "".join(f"Modelreg-{key}: {value}\n" for key, value in trailers.items())
    return f"{subject}\n\n{body.strip() + chr(10) + chr(10) if body.strip() else ''}{lines}"


def _refuse_dirty(git: Git, paths: Iterable[str]) -> None:
    for path in paths:
        if git.is_dirty([path]):
            raise ConflictError(f"{path} has uncommitted changes; commit or discard them first")


def _apply(
    root: Path,
    git: Git,
    changes: Mapping[str, bytes | None],
    message: str,
    *,
    commit: bool,
) -> str | None:
    """Write each file (``None``: remove it) and, with ``commit``, commit exactly them.

    Nothing happens if every file already has its content. On any failure the
    files and their index entries are restored before the error goes on.
    """
    before = {p: (root / p).read_bytes() if (root / p).is_file() else None for p in changes}
    if all(before[p] == data for p, data in changes.items()):
        return None
    if commit:
        _refuse_dirty(git, changes)
    try:
        for path, data in changes.items():
            if data is None:
                (root / path).unlink(missing_ok=True)
            else:
                write_bytes_atomic(root / path, data)
        return git.commit_paths(message, list(changes)) if commit else None
    except BaseException:
        for path, data in before.items():
            if data is None:
                (root / path).unlink(missing_ok=True)
            else:
                write_bytes_atomic(root / path, data)
        git.run("reset", "-q", "--", *changes, check=False)
        raise


def _tags(
    current: Mapping[str, str], set_tags: Mapping[str, str] | None, delete: Iterable[str]
) -> dict[str, str]:
    tags = dict(current)
    tags.update(set_tags or {})
    for key in delete:
        tags.pop(key, None)
    return tags


# --- models and versions -------------------------------------------------------------------


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
    root, registry, git = _open(repo, name)
    registry.config  # noqa: B018 - fails early, with the fix, if there is no registry
    existing = {n.lower(): n for n in registry.model_names()}
    if name.lower() in existing:
        found = registry.model(existing[name.lower()])
        if found.deleted is None or found.name != name:
            raise AlreadyExistsError(f"model {existing[name.lower()]!r} already exists")
        # A deleted model comes back: its old versions stay tombstones, numbers go on.
        revived = replace(
            found, deleted=None, description=description, tags=dict(tags or {}), archived=()
        )
        path = model_manifest_path(name)
        data = _manifest(root, path, revived.to_document(), "model")
        message = _message(f"add model {name} again", {"Event": "model", "Model": name})
        return revived, _apply(root, git, {path: data}, message, commit=commit)
    if (root / model_dir(name)).exists():
        raise ConflictError(f"{model_dir(name)} exists but has no model.yaml; remove it first")
    model = Model(name=name, description=description, tags=dict(tags or {}), created=_now(now))
    path = model_manifest_path(name)
    data = _manifest(root, path, model.to_document(), "model")
    trailers = {"Event": "model", "Model": name}
    return model, _apply(
        root, git, {path: data}, _message(f"add model {name}", trailers), commit=commit
    )


def update_model(
    name: str,
    *,
    repo: str | Path | None = None,
    description: str | None = None,
    set_tags: Mapping[str, str] | None = None,
    delete_tags: Iterable[str] = (),
    commit: bool = False,
) -> tuple[Model, str | None]:
    """Change a model's description and tags (a no-op if they are already so)."""
    root, registry, git = _open(repo, name)
    model = registry.model(name)
    changed = replace(
        model,
        description=model.description if description is None else description,
        tags=_tags(model.tags, set_tags, delete_tags),
    )
    path = model_manifest_path(name)
    data = _manifest(root, path, changed.to_document(), "model")
    trailers = {"Event": "model", "Model": name}
    sha = _apply(root, git, {path: data}, _message(f"update model {name}", trailers), commit=commit)
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
    root, registry, git = _open(repo, name)
    version = registry.version(name, number)
    changed = replace(
        version,
        description=version.description if description is None else description,
        tags=_tags(version.tags, set_tags, delete_tags),
    )
    path = version_path(name, number)
    data = _manifest(root, path, changed.to_document(), "version")
    trailers: dict[str, str | int] = {"Event": "version", "Model": name, "Version": number}
    message = _message(f"update {name} version {number}", trailers)
    return changed, _apply(root, git, {path: data}, message, commit=commit)


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
    files stay in DVC). Aliases on it go with it; a stage (or canary) holding it must
    move first."""
    root, registry, git = _open(repo, name)
    version = registry.version(name, number)
    if version.deleted is not None:
        raise NotFoundError(f"{version.ref} is already deleted")
    status = registry.status(name).get(number)
    if status is not None and (status.stages or status.canary_in):
        held = ", ".join([*status.stages, *(f"the {s} canary" for s in status.canary_in)])
        raise ConflictError(
            f"{version.ref} is in {held}; promote another version there (or roll back) "
            "before deleting it"
        )
    path = version_path(name, number)
    deleted = replace(version, deleted=Deprecation(_now(now), reason.strip()))
    changes: dict[str, bytes | None] = {
        path: _manifest(root, path, deleted.to_document(), "version")
    }
    for alias in status.aliases if status else ():
        changes[alias_pointer_path(name, alias)] = None
    trailers: dict[str, str | int] = {"Event": "delete", "Model": name, "Version": number}
    message = _message(f"delete {name} version {number}", trailers)
    return _apply(root, git, changes, message, commit=commit)


# --- aliases and stages ----------------------------------------------------------------------


def set_alias(
    name: str,
    alias: str,
    number: int,
    *,
    repo: str | Path | None = None,
    commit: bool = False,
    now: Clock | None = None,
) -> str | None:
    """Point ``alias`` of ``name`` at version ``number`` (a no-op if it already does)."""
    check_alias_name(alias)
    root, registry, git = _open(repo, name)
    if registry.config.canonical_stage(alias) is not None:
        raise InputError(f"{alias!r} is a stage of this registry; an alias needs another name")
    version = registry.version(name, number)
    if version.deprecated:
        raise ConflictError(f"{version.ref} is deprecated; an alias must not point at it")
    previous = registry.aliases(name).get(alias)
    if previous is not None and previous.version == number:
        return None
    path = alias_pointer_path(name, alias)
    document: dict[str, Any] = {"version": number, "since": format_timestamp(_now(now))}
    if previous is not None:
        document["previous"] = previous.version
    trailers: dict[str, str | int] = {"Event": "alias", "Model": name, "Alias": alias}
    trailers["Version"] = number
    message = _message(f"point {name}@{alias} at version {number}", trailers)
    return _apply(
        root, git, {path: _manifest(root, path, document, "pointer")}, message, commit=commit
    )


def delete_alias(
    name: str, alias: str, *, repo: str | Path | None = None, commit: bool = False
) -> str | None:
    """Remove ``alias`` of ``name`` (a no-op if it is not set, as MLflow's stores do)."""
    root, registry, git = _open(repo, name)
    registry.model(name)
    if alias not in registry.aliases(name):
        return None
    trailers: dict[str, str | int] = {"Event": "alias", "Model": name, "Alias": alias}
    changes: dict[str, bytes | None] = {alias_pointer_path(name, alias): None}
    return _apply(root, git, changes, _message(f"remove {name}@{alias}", trailers), commit=commit)


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
    or with ``archive`` to Archived), in one commit; a no-op if it is already there.

    A stage left empty loses its pointer file; the versions it had retired stay
    archived (kept in model.yaml's ``archived``). Archiving adds the version there;
    moving it to None takes it out of ``archived`` and of every stage's retired list.
    A stage whose canary is this version keeps its version and loses the canary.
    """
    root, registry, git = _open(repo, name)
    registry.version(name, number)
    model = registry.model(name)
    archived = set(model.archived)
    changes: dict[str, bytes | None] = {}
    for stage, pointer in registry.stage_pointers(name).items():
        path = stage_pointer_path(name, stage)
        if pointer.version == number:
            changes[path] = None
            archived |= set(pointer.retired)
            continue
        kept = pointer
        if pointer.canary is not None and pointer.canary.version == number:
            kept = replace(kept, canary=None)
        if not archive and number in pointer.retired:
            kept = replace(kept, retired=tuple(v for v in pointer.retired if v != number))
        if kept != pointer:
            changes[path] = _manifest(root, path, kept.to_document(), "pointer")
    if archive:
        archived.add(number)
    else:
        archived.discard(number)
    model_path = model_manifest_path(name)
    document = replace(model, archived=tuple(sorted(archived))).to_document()
    changes[model_path] = _manifest(root, model_path, document, "model")
    target = "Archived" if archive else "None"
    trailers: dict[str, str | int] = {"Event": "transition", "Model": name, "Version": number}
    message = _message(f"move {name} version {number} to {target}", trailers, reason)
    return _apply(root, git, changes, message, commit=commit)


# --- whole models ------------------------------------------------------------------------------


def _refuse_unsaved(git: Git, folder: str) -> None:
    """Files someone has not committed (changed, or new and not ignored) stop a move or a
    removal of their folder: they would be swept into the commit, or lost."""
    out = git.text("status", "--porcelain", "--untracked-files=all", "--", folder)
    if out.strip():
        first = out.splitlines()[0][3:]
        raise ConflictError(f"{first} has uncommitted changes; commit or discard them first")


def delete_model(
    name: str,
    *,
    repo: str | Path | None = None,
    reason: str = "",
    commit: bool = False,
    now: Clock | None = None,
) -> str | None:
    """Delete model ``name`` as a tombstone, in one commit: model.yaml and every version
    are marked deleted (their files stay referenced, so no ``dvc gc`` takes them), its
    aliases go. A stage holding one of its versions must be cleared first."""
    root, registry, git = _open(repo, name)
    model = registry.model(name)
    if model.deleted is not None:
        raise NotFoundError(f"model {name!r} is already deleted")
    held = registry.stage_pointers(name)
    if held:
        stages = ", ".join(f"{s} (v{p.version})" for s, p in held.items())
        raise ConflictError(
            f"{name} still has versions in {stages}; a model in use cannot be deleted"
        )
    moment = Deprecation(_now(now), reason.strip())
    model_path = model_manifest_path(name)
    changes: dict[str, bytes | None] = {
        model_path: _manifest(
            root, model_path, replace(model, deleted=moment).to_document(), "model"
        )
    }
    for version in registry.versions(name):
        if version.deleted is None:
            path = version_path(name, version.version)
            gone = replace(version, deleted=moment).to_document()
            changes[path] = _manifest(root, path, gone, "version")
    for alias in registry.aliases(name):
        changes[alias_pointer_path(name, alias)] = None
    message = _message(f"delete model {name}", {"Event": "delete", "Model": name}, reason)
    return _apply(root, git, changes, message, commit=commit)


def rename_model(
    name: str, new_name: str, *, repo: str | Path | None = None, commit: bool = False
) -> str | None:
    """Rename model ``name``: its folder moves (pulled files too) and every manifest that
    names it or a path in it is rewritten, in one commit."""
    root, registry, git = _open(repo, name, new_name)
    model = registry.model(name)
    if new_name == name:
        return None
    versions = registry.versions(name)
    existing = {n.lower(): n for n in registry.model_names()}
    if new_name.lower() in existing and new_name.lower() != name.lower():
        raise AlreadyExistsError(f"model {existing[new_name.lower()]!r} already exists")
    old_folder, new_folder = model_dir(name), model_dir(new_name)
    _refuse_unsaved(git, old_folder)
    old_prefix, new_prefix = f"{old_folder}/", f"{new_folder}/"
    rewritten = {
        model_manifest_path(new_name): _manifest(
            root,
            model_manifest_path(new_name),
            replace(model, name=new_name).to_document(),
            "model",
        )
    }
    for version in versions:
        moved = tuple(
            replace(a, path=new_prefix + a.path.removeprefix(old_prefix)) for a in version.artifacts
        )
        path = version_path(new_name, version.version)
        document = replace(version, model=new_name, artifacts=moved).to_document()
        rewritten[path] = _manifest(root, path, document, "version")
    (root / old_folder).rename(root / new_folder)
    try:
        for path, data in rewritten.items():
            write_bytes_atomic(root / path, data)
        if not commit:
            return None
        tracked = git.text("ls-files", "--", old_folder).splitlines()
        moved_files = [new_prefix + p.removeprefix(old_prefix) for p in tracked]
        git.run("add", "--", *moved_files)
        git.run("rm", "-r", "-q", "--cached", "--", old_folder)
        message = _message(
            f"rename model {name} to {new_name}",
            {"Event": "rename", "Model": new_name, "Previous": name},
        )
        # The moved files are staged above: untracked files of the user's in the
        # folder are not swept into the rename.
        return git.commit_paths(message, [old_folder, new_folder], add=False)
    except BaseException:
        git.run("reset", "-q", "--", old_folder, new_folder, check=False)
        shutil.rmtree(root / old_folder, ignore_errors=True)
        (root / new_folder).rename(root / old_folder)
        git.run("checkout", "--", old_folder, check=False)
        raise
