"""Small edits of the registry: descriptions, tags, aliases, deletions, renames, archiving.

Each edit is one :class:`~modelreg.ops.change.Change`: with ``commit``, one commit of
exactly its files with ``Modelreg-*`` trailers (like ``promote``), so ``history``,
``diff`` and ``git revert`` treat it like any other change; without, the files only;
with ``pull``, a pull request with that one commit (the working tree untouched).
An edit that changes nothing commits nothing. The change holds the write lock from
its first read to its last write, and undoes itself on any failure. These are the
writes behind the MLflow registry plugin and the CLI's tag, describe, alias and
transition.

An alias named like a stage (any case) *is* that stage, as MLflow users name their
environments: setting it promotes (the policy's gates apply), deleting it clears the
stage, and reading it answers the stage's version. Other aliases are free-form, but
two aliases of a model may not differ only in case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from modelreg.core.errors import AlreadyExistsError, ConflictError, NotFoundError
from modelreg.core.layout import (
    alias_pointer_path,
    check_alias_name,
    check_model_name,
    model_dir,
    model_manifest_path,
    stage_pointer_path,
    version_path,
)
from modelreg.core.model import Deprecation, Model, ModelVersion, format_timestamp
from modelreg.ops.change import Change, Pull, PullSpec, commit_message
from modelreg.ops.landing import BRANCH_PREFIX, Landed

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


def _open(
    repo: str | Path | None, *names: str, now: Clock | None = None, pull: Pull | None = None
) -> AbstractContextManager[Change]:
    for name in names:  # every name, before it becomes a path
        check_model_name(name)
    return Change.open(repo, now=now, pull=pull)


def _land(change: Change, message: str, *, commit: bool, branch: str, title: str) -> Landed | None:
    """Land an edit: a pull request when the change was opened for one (on branch
    ``modelreg/BRANCH``), else one commit (or the files only, without ``commit``)."""
    if change.base is not None:
        body = (
            f"{message.splitlines()[0]}, proposed with `modelreg`. Merging this pull request "
            "makes the change; its commit carries the `Modelreg-*` trailers that `modelreg "
            "history` and `modelreg diff` read."
        )
        return change.land(
            message,
            pull=PullSpec(branch=f"{BRANCH_PREFIX}/{branch}", title=title, body=lambda: body),
        )
    sha = change.apply(message, commit=commit)
    return None if sha is None else Landed(sha, warnings=tuple(change.warnings))


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
    """Add model ``name`` with no versions yet; :class:`AlreadyExistsError` if it exists."""
    with _open(repo, name, now=now) as change:
        registry = change.registry
        registry.config  # noqa: B018 - fails early, with the fix, if there is no registry
        existing = {n.lower(): n for n in registry.model_names()}
        path = model_manifest_path(name)
        trailers = {"Event": "model", "Model": name}
        if name.lower() in existing:
            found = registry.model(existing[name.lower()])
            if found.deleted is None or found.name != name:
                raise AlreadyExistsError(f"model {existing[name.lower()]!r} already exists")
            # A deleted model comes back: its old versions stay tombstones, numbers go on.
            model = replace(
                found, deleted=None, description=description, tags=dict(tags or {}), archived=()
            )
            subject = f"add model {name} again"
        else:
            if (change.root / model_dir(name)).exists():
                raise ConflictError(
                    f"{model_dir(name)} exists but has no model.yaml; remove it first"
                )
            model = Model(
                name=name, description=description, tags=dict(tags or {}), created=change.now
            )
            subject = f"add model {name}"
        change.put_manifest(path, model.to_document(), "model")
        return model, change.apply(commit_message(subject, trailers), commit=commit)


def update_model(
    name: str,
    *,
    repo: str | Path | None = None,
    description: str | None = None,
    set_tags: Mapping[str, str] | None = None,
    delete_tags: Iterable[str] = (),
    commit: bool = False,
    pull: Pull | None = None,
) -> tuple[Model, Landed | None]:
    """Change a model's description and tags (a no-op if they are already so)."""
    with _open(repo, name, pull=pull) as change:
        model = change.registry.model(name)
        changed = replace(
            model,
            description=model.description if description is None else description,
            tags=_tags(model.tags, set_tags, delete_tags),
        )
        change.put_manifest(model_manifest_path(name), changed.to_document(), "model")
        message = commit_message(f"update model {name}", {"Event": "model", "Model": name})
        landed = _land(
            change, message, commit=commit, branch=f"{name}/edit", title=f"Update model {name}"
        )
        return changed, landed


