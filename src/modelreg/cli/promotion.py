"""Moving stages: promote (with its gates), rollback, and the pull request's comment."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from modelreg.api import (
        GateCheck,
    )
    from modelreg.integrations.github import GitHub

from modelreg.cli.app import (
    Options,
    cli,
    complete_model,
    complete_stage,
    echo,
    emit_json,
    one_line_text,
    pass_options,
)

_PR_HELP = (
    "Open a pull request (a new branch pushed to origin, GITHUB_TOKEN or GH_TOKEN) instead "
    "of committing on the current branch."
)


def _pr_options(function: Any) -> Any:
    for option in reversed(
        [
            click.option("--pr/--no-pr", default=False, help=_PR_HELP),
            click.option(
                "--base",
                metavar="BRANCH",
                help="With --pr: the branch to merge into (default: origin's default branch).",
            ),
            click.option(
                "--api-url",
                metavar="URL",
                help="With --pr: the GitHub API (default: $GITHUB_API_URL, else api.github.com).",
            ),
            click.option(
                "--github-repo",
                metavar="OWNER/NAME",
                help="With --pr: the repository (default: $GITHUB_REPOSITORY).",
            ),
            click.option("--json", "as_json", is_flag=True, help="Print JSON."),
        ]
    ):
        function = option(function)
    return function


@contextlib.contextmanager
def _github(
    pr: bool, base: str | None, api_url: str | None, github_repo: str | None
) -> Iterator[GitHub | None]:
    """The GitHub client a --pr command uses (None without --pr), closed afterwards."""
    if not pr:
        if base:
            raise click.UsageError("--base goes with --pr")
        if api_url or github_repo:
            raise click.UsageError("--api-url and --github-repo go with --pr")
        yield None
        return
    from modelreg.integrations.github import GitHub

    with GitHub.from_environment(github_repo, api_url=api_url) as github:
        yield github


def _landed(result: Any, what: str = "") -> None:
    """Where a change landed: its warnings, then the pull request or the commit
    (``what``, when given, leads the line)."""
    lead = f"{what}: " if what else ""
    for warning in result.warnings:
        echo(f"warning: {warning}", err=True)
    if result.pull is not None:
        echo(f"{lead}opened pull request #{result.pull.number}: {result.pull.html_url}")
        echo(f"  branch {result.branch}, commit {result.commit[:12]}")
    else:
        echo(f"{lead}committed {result.commit[:12]}")


@cli.command()
@click.argument("name", shell_complete=complete_model)
@click.argument("version", type=click.IntRange(min=1))
@click.option(
    "--to",
    "stage",
    required=True,
    metavar="STAGE",
    shell_complete=complete_stage,
    help="The stage to move.",
)
@click.option(
    "--reason",
    default="",
    callback=one_line_text,
    help="Why (kept in the pointer and the commit).",
)
@click.option(
    "--force", is_flag=True, help="Override failing gates (needs --reason; goes in the commit)."
)
@click.option(
    "--check",
    is_flag=True,
    help="Only check the gates (against the stage on --base when given); change nothing; "
    "exit 1 if one fails.",
)
@click.option(
    "--markdown",
    is_flag=True,
    help="With --check: print the gates as a Markdown table (for a job summary or a comment).",
)
@_pr_options
@pass_options
@click.pass_context
def promote(
    ctx: click.Context,
    options: Options,
    name: str,
    version: int,
    stage: str,
    reason: str,
    force: bool,
    check: bool,
    markdown: bool,
    pr: bool,
    base: str | None,
    api_url: str | None,
    github_repo: str | None,
    as_json: bool,
) -> None:
    """Move STAGE of NAME to VERSION, checking the stage's policy.

    The policy in registry/registry.yaml (source stage, metric bounds, no regression
    against the version in the stage, ONNX parity) must pass. The one pointer file
    changes, the version it replaces is retired (archived), and the commit carries
    Modelreg-* trailers. Undo it with 'modelreg rollback' or 'git revert'.
    """
    from modelreg.api import promote as run_promote

    if markdown and not check:
        raise click.UsageError("--markdown goes with --check")
    if check:
        if pr or force:
            raise click.UsageError("--check changes nothing: give it without --pr and --force")
        if as_json and markdown:
            raise click.UsageError("give --json or --markdown, not both")
        from modelreg.api import check_promotion

        gates = check_promotion(name, version, stage, options.repo, base=base)
        if as_json:
            emit_json(gates.to_json())
        else:
            _print_gates(gates, markdown)
        if not gates.passed:
            ctx.exit(1)
        return
    with _github(pr, base, api_url, github_repo) as github:
        done = run_promote(
            name,
            version,
            stage,
            repo=options.repo,
            reason=reason,
            force=force,
            pr=pr,
            base=base,
            github=github,
        )
    if as_json:
        emit_json(done.to_json())
        return
    was = f" (was v{done.previous}, now retired)" if done.previous else ""
    forced = " FORCED past failing gates" if done.forced else ""
    echo(f"promoted {done.model}/{done.version} to {done.stage}{was}{forced}")
    if len(done.gates) > 1:  # more than 'not deprecated': the stage has a policy
        for gate in done.gates:
            echo(f"  {'pass' if gate.passed else 'FAIL'}  {gate.name}: {gate.detail}")
    _landed(done)


def _print_gates(check: GateCheck, markdown: bool) -> None:
    """The verdict on a version's gates, then each gate (as a Markdown table with
    ``markdown``, for a job summary or a comment)."""
    against = f"v{check.against.version}" if check.against else "an empty stage"
    where = f" on {check.base}" if check.base else ""
    count = sum(g.passed for g in check.gates)
    verdict = (
        f"{check.version.ref} to {check.stage} (against {against}{where}): "
        f"{count} of {len(check.gates)} gates pass"
    )
    if markdown:
        from modelreg.core.escape import markdown_text
        from modelreg.core.policy import gate_table

        echo(f"{markdown_text(verdict)}\n\n{gate_table(check.gates)}", nl=False)
        return
    echo(verdict)
    for gate in check.gates:
        echo(f"  {'pass' if gate.passed else 'FAIL'}  {gate.name}: {gate.detail}")


@cli.command()
@click.argument("name", shell_complete=complete_model)
@click.option(
    "--stage",
    required=True,
    metavar="STAGE",
    shell_complete=complete_stage,
    help="The stage to roll back.",
)
@click.option(
    "--to",
    "to",
    type=click.IntRange(min=1),
    metavar="VERSION",
    help="Go back to this earlier version (default: the one before the current).",
)
@click.option("--reason", default="", callback=one_line_text, help="Why (kept in the commit).")
@_pr_options
@pass_options
def rollback(
    options: Options,
    name: str,
    stage: str,
    to: int | None,
    reason: str,
    pr: bool,
    base: str | None,
    api_url: str | None,
    github_repo: str | None,
    as_json: bool,
) -> None:
    """Put STAGE of NAME back on the version it held before.

    Reverts the commit that made the current assignment (a merged or squashed pull
    request counts as one commit), so the pointer file is exactly what it was. Run
    again, it walks further back; --to goes back to a named version in one commit.
    """
    from modelreg.api import rollback as run_rollback

    with _github(pr, base, api_url, github_repo) as github:
        done = run_rollback(
            name,
            stage,
            repo=options.repo,
            to=to,
            reason=reason,
            pr=pr,
            base=base,
            github=github,
        )
    if as_json:
        emit_json(done.to_json())
        return
    how = (
        f"reverting {', '.join(c[:12] for c in done.reverted)}"
        if done.reverted
        else "with a fresh pointer (history does not show the earlier file)"
    )
    echo(
        f"rolled {done.model} {done.stage} back from v{done.rolled_back} to v{done.version}, {how}"
    )
    _landed(done)


@cli.command()
@click.option("--pr", "number", required=True, type=click.IntRange(min=1), help="The PR number.")
@click.option(
    "--file",
    "source",
    type=click.File("r", encoding="utf-8"),
    default="-",
    show_default=True,
    help="The comment's Markdown ('-': standard input), e.g. from 'modelreg report'.",
)
@click.option(
    "--marker",
    default="<!-- modelreg:report -->",
    show_default=True,
    help="The HTML comment that identifies the one comment to keep up to date.",
)
@click.option(
    "--author",
    metavar="LOGIN",
    envvar="MODELREG_COMMENT_AUTHOR",
    help="Whose marked comment to update: the token's login (default: asked of GitHub; "
    "github-actions[bot] for an app token). Another app's token: SLUG[bot].",
)
@click.option("--api-url", metavar="URL", help="The GitHub API (default: $GITHUB_API_URL).")
@click.option("--github-repo", metavar="OWNER/NAME", help="Default: $GITHUB_REPOSITORY.")
def comment(
    number: int,
    source: Any,
    marker: str,
    author: str | None,
    api_url: str | None,
    github_repo: str | None,
) -> None:
    """Post Markdown on pull request PR as one comment, updated in place on later runs.

    Only a comment with the marker written by the token's own login is updated: a
    marked comment by anyone else (the pull request's author, say) is left alone
    and a new one is posted.
    """
    body = source.read()
    if not marker.startswith("<!--") or not marker.endswith("-->"):
        raise click.UsageError("--marker must be an HTML comment, e.g. '<!-- my-report -->'")
    if not body.strip():
        raise click.UsageError("the comment is empty; give --file or pipe the Markdown in")
    with _github(True, None, api_url, github_repo) as github:
        assert github is not None
        done = github.upsert_comment(number, body, marker=marker, author=author)
    echo(f"comment on #{number}: {done.html_url}")
