"""Edits in MLflow's vocabulary: tag, describe, alias, transition.

Each is one reviewed change: a commit on the current branch with ``Modelreg-*``
trailers (so ``history``, ``diff`` and ``git revert`` read it), or with ``--pr`` a
pull request. An alias named like a stage is that stage (setting it promotes, with
the policy's gates; deleting it clears the stage); ``transition`` to a stage
promotes, to Archived or None takes the version out of every stage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from modelreg.cli.app import (
    Options,
    cli,
    complete_model,
    complete_ref,
    complete_stage,
    echo,
    emit_json,
    one_line_text,
    pass_options,
    plain_text,
)
from modelreg.cli.promotion import _github, _landed, _pr_options

if TYPE_CHECKING:
    from modelreg.ops.landing import Landed


def _target(options: Options, ref: str) -> tuple[str, int | None]:
    """A model (REF is NAME) or the version REF names now (NAME/3, NAME@production)."""
    from modelreg.core.refs import parse_ref

    parsed = parse_ref(ref)
    if parsed.selector == "model":
        return parsed.model, None
    with options.registry() as registry:
        version = registry.resolve(parsed).version
    return version.model, version.version


def _report(done: Landed | None, what: str, as_json: bool, extra: dict[str, Any]) -> None:
    if as_json:
        pull = done.pull if done else None
        emit_json(
            {
                "format": "modelreg.edit/1",
                **extra,
                "changed": done is not None,
                "commit": done.commit if done else None,
                "branch": done.branch if done else None,
                "pull_request": {"number": pull.number, "url": pull.html_url} if pull else None,
            }
        )
        return
    if done is None:
        echo(f"{what}: already so, nothing to change")
        return
    _landed(done, what)


def _pull(pr: bool, base: str | None, github: Any) -> Any:
    from modelreg.ops.change import Pull

    return Pull(github, base) if pr else None


@cli.command()
@click.argument("ref", shell_complete=complete_ref)
@click.argument("pairs", nargs=-1, metavar="KEY=VALUE...", callback=plain_text)
@click.option("--unset", "unset", multiple=True, metavar="KEY", help="Remove a tag; repeat it.")
@_pr_options
@pass_options
def tag(
    options: Options,
    ref: str,
    pairs: tuple[str, ...],
    unset: tuple[str, ...],
    pr: bool,
    base: str | None,
    api_url: str | None,
    github_repo: str | None,
    as_json: bool,
) -> None:
    """Set tags on a model (REF is NAME) or a version (NAME/3, NAME@production).

    Tags are the one part of a version that may change after it is merged."""
    from modelreg.api import parse_tags
    from modelreg.ops.edits import update_model, update_version

    if not pairs and not unset:
        raise click.UsageError("give KEY=VALUE to set, or --unset KEY")
    tags = parse_tags(pairs)
    both = sorted(set(tags) & set(unset))
    if both:
        raise click.UsageError(f"tag {both[0]!r} is both set and unset")
    name, number = _target(options, ref)
    with _github(pr, base, api_url, github_repo) as github:
        pull = _pull(pr, base, github)
        if number is None:
            _, done = update_model(
                name, repo=options.repo, set_tags=tags, delete_tags=unset, commit=True, pull=pull
            )
        else:
            _, done = update_version(
                name,
                number,
                repo=options.repo,
                set_tags=tags,
                delete_tags=unset,
                commit=True,
                pull=pull,
            )
    what = name if number is None else f"{name}/{number}"
    _report(done, f"tags of {what}", as_json, {"ref": what, "set": tags, "unset": list(unset)})


@cli.command()
@click.argument("ref", shell_complete=complete_ref)
@click.argument("text", callback=plain_text)
@_pr_options
@pass_options
def describe(
    options: Options,
    ref: str,
    text: str,
    pr: bool,
    base: str | None,
    api_url: str | None,
    github_repo: str | None,
    as_json: bool,
) -> None:
    """Set the description of a model (REF is NAME) or a version (NAME/3, NAME@production).

    TEXT may span lines; an empty TEXT clears it."""
    from modelreg.ops.edits import update_model, update_version

    name, number = _target(options, ref)
    with _github(pr, base, api_url, github_repo) as github:
        pull = _pull(pr, base, github)
        if number is None:
            _, done = update_model(
                name, repo=options.repo, description=text, commit=True, pull=pull
            )
        else:
            _, done = update_version(
                name, number, repo=options.repo, description=text, commit=True, pull=pull
            )
    what = name if number is None else f"{name}/{number}"
    _report(done, f"description of {what}", as_json, {"ref": what})


@cli.group()
def alias() -> None:
    """Point an alias at a version, or remove it (an alias named like a stage is the stage)."""


@alias.command("set")
@click.argument("name", shell_complete=complete_model)
@click.argument("alias_name", metavar="ALIAS")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--reason", default="", callback=one_line_text, help="Why (kept in the commit).")
@_pr_options
@pass_options
def alias_set(
    options: Options,
    name: str,
    alias_name: str,
    version: int,
    reason: str,
    pr: bool,
    base: str | None,
    api_url: str | None,
    github_repo: str | None,
    as_json: bool,
) -> None:
    """Point ALIAS of NAME at VERSION. An ALIAS named like a stage promotes VERSION to
    it: the stage's policy gates apply, as with 'modelreg promote'."""
    from modelreg.ops.edits import set_alias

    with _github(pr, base, api_url, github_repo) as github:
        done = set_alias(
            name,
            alias_name,
            version,
            repo=options.repo,
            commit=True,
            pull=_pull(pr, base, github),
            reason=reason,
        )
    extra = {"model": name, "alias": alias_name, "version": version}
    _report(done, f"{name}@{alias_name} -> v{version}", as_json, extra)


