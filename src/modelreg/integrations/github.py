"""The one place modelreg talks to GitHub: its REST API, over httpx.

:class:`GitHub` is the seam: it is built from a repository (``OWNER/NAME``), a
token and an API root, and callers (promotion and rollback pull requests) take
one as an argument. Tests run it against a fake GitHub on loopback
(``tests/github_server.py``); ``transport`` swaps the network for anything else
httpx accepts. GitHub Enterprise works through ``api_url``
(``https://HOST/api/v3``), which Actions runners pass in ``GITHUB_API_URL``.

Every failure is a :class:`GitHubError` with a one-line message that says what
GitHub answered and what to change; neither the token nor credentials in a URL
ever appear in one. The token is sent only over https, or plain http to this
machine (localhost, 127.0.0.1, ::1: a test server or a tunnel). A rate limit that
GitHub says lifts soon (``retry-after``, or a primary limit that resets within
``max_wait`` seconds) is waited out and the request sent again, at most ``retries``
times; any other refusal, or a limit that outlasts that, is reported at once with
when to try again. httpx is imported only when a client is built, so the CLI
starts fast.
"""

from __future__ import annotations

import ipaddress
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from modelreg.core.errors import GitHubError
from modelreg.core.redact import redact_text, redact_uri

if TYPE_CHECKING:
    from types import TracebackType

    import httpx

__all__ = ["Comment", "GitHub", "PullRequest"]

DEFAULT_API_URL = "https://api.github.com"
_API_VERSION = "2022-11-28"
_PER_PAGE = 100
# What upsert_comment posts (and create_pull sends as a pull request's body) at most:
# under GitHub's 65,536-character limit, with room for the marker and the line that
# says the text was cut.
COMMENT_LIMIT = 65_000
_CUT_NOTE = "\n\n*(cut: the full report is in the job summary)*\n"
# Rate limits: how often a request is sent again, and the longest single wait for it.
RETRIES = 3
MAX_WAIT = 60.0
# GitHub's advice for a secondary rate limit that names no retry-after: a minute.
_SECONDARY_WAIT = 60.0
_REPO_PATTERN = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_PERMISSIONS = "'contents: write' and 'pull-requests: write'"
# Who an installation token of GitHub Actions (the workflow's GITHUB_TOKEN) acts as.
ACTIONS_BOT = "github-actions[bot]"


@dataclass(frozen=True)
class PullRequest:
    number: int
    html_url: str
    head: str  # the head branch's name (``ref``), without the owner
    base: str
    title: str
    state: str  # "open" or "closed"


@dataclass(frozen=True)
class Comment:
    id: int
    html_url: str
    body: str
    # The login of the comment's writer ("" if GitHub names none). Not part of equality:
    # a comment is the same comment whoever is looking.
    author: str = field(default="", compare=False)


