"""The GitHub client against a fake GitHub over real HTTP on loopback."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from modelreg.core.errors import GitHubError, ModelregError
from modelreg.integrations.github import COMMENT_LIMIT, Comment, GitHub, PullRequest
from tests.conftest import git
from tests.github_server import BODY_LIMIT, FakeGitHub

TOKEN = "t0ken"
MARKER = "<!-- modelreg:report -->"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(repo="acme/models", token=TOKEN) as gh:
        yield gh


@pytest.fixture
def naps() -> list[float]:
    """The waits the client asked for (it never really sleeps in these tests)."""
    return []


def napper(naps: list[float]) -> Callable[[float], None]:
    """A sleep that records the wait; an endless retry loop fails here, not hangs."""

    def nap(seconds: float) -> None:
        assert len(naps) < 5, "retried without end"
        naps.append(seconds)

    return nap


@pytest.fixture
def client(fake: FakeGitHub, naps: list[float]) -> Iterator[GitHub]:
    with GitHub("acme/models", TOKEN, api_url=fake.url, sleep=napper(naps)) as github:
        yield github


@pytest.fixture
def origin(tmp_path: Path, empty_repo: Path) -> Path:
    """A bare repository whose main branch holds ``empty_repo``'s one commit."""
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(empty_repo, "push", "-q", str(bare), "main")
    return bare


@pytest.fixture
def fake_origin(origin: Path) -> Iterator[FakeGitHub]:
    with FakeGitHub(repo="acme/models", token=TOKEN, origin=origin) as gh:
        yield gh


def push_branch(work: Path, origin: Path, branch: str) -> str:
    """A new commit on ``branch`` in origin; returns its id."""
    git(work, "commit", "-q", "--allow-empty", "-m", f"change on {branch}")
    sha = git(work, "rev-parse", "HEAD").strip()
    git(work, "push", "-q", str(origin), f"HEAD:refs/heads/{branch}")
    return sha


def origin_sha(origin: Path, branch: str) -> str | None:
    done = git(origin, "for-each-ref", "--format=%(objectname)", f"refs/heads/{branch}")
    return done.strip() or None


def raised(excinfo: pytest.ExceptionInfo[GitHubError]) -> str:
    """The error's message, checked to be one line that a user can read."""
    message = str(excinfo.value)
    assert isinstance(excinfo.value, ModelregError)
    assert "\n" not in message
    assert TOKEN not in message
    return message


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- pull requests ------------------------------------------------------------------------


def test_create_pull_posts_the_pull_request(
    fake_origin: FakeGitHub, origin: Path, empty_repo: Path
) -> None:
    head_sha = push_branch(empty_repo, origin, "modelreg/promote/resnet@prod")
    with GitHub("acme/models", TOKEN, api_url=fake_origin.url) as github:
        pull = github.create_pull(
            head="modelreg/promote/resnet@prod",
            base="main",
            title="Promote resnet v3 to prod",
            body="Gates passed.\n\n| metric | value |",
        )

    assert pull == PullRequest(
        number=1,
        html_url="https://github.com/acme/models/pull/1",
        head="modelreg/promote/resnet@prod",
        base="main",
        title="Promote resnet v3 to prod",
        state="open",
    )
    (request,) = fake_origin.requests
    assert request.method == "POST"
    assert request.path == "/repos/acme/models/pulls"
    assert request.body == {
        "head": "modelreg/promote/resnet@prod",
        "base": "main",
        "title": "Promote resnet v3 to prod",
        "body": "Gates passed.\n\n| metric | value |",
        "draft": False,
    }
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["x-github-api-version"] == "2022-11-28"
    assert request.headers["user-agent"] == "modelreg"
    (stored,) = fake_origin.pulls
    assert stored["body"] == "Gates passed.\n\n| metric | value |"
    assert stored["head"]["sha"] == head_sha
    assert stored["draft"] is False