def update_version(
    name: str,
    number: int,
    *,
    repo: str | Path | None = None,
    description: str | None = None,
    set_tags: Mapping[str, str] | None = None,
    delete_tags: Iterable[str] = (),
    commit: bool = False,
    pull: Pull | None = None,
) -> tuple[ModelVersion, Landed | None]:
    """Change a version's description and tags (mutable after merge; the rest is not)."""
    with _open(repo, name, pull=pull) as change:
        version = change.registry.version(name, number)
        changed = replace(
            version,
            description=version.description if description is None else description,
            tags=_tags(version.tags, set_tags, delete_tags),
        )
        change.put_manifest(version_path(name, number), changed.to_document(), "version")
        trailers = {"Event": "version", "Model": name, "Version": number}
        message = commit_message(f"update {name} version {number}", trailers)
        landed = _land(
            change,
            message,
            commit=commit,
            branch=f"{name}/edit-v{number}",
            title=f"Update {name} v{number}",
        )
        return changed, landed


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
    with _open(repo, name, now=now) as change:
        registry = change.registry
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
        deleted = replace(version, deleted=Deprecation(change.now, reason.strip()))
        change.put_manifest(version_path(name, number), deleted.to_document(), "version")
        for alias in status.aliases if status else ():
            change.put(alias_pointer_path(name, alias), None)
        trailers = {"Event": "delete", "Model": name, "Version": number}
        message = commit_message(f"delete {name} version {number}", trailers)
        return change.apply(message, commit=commit)


# --- aliases and stages ----------------------------------------------------------------------


def set_alias(
    name: str,
    alias: str,
    number: int,
    *,
    repo: str | Path | None = None,
    commit: bool = False,
    pull: Pull | None = None,
    reason: str = "",
    now: Clock | None = None,
) -> Landed | None:
    """Point ``alias`` of ``name`` at version ``number`` (a no-op if it already does).

    An alias named like a stage promotes the version to that stage instead: the
    policy's gates apply, and ``pull`` opens the promotion's pull request."""
    check_alias_name(alias)
    with _open(repo, name, now=now, pull=pull) as change:
        registry = change.registry
        stage = registry.config.canonical_stage(alias)
        version = registry.version(name, number)
        if stage is None:
            if version.deprecated:
                raise ConflictError(f"{version.ref} is deprecated; an alias must not point at it")
            aliases = registry.aliases(name)
            twin = next((a for a in aliases if a.lower() == alias.lower() and a != alias), None)
            if twin is not None:
                raise ConflictError(
                    f"{name} has alias {twin!r}; aliases may not differ only in case"
                )
            previous = aliases.get(alias)
            if previous is not None and previous.version == number:
                return None
            path = alias_pointer_path(name, alias)
            change.check_concurrent(
                path,
                f"{name}@{alias}",
                prefix=None,
                read=[(version_path(name, number), f"the manifest of {version.ref}")],
            )
            document: dict[str, Any] = {"version": number, "since": format_timestamp(change.now)}
            if previous is not None:
                document["previous"] = previous.version
            change.put_manifest(path, document, "pointer")
            trailers = {"Event": "alias", "Model": name, "Alias": alias, "Version": number}
            message = commit_message(f"point {name}@{alias} at version {number}", trailers)
            return _land(
                change,
                message,
                commit=commit,
                branch=f"{name}/alias-{alias}-v{number}",
                title=f"Point {name}@{alias} at v{number}",
            )
        current = registry.pointer(name, stage)
        if current is not None and current.version == number:
            return None  # the stage holds it already: setting the alias again changes nothing
    # The alias is the stage: a promotion, with its own change, gates and message.
    from modelreg.ops.promote import promote

    done = promote(
        name,
        number,
        stage,
        repo=repo,
        reason=reason or f"alias '{alias}' set",
        pr=pull is not None,
        base=pull.base if pull else None,
        github=pull.github if pull else None,
        now=now,
    )
    return Landed(done.commit, done.branch, done.pull, done.warnings)


