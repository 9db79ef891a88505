"""The sticky PR comment is found by its marker *and* its author: the token's own login.

Anyone who can comment on a pull request can write ``<!-- modelreg:report -->``.
If the first marked comment were updated whoever wrote it, the pull request's
author could plant one and have CI's report written into a comment they own
(and can edit back after CI ran). Only a comment by the token's identity is
ever edited; GitHub's ``GET /user`` names it, and an installation token (the
``GITHUB_TOKEN`` of a workflow, which has no user) writes as
``github-actions[bot]``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelreg.integrations.github import ACTIONS_BOT, GitHub
from tests.github_server import BODY_LIMIT, FakeGitHub

TOKEN = "t0ken"
MARKER = "<!-- modelreg:report -->"
PLANTED = f"{MARKER}\nAll gates passed :white_check_mark: (trust me)"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(repo="acme/models", token=TOKEN, login="modelreg-bot") as gh:
        gh.add_pull(head="feature", title="A new model")
        yield gh


def bodies(fake: FakeGitHub) -> list[tuple[str, str]]:
    return [(c["user"]["login"], c["body"]) for c in fake.comments]


def test_a_marked_comment_by_the_pr_author_is_never_edited(fake: FakeGitHub) -> None:
    fake.add_comment(1, PLANTED, login="mallory")

    with GitHub("acme/models", TOKEN, api_url=fake.url) as github:
        first = github.upsert_comment(1, "accuracy 0.91", marker=MARKER)
        second = github.upsert_comment(1, "accuracy 0.93", marker=MARKER)

    assert first.id == second.id and second.author == "modelreg-bot"
    assert bodies(fake) == [
        ("mallory", PLANTED),
        ("modelreg-bot", f"{MARKER}\naccuracy 0.93"),
    ]
    assert fake.paths("PATCH") == [f"/repos/acme/models/issues/comments/{first.id}"]
    assert fake.paths("GET").count("/user") == 1  # asked once per client


def test_a_humans_marked_comment_is_left_alone_even_when_it_is_the_only_one(
    fake: FakeGitHub,
) -> None:
    """The reviewer quoted the report, marker and all: theirs stays as they wrote it."""
    fake.add_token("reviewer-token", login="octocat")
    with GitHub("acme/models", "reviewer-token", api_url=fake.url) as reviewer:
        quoted = reviewer.create_comment(1, f"> {MARKER}\n> accuracy 0.91\n\nwhy lower?")

    with GitHub("acme/models", TOKEN, api_url=fake.url) as github:
        ours = github.upsert_comment(1, "accuracy 0.93", marker=MARKER)

    assert ours.id != quoted.id and ours.author == "modelreg-bot"
    assert fake.paths("PATCH") == []
    assert bodies(fake) == [
        ("octocat", f"> {MARKER}\n> accuracy 0.91\n\nwhy lower?"),
        ("modelreg-bot", f"{MARKER}\naccuracy 0.93"),
    ]
    assert fake.comments[0]["user"]["type"] == "User"


def test_a_huge_report_still_posts_cut_to_githubs_limit(fake: FakeGitHub) -> None:
    """GitHub refuses a comment over 65,536 characters (422): the report is cut, with a
    line saying where the rest is, and posted; the next run edits it in place."""
    report = "\n".join(f"| digits/{i} | accuracy | 0.9{i % 10} |" for i in range(10_000))
    assert len(report) > 3 * BODY_LIMIT
    with GitHub("acme/models", TOKEN, api_url=fake.url) as github:
        first = github.upsert_comment(1, report, marker=MARKER)
        second = github.upsert_comment(1, "short now", marker=MARKER)
    assert first.id == second.id
    assert len(fake.comments) == 1
    [posted] = [r.body["body"] for r in fake.requests if r.method == "POST"]
    assert len(posted) <= BODY_LIMIT
    assert posted.endswith("*(cut: the full report is in the job summary)*\n")


def test_logins_compare_without_case(fake: FakeGitHub) -> None:
    mine = fake.add_comment(1, f"{MARKER}\nold", login="ModelReg-Bot")
    with GitHub("acme/models", TOKEN, api_url=fake.url) as github:
        done = github.upsert_comment(1, "new", marker=MARKER)
    assert done.id == mine["id"] and len(fake.comments) == 1


def test_an_installation_token_writes_as_github_actions(fake: FakeGitHub) -> None:
    """GET /user answers 403 for an app's token: it is taken to be GitHub Actions'."""
    fake.add_token(TOKEN, login=None)
    fake.add_comment(1, PLANTED, login="mallory")
    ours = fake.add_comment(1, f"{MARKER}\nlast run", login=ACTIONS_BOT)

    with GitHub("acme/models", TOKEN, api_url=fake.url) as github:
        assert github.token_login() == "github-actions[bot]"
        done = github.upsert_comment(1, "this run", marker=MARKER)

    assert done.id == ours["id"]
    assert bodies(fake) == [("mallory", PLANTED), (ACTIONS_BOT, f"{MARKER}\nthis run")]


def test_an_explicit_author_is_not_asked_of_github(fake: FakeGitHub) -> None:
    fake.add_token(TOKEN, login=None)
    fake.app_slug = "release-bot"
    fake.add_comment(1, f"{MARKER}\nby actions", login=ACTIONS_BOT)

    with GitHub("acme/models", TOKEN, api_url=fake.url) as github:
        first = github.upsert_comment(1, "one", marker=MARKER, author="release-bot[bot]")
        second = github.upsert_comment(1, "two", marker=MARKER, author="release-bot[bot]")

    assert first.id == second.id
    assert bodies(fake) == [
        (ACTIONS_BOT, f"{MARKER}\nby actions"),
        ("release-bot[bot]", f"{MARKER}\ntwo"),
    ]
    assert "/user" not in fake.paths()


def test_the_installed_command_leaves_a_planted_comment_alone(
    fake: FakeGitHub, empty_repo: Path, modelreg_exe: str, tmp_path: Path
) -> None:
    fake.add_comment(1, PLANTED, login="mallory")
    fake.add_token("other-token", login="octocat")
    report = tmp_path / "report.md"
    env = {
        **os.environ,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": "acme/models",
        "GITHUB_API_URL": fake.url,
    }
    env.pop("MODELREG_COMMENT_AUTHOR", None)

    def run(text: str, *extra: str, token: str = TOKEN) -> None:
        report.write_text(f"{MARKER}\n{text}\n")
        done = subprocess.run(
            [modelreg_exe, "comment", "--pr", "1", "--file", str(report), *extra],
            cwd=empty_repo,
            capture_output=True,
            text=True,
            check=False,
            env={**env, "GITHUB_TOKEN": token},
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("comment on #1: https://github.com/acme/models/pull/1#")

    run("first")
    run("second")
    run("by another identity", token="other-token")

    assert bodies(fake) == [
        ("mallory", PLANTED),
        ("modelreg-bot", f"{MARKER}\nsecond\n"),
        ("octocat", f"{MARKER}\nby another identity\n"),
    ]