def test_create_pull_as_draft(client: GitHub, fake: FakeGitHub) -> None:
    fake.branches["feature"] = "a" * 40
    client.create_pull(head="feature", base="main", title="WIP", body="", draft=True)
    assert fake.requests[-1].body["draft"] is True
    assert fake.pulls[0]["draft"] is True


def test_pulls_follow_the_link_header_across_pages(client: GitHub, fake: FakeGitHub) -> None:
    for i in range(250):
        fake.add_pull(head=f"branch-{i}", title=f"Change {i}")

    pulls = list(client.pulls())

    # GitHub lists the newest first.
    assert [p.number for p in pulls] == list(range(250, 0, -1))
    assert pulls[-1].head == "branch-0"
    assert pulls[-1].title == "Change 0"
    paths = [r.path for r in fake.requests]
    assert paths == [
        "/repos/acme/models/pulls?state=open&per_page=100",
        "/repos/acme/models/pulls?state=open&per_page=100&page=2",
        "/repos/acme/models/pulls?state=open&per_page=100&page=3",
    ]


def test_pulls_of_an_empty_repository(client: GitHub, fake: FakeGitHub) -> None:
    assert list(client.pulls()) == []
    assert len(fake.requests) == 1


def test_pulls_filter_by_head_base_and_state(client: GitHub, fake: FakeGitHub) -> None:
    fake.add_pull(head="promote/a", base="main")
    fake.add_pull(head="promote/b", base="release")
    fake.add_pull(head="promote/a", base="main", state="closed")
    fake.add_pull(head="promote/c", base="main")

    assert [p.number for p in client.pulls(head="promote/a")] == [1]
    # The owner goes in front of a bare branch name: GitHub ignores a filter without it.
    assert "head=acme%3Apromote%2Fa" in fake.requests[-1].path
    assert [p.number for p in client.pulls(head="acme:promote/a", state="all")] == [3, 1]
    assert [p.number for p in client.pulls(base="release")] == [2]
    assert [p.number for p in client.pulls(base="main")] == [4, 1]
    closed = list(client.pulls(state="closed"))
    assert [(p.number, p.state) for p in closed] == [(3, "closed")]
    assert list(client.pulls(head="promote/none")) == []


# --- comments ---------------------------------------------------------------------------


def test_sticky_comment_is_created_once_then_updated_in_place(
    client: GitHub, fake: FakeGitHub
) -> None:
    fake.add_pull(head="promote/a")
    human = client.create_comment(1, "Looks good to me")

    first = client.upsert_comment(1, "accuracy 0.91", marker=MARKER)
    second = client.upsert_comment(1, f"{MARKER}\naccuracy 0.93", marker=MARKER)

    assert first.id == second.id != human.id
    assert first.body == f"{MARKER}\naccuracy 0.91"  # the marker was added
    assert second == Comment(
        id=first.id,
        html_url=f"https://github.com/acme/models/pull/1#issuecomment-{first.id}",
        body=f"{MARKER}\naccuracy 0.93",
    )
    assert [c["body"] for c in fake.comments] == ["Looks good to me", f"{MARKER}\naccuracy 0.93"]
    # The token's login is asked for once (GET /user), then each run lists and writes.
    assert [r.method for r in fake.requests] == ["POST", "GET", "GET", "POST", "GET", "PATCH"]
    assert fake.paths()[1] == "/user"
    assert fake.requests[-1].path == f"/repos/acme/models/issues/comments/{first.id}"

    # The same report again changes nothing.
    again = client.upsert_comment(1, "accuracy 0.93", marker=MARKER)
    assert again == second
    assert fake.requests[-1].method == "GET"


def test_comments_are_paginated_oldest_first(client: GitHub, fake: FakeGitHub) -> None:
    fake.add_pull(head="promote/a")
    fake.add_pull(head="promote/b")
    created = [client.create_comment(1, f"comment {i}") for i in range(130)]
    client.create_comment(2, "elsewhere")

    listed = list(client.comments(1))

    assert listed == created
    assert [r.path for r in fake.requests[-2:]] == [
        "/repos/acme/models/issues/1/comments?per_page=100",
        "/repos/acme/models/issues/1/comments?per_page=100&page=2",
    ]
    # The marker is searched across pages: the last comment is found and updated.
    client.update_comment(created[-1].id, f"{MARKER} old")
    updated = client.upsert_comment(1, "new", marker=MARKER)
    assert updated.id == created[-1].id
    assert len(fake.comments) == 131