def delete_alias(
    name: str,
    alias: str,
    *,
    repo: str | Path | None = None,
    commit: bool = False,
    pull: Pull | None = None,
    reason: str = "",
) -> Landed | None:
    """Remove ``alias`` of ``name`` (a no-op if it is not set, as MLflow's stores do).

    An alias named like a stage clears that stage: its version leaves it and is
    archived (unless another stage still holds it), as a transition to Archived."""
    with _open(repo, name, pull=pull) as change:
        registry = change.registry
        model = registry.model(name)
        stage = registry.config.canonical_stage(alias)
        if stage is None:
            if alias not in registry.aliases(name):
                return None
            change.put(alias_pointer_path(name, alias), None)
            trailers = {"Event": "alias", "Model": name, "Alias": alias}
            message = commit_message(f"remove {name}@{alias}", trailers, reason)
            return _land(
                change,
                message,
                commit=commit,
                branch=f"{name}/alias-{alias}-remove",
                title=f"Remove {name}@{alias}",
            )
        pointer = registry.pointer(name, stage)
        if pointer is None:
            return None
        path = stage_pointer_path(name, stage)
        change.refuse_dirty(path)
        change.put(path, None)
        held_elsewhere = any(
            other.version == pointer.version
            for other_stage, other in registry.stage_pointers(name).items()
            if other_stage != stage
        )
        archived = set(model.archived) | set(pointer.retired)
        if not held_elsewhere:
            archived.add(pointer.version)
        document = replace(model, archived=tuple(sorted(archived))).to_document()
        change.put_manifest(model_manifest_path(name), document, "model")
        moved: dict[str, object] = {
            "Event": "transition",
            "Model": name,
            "Stage": stage,
            "Version": pointer.version,
        }
        message = commit_message(
            f"clear {name}'s {stage} stage (version {pointer.version} archived)", moved, reason
        )
        return _land(
            change,
            message,
            commit=commit,
            branch=f"{name}/{stage}/clear",
            title=f"Clear {name}'s {stage} stage",
        )


def leave_stages(
    name: str,
    number: int,
    *,
    archive: bool,
    repo: str | Path | None = None,
    reason: str = "",
    commit: bool = False,
    pull: Pull | None = None,
) -> Landed | None:
    """Take version ``number`` out of every stage it holds (MLflow's transition to None,
    or with ``archive`` to Archived), in one commit; a no-op if it is already there.

    A stage left empty loses its pointer file; the versions it had retired stay
    archived (kept in model.yaml's ``archived``). Archiving adds the version there;
    moving it to None takes it out of ``archived`` and of every stage's retired list.
    A stage whose canary is this version keeps its version and loses the canary.
    """
    with _open(repo, name, pull=pull) as change:
        registry = change.registry
        registry.version(name, number)
        model = registry.model(name)
        archived = set(model.archived)
        for stage, pointer in registry.stage_pointers(name).items():
            path = stage_pointer_path(name, stage)
            if pointer.version == number:
                change.put(path, None)
                archived |= set(pointer.retired)
                continue
            kept = pointer
            if pointer.canary is not None and pointer.canary.version == number:
                kept = replace(kept, canary=None)
            if not archive and number in pointer.retired:
                kept = replace(kept, retired=tuple(v for v in pointer.retired if v != number))
            if kept != pointer:
                change.put_manifest(path, kept.to_document(), "pointer")
        if archive:
            archived.add(number)
        else:
            archived.discard(number)
        document = replace(model, archived=tuple(sorted(archived))).to_document()
        change.put_manifest(model_manifest_path(name), document, "model")
        target = "Archived" if archive else "None"
        trailers = {"Event": "transition", "Model": name, "Version": number}
        message = commit_message(f"move {name} version {number} to {target}", trailers, reason)
        return _land(
            change,
            message,
            commit=commit,
            branch=f"{name}/transition-v{number}-{target.lower()}",
            title=f"Move {name} v{number} to {target}",
        )


