"""Promotion and rollback by pull request, against a bare origin and a local GitHub API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from modelreg.api import ConflictError, Registry, promote, rollback
from modelreg.cli import main
from modelreg.core.errors import GitHubError
from modelreg.integrations.github import GitHub
from tests.conftest import RegistryFactory, Workspace, git
from tests.github_server import FakeGitHub

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POINTER = "registry/digits/stages/production.yaml"
POLICY = {
    "production": {
        "require": {"accuracy": {"min": 0.9}},
        "no_regression": {"accuracy": {"better": "higher", "tolerance": 0.01}},
    }
}


@pytest.fixture
def repo(make_registry: RegistryFactory, tmp_path: Path) -> Workspace:
    """A registry whose main branch is on a bare origin, production on v1."""
    ws = make_registry(
        {"digits": 3, "iris": 1},
        policies=POLICY,
        stages={"digits": {"production": {"version": 1, "since": "2026-02-01T08:00:00Z"}}},
        message="registry with digits in production",
    )
    root = ws.root
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    ws.git("remote", "add", "origin", str(origin))
    ws.git("push", "-q", "-u", "origin", "main")
    return Workspace(root, origin, root)


@pytest.fixture
def github(repo: Workspace) -> Iterator[FakeGitHub]:
    with FakeGitHub(repo="acme/models", token="t0ken", origin=repo.origin) as server:
        yield server


def client(server: FakeGitHub, token: str = "t0ken") -> GitHub:
    return GitHub("acme/models", token, api_url=server.url)


def test_promotion_pull_request_carries_the_comparison_and_the_gates(
    repo: Workspace, github: FakeGitHub
) -> None:
    head = repo.git("rev-parse", "HEAD").strip()
    with client(github) as gh:
        done = promote(
            "digits",
            2,
            "production",
            repo=repo.root,
            reason="fewer false alarms",
            pr=True,
            github=gh,
            now=lambda: NOW,
        )

    assert done.branch == "modelreg/digits/production/promote-v2"
    assert done.pull is not None and done.pull.number == 1
    # The working tree, index and current branch are untouched.
    assert repo.git("rev-parse", "HEAD").strip() == head and repo.status() == ""
    # The branch on origin holds one commit on main that changes only the pointer.
    pushed = git(repo.origin, "rev-parse", f"refs/heads/{done.branch}").strip()
    assert pushed == done.commit
    assert git(repo.origin, "rev-parse", f"{pushed}^").strip() == head
    assert git(repo.origin, "diff", "--name-only", head, pushed).split() == [POINTER]
    pointer = git(repo.origin, "show", f"{pushed}:{POINTER}")
    assert "version: 2\nsince: '2026-03-01T12:00:00Z'\nprevious: 1\n" in pointer

    [created] = github.pulls
    assert (created["head"]["ref"], created["base"]["ref"]) == (done.branch, "main")
    assert created["title"] == "Promote digits v2 to production"
    body = created["body"]
    [posted] = [r for r in github.requests if r.method == "POST" and r.path.endswith("/pulls")]
    assert posted.body["body"] == body and posted.headers["authorization"] == "Bearer t0ken"
    assert body.startswith(
        "<!-- modelreg:promote model=digits stage=production version=2 -->\n"
        "## Promote digits v2 to production\n\n**Reason:** fewer false alarms\n\n"
        "Replaces v1 (since 2026-02-01T08:00:00Z); production retires it (archived).\n"
    )
    # The gate results...
    assert "| gate | result | detail |\n|---|---|---|\n" in body
    assert "| not deprecated | pass | v2 is not deprecated |\n" in body
    assert "| accuracy >= 0.9 | pass | 0.902 |\n" in body
    assert (
        "| no accuracy regression | pass | 0.902 vs 0.901 in v1 "
        "(higher is better; 0.01 worse allowed) |\n"
    ) in body
    # ...and the comparison table, current version first.
    assert "### Comparison\n\n|  |  | digits/1 | digits/2 |\n" in body
    assert "| metrics | accuracy | 0.901 | **0.902 (+0.1%)** |\n" in body
    assert "`modelreg rollback digits --stage production`" in body


def test_a_second_open_promotion_of_the_same_stage_is_refused(
    repo: Workspace, github: FakeGitHub
) -> None:
    with client(github) as gh:
        first = promote("digits", 2, "production", repo=repo.root, pr=True, github=gh)
        assert first.pull is not None
        with pytest.raises(ConflictError) as refused:
            promote("digits", 3, "production", repo=repo.root, pr=True, github=gh)
        assert str(refused.value).startswith(
            f"pull request #1 ({first.pull.html_url}) already changes digits's production "
            "pointer; merge or close it first"
        )
        # Another model's promotion does not wait for it.
        other = promote("iris", 1, "production", repo=repo.root, pr=True, github=gh)
    assert other.pull is not None and other.pull.number == 2
    assert len(github.pulls) == 2


def test_a_github_error_leaves_no_branch_behind(repo: Workspace, github: FakeGitHub) -> None:
    # A token that may read pull requests (the open-promotion check) but not open one.
    github.add_token("t0ken", login="modelreg-bot", permissions={"pull_requests": "read"})
    with client(github) as gh, pytest.raises(GitHubError) as refused:
        promote("digits", 2, "production", repo=repo.root, pr=True, github=gh)
    assert "403 Resource not accessible" in str(refused.value)
    assert "the token needs 'pull-requests: write'" in str(refused.value)
    assert github.branch("modelreg/digits/production/promote-v2") is None
    github.add_token("t0ken", login="modelreg-bot")  # every permission modelreg uses
    with client(github) as gh:  # so running it again simply works
        assert promote("digits", 2, "production", repo=repo.root, pr=True, github=gh).pull


def test_the_pull_request_is_opened_by_the_tokens_user(repo: Workspace, github: FakeGitHub) -> None:
    github.add_token("pr-token", login="release-manager")
    with client(github, token="pr-token") as gh:
        promote("digits", 2, "production", repo=repo.root, pr=True, github=gh)
    [created] = github.pulls
    assert created["user"]["login"] == "release-manager" and created["user"]["type"] == "User"


def test_a_rate_limit_is_waited_out_by_the_command(
    repo: Workspace,
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The CLI's client honours a 429's retry-after (0 s here) and gets through."""
    monkeypatch.setenv("GH_TOKEN", "t0ken")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/models")
    monkeypatch.setenv("GITHUB_API_URL", github.url)
    github.throttle(2, retry_after="0")
    args = ["--repo", str(repo.root), "promote", "digits", "2", "--to", "production", "--pr"]
    assert main(args) == 0, capsys.readouterr().err
    assert len(github.pulls) == 1
    # Refused for good, the command says so in one line and leaves no branch.
    github.secondary_limit, github.limit_status, github.retry_after = True, 429, "0"
    args[3:5] = ["iris", "1"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "error: GitHub's secondary rate limit was hit (3 retries did not help): retry after 0 s"
    )
    assert err.count("\n") == 1
    assert github.branch("modelreg/iris/production/promote-v1") is None