def test_github_refuses_a_comment_over_its_size_limit(client: GitHub, fake: FakeGitHub) -> None:
    fake.add_pull(head="promote/a")
    with pytest.raises(GitHubError) as excinfo:
        client.create_comment(1, "x" * (BODY_LIMIT + 1))
    assert raised(excinfo) == (
        "GitHub could not process the comment on #1 (422 Validation Failed): "
        "Body is too long (maximum is 65536 characters)"
    )
    assert client.create_comment(1, "x" * BODY_LIMIT).body == "x" * BODY_LIMIT


def test_a_huge_report_is_cut_to_fit_and_still_posts(client: GitHub, fake: FakeGitHub) -> None:
    fake.add_pull(head="promote/a")
    report = "| metric | value |\n" + "| accuracy | 0.91 |\n" * 20_000  # 400,000 characters

    posted = client.upsert_comment(1, report, marker=MARKER)
    again = client.upsert_comment(1, report + "| recall | 0.8 |\n", marker=MARKER)

    assert again.id == posted.id and len(fake.comments) == 1
    body = fake.comments[0]["body"]
    assert len(body) <= BODY_LIMIT and body.startswith(f"{MARKER}\n| metric | value |")
    assert body.endswith("*(cut: the full report is in the job summary)*\n")
    assert fake.paths("PATCH") == []  # the cut text is the same: nothing to edit


def test_a_huge_pull_request_body_is_cut_to_fit(client: GitHub, fake: FakeGitHub) -> None:
    fake.branches["feature"] = "a" * 40
    client.create_pull(head="feature", base="main", title="t", body="y" * 100_000)
    body = fake.pulls[0]["body"]
    assert len(body) <= BODY_LIMIT and body.startswith("y" * COMMENT_LIMIT)
    assert body.endswith("*(cut: the full report is in the job summary)*\n")


def test_comment_on_a_missing_pull_request(client: GitHub) -> None:
    with pytest.raises(GitHubError) as excinfo:
        client.create_comment(7, "hello")
    assert raised(excinfo) == (
        "GitHub has no pull request or issue #7 at /repos/acme/models/issues/7/comments (404): "
        "check the repository name acme/models and that the token can see it"
    )


def test_update_a_missing_comment(client: GitHub) -> None:
    with pytest.raises(GitHubError, match=r"GitHub has no comment 5 at .*comments/5 \(404\)"):
        client.update_comment(5, "x")


# --- branches ---------------------------------------------------------------------------


def test_branches_read_and_write_origin(
    fake_origin: FakeGitHub, origin: Path, empty_repo: Path
) -> None:
    main = origin_sha(origin, "main")
    feature = push_branch(empty_repo, origin, "feature")
    branch = "modelreg/promote/resnet@prod"
    with GitHub("acme/models", TOKEN, api_url=fake_origin.url) as github:
        assert github.branch_sha("main") == main
        assert github.branch_sha("feature") == feature
        assert github.branch_sha(branch) is None

        github.create_branch(branch, feature)
        assert origin_sha(origin, branch) == feature
        assert github.branch_sha(branch) == feature
        assert fake_origin.requests[-2].body == {"ref": f"refs/heads/{branch}", "sha": feature}
        assert fake_origin.requests[-1].path == (
            "/repos/acme/models/git/ref/heads/modelreg/promote/resnet%40prod"
        )

        with pytest.raises(GitHubError) as excinfo:
            github.create_branch(branch, feature)
        assert raised(excinfo) == (
            f"GitHub could not process branch '{branch}' at {feature[:12]} "
            "(422 Reference already exists)"
        )

        github.delete_branch(branch)
        assert origin_sha(origin, branch) is None
        assert github.branch_sha(branch) is None
        assert origin_sha(origin, "main") == main

        with pytest.raises(GitHubError, match=r"\(422 Reference does not exist\)"):
            github.delete_branch(branch)
        with pytest.raises(GitHubError, match=r"\(422 Object does not exist\)"):
            github.create_branch("other", "0123456789" * 4)