class GitHub:
    """A client for one repository's pull requests, comments and branches."""

    def __init__(
        self,
        repo: str,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        retries: int = RETRIES,
        max_wait: float = MAX_WAIT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import httpx

        self.repo = _check_repo(repo, "the repository")
        self.api_url = _check_api_url(api_url, "the GitHub API URL")
        self._token = token.strip()
        if not self._token:
            raise GitHubError(_NO_TOKEN)
        self._timeout = timeout
        self._retries = max(0, retries)
        self._max_wait = max_wait
        self._sleep = sleep
        self._retried = 0  # how often the last request was sent again after a rate limit
        self._login: str | None = None  # the token's identity, asked for once
        # The classic token's OAuth scopes, read with the login (None: none reported).
        self.token_scopes: tuple[str, ...] | None = None
        self._client = httpx.Client(
            base_url=self.api_url,
            headers={
                "Authorization": f"Bearer {self._token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": _API_VERSION,
                "User-Agent": "modelreg",
            },
            transport=transport,
            timeout=timeout,
            # GitHub redirects requests for renamed repositories; httpx drops the
            # Authorization header when a redirect leaves the API's origin.
            follow_redirects=True,
        )

    @classmethod
    def from_environment(
        cls,
        repo: str | None = None,
        *,
        api_url: str | None = None,
        env: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> GitHub:
        """A client configured the way GitHub Actions configures a job.

        The token comes from ``GITHUB_TOKEN``, else ``GH_TOKEN``; the repository
        from ``repo``, else ``MODELREG_GITHUB_REPOSITORY``, else
        ``GITHUB_REPOSITORY``; the API root from ``api_url``, else
        ``MODELREG_GITHUB_API_URL``, else ``GITHUB_API_URL``, else api.github.com.
        """
        env = os.environ if env is None else env
        token = (env.get("GITHUB_TOKEN") or "").strip() or (env.get("GH_TOKEN") or "").strip()
        if not token:
            raise GitHubError(_NO_TOKEN)
        repo_value, repo_source = _first(
            (repo, "--github-repo"),
            (env.get("MODELREG_GITHUB_REPOSITORY"), "MODELREG_GITHUB_REPOSITORY"),
            (env.get("GITHUB_REPOSITORY"), "GITHUB_REPOSITORY"),
        )
        if repo_value is None:
            raise GitHubError(
                "no GitHub repository: pass --github-repo OWNER/NAME or set "
                "MODELREG_GITHUB_REPOSITORY (GitHub Actions sets GITHUB_REPOSITORY)"
            )
        url_value, url_source = _first(
            (api_url, "--api-url"),
            (env.get("MODELREG_GITHUB_API_URL"), "MODELREG_GITHUB_API_URL"),
            (env.get("GITHUB_API_URL"), "GITHUB_API_URL"),
            (DEFAULT_API_URL, "the default API URL"),
        )
        assert url_value is not None  # the default is always there
        return cls(
            _check_repo(repo_value, repo_source),
            token,
            api_url=_check_api_url(url_value, url_source),
            transport=transport,
        )

    # --- pull requests -----------------------------------------------------------------

    def create_pull(
        self, *, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> PullRequest:
        """Open a pull request merging branch ``head`` into ``base``.

        A body longer than GitHub accepts is cut, with a line saying so. When ``head``
        has no commit that ``base`` lacks, GitHub refuses (422 "No commits between"):
        that is a :class:`GitHubError` saying so in one line.
        """
        path = f"/repos/{self.repo}/pulls"
        body = _fit(body)
        payload = {"head": head, "base": base, "title": title, "body": body, "draft": draft}
        response = self._send("POST", path, json=payload)
        if response.status_code == 422:
            _, details = _error_body(response, self._token)
            if any(d.lower().startswith("no commits between") for d in details):
                raise GitHubError(
                    f"cannot open a pull request from {head!r} into {base!r}: {head!r} has "
                    f"no commit that {base!r} lacks (GitHub 422: no commits between them); "
                    f"push the change to {head!r} first"
                )
        self._check(
            response,
            "POST",
            path,
            what="repository",
            subject=f"the pull request from {head!r} into {base!r}",
        )
        return _pull(_json(response, "POST", path), "POST", path)

    def pulls(
        self, *, state: str = "open", head: str | None = None, base: str | None = None
    ) -> Iterator[PullRequest]:
        """Pull requests in ``state`` ("open", "closed" or "all"), newest first.

        ``head`` is a branch name (``OWNER:`` of this repository is added; GitHub
        ignores a head filter without one) or ``USER:BRANCH`` for a fork.
        """
        params = {"state": state}
        if head is not None:
            params["head"] = head if ":" in head else f"{self.repo.split('/')[0]}:{head}"
        if base is not None:
            params["base"] = base
        path = f"/repos/{self.repo}/pulls"
        for item in self._pages(path, params, what="repository", subject="the pull request list"):
            yield _pull(item, "GET", path)

    # --- comments ----------------------------------------------------------------------

    def comments(self, number: int) -> Iterator[Comment]:
        """The comments on pull request (or issue) ``number``, oldest first."""
        path = f"/repos/{self.repo}/issues/{int(number)}/comments"
        for item in self._pages(
            path,
            {},
            what=f"pull request or issue #{number}",
            subject=f"the comment list of #{number}",
        ):
            yield _comment(item, "GET", path)

    def create_comment(self, number: int, body: str) -> Comment:
        path = f"/repos/{self.repo}/issues/{int(number)}/comments"
        response = self._request(
            "POST",
            path,
            json={"body": body},
            what=f"pull request or issue #{number}",
            subject=f"the comment on #{number}",
        )
        return _comment(_json(response, "POST", path), "POST", path)

    def update_comment(self, comment_id: int, body: str) -> Comment:
        path = f"/repos/{self.repo}/issues/comments/{int(comment_id)}"
        response = self._request(
            "PATCH",
            path,
            json={"body": body},
            what=f"comment {comment_id}",
            subject=f"the edit of comment {comment_id}",
        )
        return _comment(_json(response, "PATCH", path), "PATCH", path)

    def upsert_comment(
        self, number: int, body: str, *, marker: str, author: str | None = None
    ) -> Comment:
        """A "sticky" comment: update the first comment on ``number`` that contains
        ``marker`` (an HTML comment such as ``<!-- modelreg:report -->``) and was
        written by ``author``, else create one. ``marker`` is put first in ``body``
        when it is missing; a body longer than GitHub accepts is cut, with a line
        saying so; an existing comment that already reads ``body`` is returned
        untouched.

        ``author`` defaults to :meth:`token_login`, the token's own identity. Anyone
        who can comment can also write the marker, so a marked comment by someone
        else (the pull request's author, say) is never edited: ours sits beside it.
        """
        if not marker.strip():
            raise ValueError("upsert_comment needs a non-empty marker")
        body = _fit(body)  # GitHub refuses comments over 65,536 characters
        if marker not in body:
            body = f"{marker}\n{body}"
        login = (author or "").strip() or self.token_login()
        for comment in self.comments(number):
            # GitHub logins are case-insensitive.
            if marker in comment.body and comment.author.lower() == login.lower():
                if comment.body == body:
                    return comment
                return self.update_comment(comment.id, body)
        return self.create_comment(number, body)

    def token_login(self) -> str:
        """The login the token acts as: ``GET /user``'s ``login``.

        An installation token of a GitHub App (the ``GITHUB_TOKEN`` of a workflow
        is one) has no user: GitHub answers 403, and ``GET /app``, which would name
        the app, takes the app's JWT rather than this token. Such a token writes as
        ``<app-slug>[bot]``; it is taken to be GitHub Actions' own,
        :data:`ACTIONS_BOT`. A token of another app must name its bot explicitly
        (``modelreg comment --author SLUG[bot]``).
        """
        if self._login is None:
            path = "/user"
            response = self._send("GET", path)
            if response.status_code == 403 and not _rate_limited(response):
                self._login = ACTIONS_BOT
            else:
                self._check(response, "GET", path, what="user", subject="the token's user")
                self.token_scopes = _scopes(response.headers.get("X-OAuth-Scopes"))
                data = _json(response, "GET", path)
                login = data.get("login") if isinstance(data, dict) else None
                if not isinstance(login, str) or not login.strip():
                    raise _shape_error("GET", path, "a user with a login", data)
                self._login = login.strip()
        return self._login

    # --- branches ----------------------------------------------------------------------

    def branch_sha(self, branch: str) -> str | None:
        """The commit ``branch`` points at, or None if there is no such branch."""
        path = f"/repos/{self.repo}/git/ref/heads/{quote(branch, safe='/')}"
        response = self._send("GET", path)
        # 409 "Git Repository is empty": an empty repository has no branches.
        if response.status_code in (404, 409):
            return None
        self._check(response, "GET", path, what=f"branch {branch!r}", subject=f"branch {branch!r}")
        data = _json(response, "GET", path)
        target = data.get("object") if isinstance(data, dict) else None
        sha = target.get("sha") if isinstance(target, dict) else None
        if not isinstance(sha, str) or not sha:
            raise _shape_error("GET", path, "a reference with object.sha", data)
        return sha

    def create_branch(self, branch: str, sha: str) -> None:
        """Create ``branch`` at commit ``sha``; a :class:`GitHubError` if it exists."""
        path = f"/repos/{self.repo}/git/refs"
        self._request(
            "POST",
            path,
            json={"ref": f"refs/heads/{branch}", "sha": sha},
            what="repository",
            subject=f"branch {branch!r} at {sha[:12]}",
        )

    def delete_branch(self, branch: str) -> None:
        path = f"/repos/{self.repo}/git/refs/heads/{quote(branch, safe='/')}"
        self._request(
            "DELETE",
            path,
            what=f"branch {branch!r}",
            subject=f"the deletion of branch {branch!r}",
        )

    # --- lifetime ----------------------------------------------------------------------

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> GitHub:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- transport ---------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> httpx.Response:
        """The answer to one request, sent again (after the wait GitHub asks for) while
        it is a rate limit that lifts within ``max_wait`` s, at most ``retries`` times."""
        self._retried = 0
        while True:
            response = self._send_once(method, url, json=json, params=params)
            wait = _retry_wait(response)
            if wait is None or self._retried >= self._retries or wait > self._max_wait:
                return response
            self._retried += 1
            self._sleep(wait)

    def _send_once(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> httpx.Response:
        import httpx

        try:
            return self._client.request(method, url, json=json, params=params)
        except httpx.TimeoutException:
            reason = f"no answer within {self._timeout:g} s"
        except httpx.RequestError as exc:
            reason = _one_line(str(exc), self._token) or type(exc).__name__
        raise GitHubError(f"cannot reach the GitHub API at {self.api_url}: {reason}") from None

    def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        subject: str,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> httpx.Response:
        response = self._send(method, path, json=json, params=params)
        self._check(response, method, path, what=what, subject=subject)
        return response

    def _pages(
        self, path: str, params: Mapping[str, str], *, what: str, subject: str
    ) -> Iterator[Any]:
        """Every item of a paginated list, following ``Link: <...>; rel="next"``."""
        url: str = path
        query: Mapping[str, str | int] | None = {**params, "per_page": _PER_PAGE}
        seen: set[str] = set()
        while True:
            response = self._request("GET", url, params=query, what=what, subject=subject)
            page = _json(response, "GET", path)
            if not isinstance(page, list):
                raise _shape_error("GET", path, "a list", page)
            yield from page
            following = response.links.get("next", {}).get("url")
            if not following:
                return
            if not self._same_origin(following):
                raise GitHubError(
                    f"GitHub's next-page link for GET {path} leaves {self.api_url}: "
                    "not following it with the token"
                )
            if following in seen:
                raise GitHubError(f"GitHub's next-page links for GET {path} go round in a loop")
            seen.add(following)
            # The link carries the whole query (per_page and page included).
            url, query = following, None

    def _same_origin(self, url: str) -> bool:
        ours, theirs = urlsplit(self.api_url), urlsplit(url)
        return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)

    def _check(
        self, response: httpx.Response, method: str, path: str, *, what: str, subject: str
    ) -> None:
        """Raise the :class:`GitHubError` an unsuccessful ``response`` stands for."""
        if response.is_success:
            return
        status = response.status_code
        message, details = _error_body(response, self._token)
        headers = response.headers
        if status == 401:
            raise GitHubError(
                f"GitHub rejected the token (401 {message or 'Bad credentials'}): "
                "check GITHUB_TOKEN or GH_TOKEN"
            )
        if status in (403, 429):
            tried = f" ({self._retried} retries did not help)" if self._retried else ""
            if headers.get("x-ratelimit-remaining") == "0":
                raise GitHubError(_rate_limit_message(headers) + tried)
            retry_after = headers.get("retry-after")
            if (
                status == 429
                or retry_after is not None
                or "secondary rate limit" in message.lower()
            ):
                wait = f"retry after {retry_after.strip()} s" if retry_after else "wait a minute"
                raise GitHubError(
                    f"GitHub's secondary rate limit was hit{tried}: {wait} ({message or status})"
                )
        if status == 403:
            needed = _accepted_permissions(headers.get("x-accepted-github-permissions"))
            raise GitHubError(
                f"GitHub refused {method} {path} (403 {message or 'Forbidden'}): the token "
                f"needs {needed or _PERMISSIONS} on {self.repo}"
            )
        if status == 404:
            raise GitHubError(
                f"GitHub has no {what} at {path} (404): check the repository name "
                f"{self.repo} and that the token can see it"
            )
        if status == 422:
            reason = f" (422 {message or 'Unprocessable Entity'})"
            raise GitHubError(
                f"GitHub could not process {subject}{reason}"
                + (f": {'; '.join(details)}" if details else "")
            )
        raise GitHubError(
            f"GitHub answered {status} to {method} {path}: "
            f"{message or response.reason_phrase or 'no explanation'}"
        )


_NO_TOKEN = (
    "no GitHub token: set GITHUB_TOKEN or GH_TOKEN to a token that may push branches "
    "and open pull requests"
)


def _first(*candidates: tuple[str | None, str]) -> tuple[str | None, str]:
    """The first (value, where it came from) whose value is set and not blank."""
    for value, source in candidates:
        if value is not None and value.strip():
            return value.strip(), source
    return None, ""


def _check_repo(repo: str, source: str) -> str:
    repo = repo.strip()
    if not _REPO_PATTERN.fullmatch(repo) or any(p in (".", "..") for p in repo.split("/")):
        raise GitHubError(
            f"{source} is {repo!r}, not a GitHub repository: expected OWNER/NAME "
            "(letters, digits, '-', '_' and '.')"
        )
    return repo


def _check_api_url(given: str, source: str) -> str:
    url = given.strip().rstrip("/")
    shown = redact_uri(given.strip())  # what a message may echo: never a password
    try:
        parts = urlsplit(url)
        _ = parts.port  # a bad port raises here, not at the first request
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise GitHubError(
            f"{source} is {shown!r}, not an API URL: expected https://HOST[/PATH], such as "
            f"{DEFAULT_API_URL} or https://github.example.com/api/v3"
        )
    if "@" in parts.netloc:
        # httpx would send these as Basic credentials instead of the token.
        raise GitHubError(
            f"{source} has credentials in it ({shown!r} without them): remove "
            "'USER:PASSWORD@' and give the token in GITHUB_TOKEN or GH_TOKEN"
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        https = urlsplit(shown)._replace(scheme="https").geturl()
        raise GitHubError(
            f"{source} is {shown!r}: plain http would send the token unencrypted; use "
            f"{https!r} (http is accepted only for localhost, 127.0.0.1 and ::1)"
        )
    return url


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _one_line(text: str, token: str) -> str:
    text = redact_text(" ".join(text.split()))
    if token:
        text = text.replace(token, "***")
    return text[:300] + "..." if len(text) > 300 else text


def _error_body(response: httpx.Response, token: str) -> tuple[str, list[str]]:
    """GitHub's ``message`` and one line per entry of ``errors`` (both may be empty)."""
    try:
        data = response.json()
    except ValueError:
        text = response.text if "html" not in response.headers.get("content-type", "") else ""
        return _one_line(text, token), []
    if not isinstance(data, dict):
        return "", []
    message = data.get("message")
    details: list[str] = []
    errors = data.get("errors")
    for error in errors if isinstance(errors, list) else []:
        if isinstance(error, str):
            details.append(_one_line(error, token))
        elif isinstance(error, dict):
            if isinstance(error.get("message"), str) and error["message"].strip():
                details.append(_one_line(error["message"], token))
            else:
                parts = [str(error[k]) for k in ("resource", "field", "code") if error.get(k)]
                if parts:
                    details.append(" ".join(parts))
    return (_one_line(message, token) if isinstance(message, str) else ""), details


def _accepted_permissions(header: str | None) -> str:
    """GitHub's ``X-Accepted-GitHub-Permissions`` ("issues=write; pull_requests=write":
    any one of the sets between semicolons will do, each set's commas all needed) in the
    words of a workflow's ``permissions:`` block."""
    choices = []
    for choice in (header or "").split(";")[:4]:
        names = []
        for item in choice.split(","):
            name, _, level = item.strip().partition("=")
            if re.fullmatch(r"[a-z_]+", name.strip()) and re.fullmatch(r"[a-z]+", level.strip()):
                names.append(f"'{name.strip().replace('_', '-')}: {level.strip()}'")
        if names:
            choices.append(" and ".join(names))
    return " or ".join(choices)


def _fit(body: str) -> str:
    """``body``, cut to :data:`COMMENT_LIMIT` characters with a line saying so."""
    if len(body) <= COMMENT_LIMIT:
        return body
    return body[:COMMENT_LIMIT] + _CUT_NOTE


def _retry_wait(response: httpx.Response) -> float | None:
    """Seconds to wait before sending a rate-limited request again; None if ``response``
    is no rate limit. ``retry-after`` first, then a primary limit's reset time, else
    GitHub's advice for a secondary limit: a minute."""
    status = response.status_code
    if status not in (403, 429) or not (status == 429 or _rate_limited(response)):
        return None
    headers = response.headers
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after.strip()))
        except ValueError:
            return _SECONDARY_WAIT
    if headers.get("x-ratelimit-remaining") == "0":
        try:
            reset = int(headers["x-ratelimit-reset"])
        except (KeyError, ValueError):
            return None
        return max(0.0, reset - time.time()) + 1.0  # the reset second itself, then go
    return _SECONDARY_WAIT


def _rate_limited(response: httpx.Response) -> bool:
    """Whether a 403 or 429 is a rate limit (primary or secondary), not a refusal."""
    headers = response.headers
    if headers.get("x-ratelimit-remaining") == "0" or headers.get("retry-after") is not None:
        return True
    return "secondary rate limit" in _error_body(response, "")[0].lower()


def _rate_limit_message(headers: httpx.Headers) -> str:
    limit = headers.get("x-ratelimit-limit", "?")
    try:
        reset = int(headers["x-ratelimit-reset"])
    except (KeyError, ValueError):
        return f"GitHub API rate limit exceeded for this token (limit {limit})"
    clock = time.strftime("%H:%M:%S", time.gmtime(reset))
    wait = max(0, reset - int(time.time()))
    return (
        f"GitHub API rate limit exceeded for this token (limit {limit}); "
        f"it resets at {clock} UTC, in {wait} s"
    )


def _json(response: httpx.Response, method: str, path: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise GitHubError(
            f"GitHub answered {method} {path} with {response.status_code} but no JSON body"
        ) from None


def _shape_error(method: str, path: str, expected: str, data: Any) -> GitHubError:
    got = type(data).__name__ if not isinstance(data, dict) else f"an object {sorted(data)[:8]}"
    return GitHubError(
        f"GitHub's answer to {method} {path} is not {expected} (got {got}): "
        "is the API URL a GitHub API?"
    )


def _pull(data: Any, method: str, path: str) -> PullRequest:
    try:
        head, base = data["head"], data["base"]
        pull = PullRequest(
            number=data["number"],
            html_url=data["html_url"],
            head=head["ref"],
            base=base["ref"],
            title=data["title"],
            state=data["state"],
        )
    except (KeyError, TypeError):
        raise _shape_error(method, path, "a pull request", data) from None
    if not isinstance(pull.number, int) or not all(
        isinstance(v, str) for v in (pull.html_url, pull.head, pull.base, pull.title, pull.state)
    ):
        raise _shape_error(method, path, "a pull request", data)
    return pull


def _comment(data: Any, method: str, path: str) -> Comment:
    try:
        user = data.get("user")
        login = user.get("login") if isinstance(user, dict) else None
        comment = Comment(
            id=data["id"],
            html_url=data["html_url"],
            body=data["body"] or "",
            author=login if isinstance(login, str) else "",
        )
    except (KeyError, TypeError, AttributeError):
        raise _shape_error(method, path, "a comment", data) from None
    if not isinstance(comment.id, int) or not isinstance(comment.html_url, str):
        raise _shape_error(method, path, "a comment", data)
    if not isinstance(comment.body, str):
        raise _shape_error(method, path, "a comment", data)
    return comment


def _scopes(header: str | None) -> tuple[str, ...] | None:
    """A classic token's OAuth scopes (``X-OAuth-Scopes``); None when GitHub sends none
    (fine-grained and app tokens have permissions instead of scopes)."""
    if header is None:
        return None
    return tuple(s.strip() for s in header.split(",") if s.strip())