# --- whole models ------------------------------------------------------------------------------


def _refuse_unsaved(change: Change, folder: str) -> None:
    """Files someone has not committed (changed, or new and not ignored) stop a move or a
    removal of their folder: they would be swept into the commit, or lost."""
    out = change.git.text("status", "--porcelain", "--untracked-files=all", "--", folder)
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
    with _open(repo, name, now=now) as change:
        registry = change.registry
        model = registry.model(name)
        if model.deleted is not None:
            raise NotFoundError(f"model {name!r} is already deleted")
        held = registry.stage_pointers(name)
        if held:
            stages = ", ".join(f"{s} (v{p.version})" for s, p in held.items())
            raise ConflictError(
                f"{name} still has versions in {stages}; a model in use cannot be deleted"
            )
        moment = Deprecation(change.now, reason.strip())
        document = replace(model, deleted=moment).to_document()
        change.put_manifest(model_manifest_path(name), document, "model")
        for version in registry.versions(name):
            if version.deleted is None:
                gone = replace(version, deleted=moment).to_document()
                change.put_manifest(version_path(name, version.version), gone, "version")
        for alias in registry.aliases(name):
            change.put(alias_pointer_path(name, alias), None)
        trailers = {"Event": "delete", "Model": name}
        return change.apply(commit_message(f"delete model {name}", trailers, reason), commit=commit)


def rename_model(
    name: str, new_name: str, *, repo: str | Path | None = None, commit: bool = False
) -> str | None:
    """Rename model ``name``: its folder moves (pulled files too) and every manifest that
    names it or a path in it is rewritten, in one commit."""
    with _open(repo, name, new_name) as change:
        registry = change.registry
        model = registry.model(name)
        if new_name == name:
            return None
        versions = registry.versions(name)
        existing = {n.lower(): n for n in registry.model_names()}
        if new_name.lower() in existing and new_name.lower() != name.lower():
            raise AlreadyExistsError(f"model {existing[new_name.lower()]!r} already exists")
        old_folder, new_folder = model_dir(name), model_dir(new_name)
        _refuse_unsaved(change, old_folder)
        old_prefix, new_prefix = f"{old_folder}/", f"{new_folder}/"
        tracked = change.git.text("ls-files", "--", old_folder).splitlines()
        change.move_folder(old_folder, new_folder)
        for path in tracked:  # every file moves in the commit: gone here, added there
            moved = new_prefix + path.removeprefix(old_prefix)
            change.put(path, None)
            change.put(moved, (change.root / moved).read_bytes())
        document = replace(model, name=new_name).to_document()
        change.put_manifest(model_manifest_path(new_name), document, "model")
        for version in versions:
            artifacts = tuple(
                replace(a, path=new_prefix + a.path.removeprefix(old_prefix))
                for a in version.artifacts
            )
            document = replace(version, model=new_name, artifacts=artifacts).to_document()
            change.put_manifest(version_path(new_name, version.version), document, "version")
        trailers = {"Event": "rename", "Model": new_name, "Previous": name}
        message = commit_message(f"rename model {name} to {new_name}", trailers)
        return change.apply(message, commit=commit)