def test_branches_without_origin_live_in_a_dict(client: GitHub, fake: FakeGitHub) -> None:
    sha = "b" * 40
    client.create_branch("release/1.0", sha)
    assert fake.branches == {"main": "f" * 40, "release/1.0": sha}
    assert client.branch_sha("release/1.0") == sha
    client.delete_branch("release/1.0")
    assert client.branch_sha("release/1.0") is None


# --- errors -----------------------------------------------------------------------------


def test_bad_token(fake: FakeGitHub) -> None:
    secret = "ghp_wrongSecretToken123"
    with (
        GitHub("acme/models", secret, api_url=fake.url) as github,
        pytest.raises(GitHubError) as excinfo,
    ):
        list(github.pulls())
    message = raised(excinfo)
    assert message == (
        "GitHub rejected the token (401 Bad credentials): check GITHUB_TOKEN or GH_TOKEN"
    )
    assert secret not in message
    assert fake.requests[0].headers["authorization"] == f"Bearer {secret}"


def test_token_without_permission(fake: FakeGitHub) -> None:
    """A workflow's GITHUB_TOKEN granted only 'contents: read' may read branches, but
    not open a pull request nor comment: GitHub's 403, and what the token lacks."""
    fake.branches["feature"] = "a" * 40
    fake.add_pull(head="other")
    token = fake.installation_token({"contents": "read"})
    with GitHub("acme/models", token, api_url=fake.url) as github:
        assert github.branch_sha("feature") == "a" * 40
        with pytest.raises(GitHubError) as excinfo:
            github.create_pull(head="feature", base="main", title="t", body="")
        assert raised(excinfo) == (
            "GitHub refused POST /repos/acme/models/pulls (403 Resource not accessible by "
            "integration): the token needs 'pull-requests: write' on acme/models"
        )
        with pytest.raises(GitHubError) as excinfo:
            github.upsert_comment(1, "report", marker=MARKER)
        assert raised(excinfo).endswith(
            "the token needs 'issues: read' or 'pull-requests: read' on acme/models"
        )
        with pytest.raises(GitHubError, match=r"needs 'contents: write'"):
            github.create_branch("new", "a" * 40)
    assert len(fake.pulls) == 1 and fake.comments == []
    assert fake.branches == {"main": "f" * 40, "feature": "a" * 40}


def test_the_forbidden_body_is_githubs(fake: FakeGitHub) -> None:
    fake.add_token("pat", login="octocat", permissions={"contents": "write"})
    answer = httpx.post(
        f"{fake.url}/repos/acme/models/pulls",
        json={"head": "x", "base": "main", "title": "t"},
        headers={"Authorization": "Bearer pat"},
    )
    assert answer.status_code == 403
    assert answer.json() == {
        "message": "Resource not accessible by personal access token",
        "documentation_url": "https://docs.github.com/rest",
        "status": "403",
    }
    assert answer.headers["x-accepted-github-permissions"] == "pull_requests=write"
    unknown = httpx.get(
        f"{fake.url}/repos/acme/models/pulls", headers={"Authorization": "Bearer x"}
    )
    assert (unknown.status_code, unknown.json()["message"]) == (401, "Bad credentials")


def test_what_a_token_writes_is_by_its_identity(fake: FakeGitHub) -> None:
    fake.branches.update({"a": "a" * 40, "b": "b" * 40})
    fake.add_token("human", login="octocat")
    actions = fake.installation_token({"contents": "write", "pull-requests": "write"})
    with GitHub("acme/models", "human", api_url=fake.url) as github:
        github.create_pull(head="a", base="main", title="by a person", body="")
        github.create_comment(1, "a person's")
    with GitHub("acme/models", actions, api_url=fake.url) as github:
        github.create_pull(head="b", base="main", title="by a workflow", body="")
        github.create_comment(1, "a workflow's")
        assert github.token_login() == "github-actions[bot]"
    users = [(p["user"]["login"], p["user"]["type"]) for p in fake.pulls + fake.comments]
    assert users == [
        ("octocat", "User"),
        ("github-actions[bot]", "Bot"),
        ("octocat", "User"),
        ("github-actions[bot]", "Bot"),
    ]