@alias.command("delete")
@click.argument("name", shell_complete=complete_model)
@click.argument("alias_name", metavar="ALIAS")
@click.option("--reason", default="", callback=one_line_text, help="Why (kept in the commit).")
@_pr_options
@pass_options
def alias_delete(
    options: Options,
    name: str,
    alias_name: str,
    reason: str,
    pr: bool,
    base: str | None,
    api_url: str | None,
    github_repo: str | None,
    as_json: bool,
) -> None:
    """Remove ALIAS of NAME. An ALIAS named like a stage clears the stage: its version is
    archived, as a transition to Archived."""
    from modelreg.ops.edits import delete_alias

    with _github(pr, base, api_url, github_repo) as github:
        done = delete_alias(
            name,
            alias_name,
            repo=options.repo,
            commit=True,
            pull=_pull(pr, base, github),
            reason=reason,
        )
    _report(done, f"{name}@{alias_name} removed", as_json, {"model": name, "alias": alias_name})


@cli.command()
@click.argument("name", shell_complete=complete_model)
@click.argument("version", type=click.IntRange(min=1))
@click.argument("stage", shell_complete=complete_stage)
@click.option(
    "--reason", default="", callback=one_line_text, help="Why (kept in the pointer and commit)."
)
@_pr_options
@pass_options
def transition(
    options: Options,
    name: str,
    version: int,
    stage: str,
    reason: str,
    pr: bool,
    base: str | None,
    api_url: str | None,
    github_repo: str | None,
    as_json: bool,
) -> None:
    """Move VERSION of NAME to STAGE, in MLflow's words: a stage of the registry
    (Staging, Production, ...) promotes it, with the policy's gates; Archived or None
    takes it out of every stage it holds (Archived keeps it listed as retired)."""
    from modelreg.api import promote
    from modelreg.ops.edits import leave_stages
    from modelreg.ops.landing import Landed

    with options.registry() as registry:
        target = registry.config.canonical_stage(stage)
        stages = registry.config.stages
    if target is None and stage.lower() not in ("archived", "none"):
        listed = ", ".join(s.title() for s in stages)
        raise click.UsageError(
            f"{stage!r} is not a stage here; use one of {listed}, Archived, None"
        )
    done: Landed | None
    with _github(pr, base, api_url, github_repo) as github:
        if target is None:
            done = leave_stages(
                name,
                version,
                archive=stage.lower() == "archived",
                repo=options.repo,
                reason=reason,
                commit=True,
                pull=_pull(pr, base, github),
            )
        else:
            moved = promote(
                name,
                version,
                target,
                repo=options.repo,
                reason=reason,
                pr=pr,
                base=base,
                github=github,
            )
            done = Landed(moved.commit, moved.branch, moved.pull, moved.warnings)
    label = target or stage.title()
    extra = {"model": name, "version": version, "stage": label}
    _report(done, f"{name}/{version} -> {label}", as_json, extra)