def test_bad_credentials_are_one_clear_line(repo: Workspace, github: FakeGitHub) -> None:
    with client(github, token="wrong") as gh, pytest.raises(GitHubError) as failed:
        promote("digits", 2, "production", repo=repo.root, pr=True, github=gh)
    message = str(failed.value)
    assert "401" in message and "GITHUB_TOKEN" in message and "wrong" not in message
    assert "\n" not in message


def _merge_on_origin(repo: Workspace, tmp_path: Path, branch: str, number: int) -> Path:
    """Merge ``branch`` into main on origin, as GitHub's merge button does."""
    clone = tmp_path / f"merger-{number}"
    git(tmp_path, "clone", "-q", str(repo.origin), str(clone))
    git(
        clone,
        "merge",
        "-q",
        "--no-ff",
        "-m",
        f"Merge pull request #{number} from acme/{branch}",
        f"origin/{branch}",
    )
    git(clone, "push", "-q", "origin", "main")
    return clone


def test_rollback_by_pull_request_reverts_the_merged_promotion(
    repo: Workspace, github: FakeGitHub, tmp_path: Path
) -> None:
    before = (repo.root / POINTER).read_bytes()
    with client(github) as gh:
        done = promote("digits", 2, "production", repo=repo.root, pr=True, github=gh)
    assert done.branch is not None
    clone = _merge_on_origin(repo, tmp_path, done.branch, 1)
    merge = git(clone, "rev-parse", "HEAD").strip()

    with client(github) as gh:
        back = rollback(
            "digits", "production", repo=repo.root, pr=True, github=gh, reason="p99 latency doubled"
        )

    assert (back.version, back.rolled_back, back.reverted) == (1, 2, (merge,))
    assert back.branch == "modelreg/digits/production/rollback-to-v1"
    assert git(repo.origin, "show", f"{back.commit}:{POINTER}").encode() == before
    message = git(repo.origin, "log", "-1", "--format=%B", back.commit)
    assert message.startswith(
        'Revert "Merge pull request #1 from acme/modelreg/digits/production/promote-v2"\n\n'
        f"This reverts commit {merge}.\n\np99 latency doubled\n"
    )
    created = github.pulls[-1]
    assert created["title"] == "Roll back digits production to v1"
    assert "**Reason:** p99 latency doubled" in created["body"]
    assert "|  |  | digits/2 | digits/1 |" in created["body"]
    # Merged, the registry on main holds v1 again.
    git(clone, "pull", "-q")
    git(clone, "merge", "-q", "--no-ff", "-m", "Merge pull request #2", f"origin/{back.branch}")
    with Registry.open(clone) as registry:
        pointer = registry.pointer("digits", "production")
    assert pointer is not None and pointer.version == 1


def test_cli_promote_pr_reads_the_token_and_api_from_the_environment(
    repo: Workspace,
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GH_TOKEN", "t0ken")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/models")
    monkeypatch.setenv("GITHUB_API_URL", github.url)
    args = ["--repo", str(repo.root), "promote", "digits", "2", "--to", "production", "--pr"]
    assert main([*args, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["pull_request"]["number"] == 1
    assert document["branch"] == "modelreg/digits/production/promote-v2"
    assert [g["passed"] for g in document["gates"]] == [True, True, True]

    monkeypatch.delenv("GH_TOKEN")
    assert main(args) == 1
    assert capsys.readouterr().err == (
        "error: no GitHub token: set GITHUB_TOKEN or GH_TOKEN to a token that may push "
        "branches and open pull requests\n"
    )