def test_primary_rate_limit_says_when_it_resets(client: GitHub, fake: FakeGitHub) -> None:
    fake.rate_limited = True
    fake.rate_limit_reset = int(time.time()) + 600
    clock = time.strftime("%H:%M:%S", time.gmtime(fake.rate_limit_reset))
    with pytest.raises(GitHubError) as excinfo:
        list(client.pulls())
    message = raised(excinfo)
    assert message.startswith(
        f"GitHub API rate limit exceeded for this token (limit 5000); it resets at {clock} UTC, in "
    )
    seconds = int(message.rsplit(" in ", 1)[1].removesuffix(" s"))
    assert 590 <= seconds <= 600
    assert len(fake.requests) == 1  # no retry: ten minutes is longer than it waits


def test_secondary_rate_limit_is_retried_then_says_when_to_retry(
    client: GitHub, fake: FakeGitHub, naps: list[float]
) -> None:
    fake.secondary_limit = True
    with pytest.raises(GitHubError) as excinfo:
        client.create_comment(1, "hi")
    message = raised(excinfo)
    assert message.startswith(
        "GitHub's secondary rate limit was hit (3 retries did not help): retry after 60 s ("
    )
    assert "You have exceeded a secondary rate limit" in message
    assert len(fake.requests) == 4 and naps == [60.0, 60.0, 60.0]


def test_a_429_is_retried_after_its_retry_after(
    client: GitHub, fake: FakeGitHub, naps: list[float]
) -> None:
    fake.branches["feature"] = "a" * 40
    fake.throttle(2, retry_after="7")

    pull = client.create_pull(head="feature", base="main", title="t", body="b")

    assert pull.number == 1 and len(fake.pulls) == 1
    assert naps == [7.0, 7.0]
    assert [r.method for r in fake.requests] == ["POST", "POST", "POST"]


def test_a_primary_limit_that_resets_soon_is_waited_out(
    client: GitHub, fake: FakeGitHub, naps: list[float]
) -> None:
    fake.throttle(1, status=403, reset_in=5)
    assert list(client.pulls()) == []
    [wait] = naps
    assert 4.0 <= wait <= 6.0
    assert len(fake.requests) == 2


def test_a_429_without_retry_after_waits_a_minute(
    client: GitHub, fake: FakeGitHub, naps: list[float]
) -> None:
    fake.throttle(1, retry_after=None)
    assert client.branch_sha("main") == "f" * 40
    assert naps == [60.0]


def test_retries_are_bounded(fake: FakeGitHub) -> None:
    naps: list[float] = []
    nap = napper(naps)
    fake.secondary_limit, fake.limit_status, fake.retry_after = True, 429, "0"
    with (
        GitHub("acme/models", TOKEN, api_url=fake.url, retries=1, sleep=nap) as github,
        pytest.raises(GitHubError) as excinfo,
    ):
        list(github.comments(1))
    assert raised(excinfo).startswith(
        "GitHub's secondary rate limit was hit (1 retries did not help): retry after 0 s ("
    )
    assert naps == [0.0] and len(fake.requests) == 2
    # A wait longer than the client's longest is not waited: reported at once.
    fake.retry_after = "3600"
    with (
        GitHub("acme/models", TOKEN, api_url=fake.url, sleep=nap) as github,
        pytest.raises(GitHubError, match=r"^GitHub's secondary rate limit was hit: retry after"),
    ):
        list(github.comments(1))
    assert naps == [0.0] and len(fake.requests) == 3


def test_the_real_sleep_honours_a_one_second_retry_after(fake: FakeGitHub) -> None:
    fake.throttle(1, retry_after="1")
    with GitHub("acme/models", TOKEN, api_url=fake.url) as github:
        started = time.monotonic()
        assert github.branch_sha("main") == "f" * 40
        assert time.monotonic() - started >= 0.95


def test_wrong_repository(fake: FakeGitHub) -> None:
    with (
        GitHub("acme/other", TOKEN, api_url=fake.url) as github,
        pytest.raises(GitHubError) as excinfo,
    ):
        list(github.pulls())
    assert raised(excinfo) == (
        "GitHub has no repository at /repos/acme/other/pulls (404): check the repository "
        "name acme/other and that the token can see it"
    )


def test_duplicate_pull_request(client: GitHub, fake: FakeGitHub) -> None:
    fake.branches["promote/a"] = "c" * 40
    client.create_pull(head="promote/a", base="main", title="one", body="")
    with pytest.raises(GitHubError) as excinfo:
        client.create_pull(head="promote/a", base="main", title="two", body="")
    assert raised(excinfo) == (
        "GitHub could not process the pull request from 'promote/a' into 'main' "
        "(422 Validation Failed): A pull request already exists for acme:promote/a."
    )
    assert len(fake.pulls) == 1


def test_pull_request_with_no_commits_between(
    fake_origin: FakeGitHub, origin: Path, empty_repo: Path
) -> None:
    git(empty_repo, "push", "-q", str(origin), "HEAD:refs/heads/same-as-main")
    with (
        GitHub("acme/models", TOKEN, api_url=fake_origin.url) as github,
        pytest.raises(GitHubError) as excinfo,
    ):
        github.create_pull(head="same-as-main", base="main", title="t", body="")
    assert raised(excinfo) == (
        "cannot open a pull request from 'same-as-main' into 'main': 'same-as-main' has no "
        "commit that 'main' lacks (GitHub 422: no commits between them); push the change "
        "to 'same-as-main' first"
    )
    assert fake_origin.pulls == []
    # What GitHub answered, as GitHub words it.
    raw = httpx.post(
        f"{fake_origin.url}/repos/acme/models/pulls",
        json={"head": "same-as-main", "base": "main", "title": "t"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert raw.status_code == 422
    assert raw.json()["errors"] == [
        {
            "resource": "PullRequest",
            "code": "custom",
            "message": "No commits between main and same-as-main",
        }
    ]


def test_pull_request_from_a_missing_branch(fake_origin: FakeGitHub) -> None:
    with (
        GitHub("acme/models", TOKEN, api_url=fake_origin.url) as github,
        pytest.raises(GitHubError) as excinfo,
    ):
        github.create_pull(head="never-pushed", base="main", title="t", body="")
    assert raised(excinfo) == (
        "GitHub could not process the pull request from 'never-pushed' into 'main' "
        "(422 Validation Failed): PullRequest head invalid"
    )
    assert fake_origin.pulls == []


def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with GitHub("acme/models", TOKEN, api_url=url) as github, pytest.raises(GitHubError) as excinfo:
        github.create_pull(head="a", base="main", title="t", body="")
    assert raised(excinfo).startswith(f"cannot reach the GitHub API at {url}: ")


def test_no_answer_in_time() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with (
            GitHub("acme/models", TOKEN, api_url=url, timeout=0.2) as github,
            pytest.raises(GitHubError) as excinfo,
        ):
            github.branch_sha("main")
    assert raised(excinfo) == f"cannot reach the GitHub API at {url}: no answer within 0.2 s"


def mock(handler: httpx.MockTransport) -> GitHub:
    return GitHub("acme/models", TOKEN, api_url="https://api.example.test", transport=handler)


def test_server_error_with_an_html_page() -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(
            502, text="<html><body>Bad gateway</body></html>", headers={"content-type": "text/html"}
        )
    )
    with mock(transport) as github, pytest.raises(GitHubError) as excinfo:
        list(github.pulls())
    assert raised(excinfo) == "GitHub answered 502 to GET /repos/acme/models/pulls: Bad Gateway"


def test_success_without_the_expected_json() -> None:
    answers = iter(
        [
            httpx.Response(201, text="created"),
            httpx.Response(201, json={"id": 3}),
            httpx.Response(200, json={"items": []}),
        ]
    )
    with mock(httpx.MockTransport(lambda request: next(answers))) as github:
        with pytest.raises(GitHubError) as excinfo:
            github.create_pull(head="a", base="main", title="t", body="")
        assert raised(excinfo) == (
            "GitHub answered POST /repos/acme/models/pulls with 201 but no JSON body"
        )
        with pytest.raises(GitHubError, match=r"is not a pull request \(got an object \['id'\]\)"):
            github.create_pull(head="a", base="main", title="t", body="")
        with pytest.raises(GitHubError, match=r"GET /repos/acme/models/pulls is not a list"):
            list(github.pulls())


def test_next_page_link_to_another_host_is_not_followed() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(
            200, json=[], headers={"link": '<https://elsewhere.test/steal?page=2>; rel="next"'}
        )

    with mock(httpx.MockTransport(answer)) as github, pytest.raises(GitHubError) as excinfo:
        list(github.pulls())
    assert "leaves https://api.example.test" in raised(excinfo)
    assert len(seen) == 1


# --- from_environment -------------------------------------------------------------------


def test_from_environment_in_github_actions(fake: FakeGitHub) -> None:
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": "acme/models", "GITHUB_API_URL": fake.url}
    with GitHub.from_environment(env=env) as github:
        assert (github.repo, github.api_url) == ("acme/models", fake.url)
        assert list(github.pulls()) == []


def test_from_environment_falls_back_to_gh_token(fake: FakeGitHub) -> None:
    env = {"GITHUB_TOKEN": "", "GH_TOKEN": TOKEN, "GITHUB_API_URL": fake.url}
    with GitHub.from_environment("acme/models", env=env) as github:
        list(github.pulls())
    assert fake.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_from_environment_prefers_github_token(fake: FakeGitHub) -> None:
    env = {"GITHUB_TOKEN": TOKEN, "GH_TOKEN": "other", "GITHUB_API_URL": fake.url}
    with GitHub.from_environment("acme/models", env=env) as github:
        list(github.pulls())
    assert fake.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_from_environment_without_a_token() -> None:
    with pytest.raises(GitHubError) as excinfo:
        GitHub.from_environment("acme/models", env={"GITHUB_REPOSITORY": "acme/models"})
    assert raised(excinfo) == (
        "no GitHub token: set GITHUB_TOKEN or GH_TOKEN to a token that may push branches "
        "and open pull requests"
    )


def test_from_environment_without_a_repository() -> None:
    with pytest.raises(GitHubError, match=r"^no GitHub repository: pass --github-repo"):
        GitHub.from_environment(env={"GH_TOKEN": TOKEN})


@pytest.mark.parametrize(
    ("repo", "env", "source"),
    [
        ("acme", {}, "--github-repo"),
        ("acme/models/extra", {}, "--github-repo"),
        (None, {"GITHUB_REPOSITORY": "acme/mod els"}, "GITHUB_REPOSITORY"),
        (None, {"MODELREG_GITHUB_REPOSITORY": "acme/.."}, "MODELREG_GITHUB_REPOSITORY"),
        (None, {"GITHUB_REPOSITORY": "https://github.com/acme/models"}, "GITHUB_REPOSITORY"),
    ],
)
def test_from_environment_refuses_a_bad_repository_name(
    repo: str | None, env: dict[str, str], source: str
) -> None:
    bad = repo or next(iter(env.values()))
    with pytest.raises(GitHubError) as excinfo:
        GitHub.from_environment(repo, env={"GITHUB_TOKEN": TOKEN, **env})
    assert raised(excinfo) == (
        f"{source} is {bad!r}, not a GitHub repository: expected OWNER/NAME "
        "(letters, digits, '-', '_' and '.')"
    )


def test_from_environment_repository_precedence() -> None:
    env = {
        "GITHUB_TOKEN": TOKEN,
        "MODELREG_GITHUB_REPOSITORY": "acme/registry",
        "GITHUB_REPOSITORY": "acme/app",
    }
    with GitHub.from_environment(env=env) as github:
        assert github.repo == "acme/registry"
        assert github.api_url == "https://api.github.com"
    with GitHub.from_environment("acme/given", env=env) as github:
        assert github.repo == "acme/given"


def test_from_environment_github_enterprise_url() -> None:
    with FakeGitHub(repo="acme/models", token=TOKEN, prefix="/api/v3") as ghe:
        for i in range(150):
            ghe.add_pull(head=f"b{i}")
        env = {
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_REPOSITORY": "acme/models",
            "GITHUB_API_URL": ghe.url + "/",
        }
        with GitHub.from_environment(env=env) as github:
            assert github.api_url == ghe.url
            assert ghe.url.endswith("/api/v3")
            assert len(list(github.pulls())) == 150
            ghe.branches["promote/a"] = "d" * 40
            pull = github.create_pull(head="promote/a", base="main", title="t", body="b")
    assert pull.number == 151
    assert [r.path.split("?")[0] for r in ghe.requests] == [
        "/api/v3/repos/acme/models/pulls",
        "/api/v3/repos/acme/models/pulls",
        "/api/v3/repos/acme/models/pulls",
    ]


def test_api_url_argument_beats_the_environment(fake: FakeGitHub) -> None:
    env = {
        "GITHUB_TOKEN": TOKEN,
        "MODELREG_GITHUB_API_URL": "https://ghe.example.test/api/v3",
        "GITHUB_API_URL": "https://wrong.example.test",
    }
    with GitHub.from_environment("acme/models", env=env) as github:
        assert github.api_url == "https://ghe.example.test/api/v3"
    with GitHub.from_environment("acme/models", api_url=fake.url + "/", env=env) as github:
        assert github.api_url == fake.url
        assert list(github.pulls()) == []


@pytest.mark.parametrize("url", ["api.github.com", "ftp://ghe.example.test", "https://"])
def test_from_environment_refuses_a_bad_api_url(url: str) -> None:
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": url}
    with pytest.raises(GitHubError) as excinfo:
        GitHub.from_environment("acme/models", env=env)
    assert raised(excinfo).startswith(f"GITHUB_API_URL is {url!r}, not an API URL")


def test_cli_comment_keeps_one_sticky_comment(
    fake: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from modelreg.cli import cli

    number = fake.add_pull(head="modelreg/x", title="x")["number"]
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/models")
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    report = tmp_path / "report.md"
    runner = CliRunner()
    for text in ("<!-- modelreg:report -->\nfirst\n", "<!-- modelreg:report -->\nsecond\n"):
        report.write_text(text)
        done = runner.invoke(cli, ["comment", "--pr", str(number), "--file", str(report)])
        assert done.exit_code == 0, done.output
        assert done.output.startswith(f"comment on #{number}: http")
    # Piped in, with its own marker: a second comment beside the report's.
    done = runner.invoke(
        cli, ["comment", "--pr", str(number), "--marker", "<!-- other -->"], input="hello\n"
    )
    assert done.exit_code == 0, done.output
    assert [c["body"] for c in fake.comments] == [
        "<!-- modelreg:report -->\nsecond\n",
        "<!-- other -->\nhello\n",
    ]
    empty = runner.invoke(cli, ["comment", "--pr", str(number)], input="  \n")
    assert empty.exit_code == 2 and "the comment is empty" in empty.output
    bad = runner.invoke(cli, ["comment", "--pr", "1", "--marker", "x"], input="a")
    assert bad.exit_code == 2 and "--marker must be an HTML comment" in bad.output
    long = runner.invoke(cli, ["comment", "--pr", str(number)], input="y" * 70_000)
    assert long.exit_code == 0, long.output
    assert fake.comments[0]["body"].endswith("*(cut: the full report is in the job summary)*\n")
    assert len(fake.comments[0]["body"]) < 65_536
