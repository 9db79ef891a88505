"""A fake GitHub REST API on loopback, for testing the client over real HTTP.

It answers the endpoints modelreg uses the way GitHub does: the same JSON field
names, status codes, ``Link`` pagination and error bodies. It checks the bearer
token, records every request, and can be told to fail::

    with FakeGitHub(repo="acme/models", token="t0ken", origin=bare_repo) as gh:
        client = GitHub("acme/models", "t0ken", api_url=gh.url)
        ...
        assert gh.pulls[0]["body"] == "..."

With ``origin`` (a bare git repository) branches are that repository's
``refs/heads``: pull request heads and bases are checked against it and the
``git/ref`` endpoints read and write it. Without one they live in
``gh.branches``. ``prefix="/api/v3"`` serves under a path, as GitHub Enterprise
does.

Each token has an identity and permissions: ``gh.tokens[token]`` is a
:class:`Token`, whose ``login`` is what ``GET /user`` answers and who writes the
comments and pull requests the token creates (``token`` is ``login``'s,
"modelreg-bot" by default, with :data:`WRITE_ALL`). A login of ``None`` makes it a
GitHub App installation token, like the ``GITHUB_TOKEN`` of a workflow: ``GET
/user`` answers 403 and what it writes is by ``f"{app_slug}[bot]"``
("github-actions[bot]"). ``add_token`` adds one; ``installation_token`` makes a
workflow's, with the permissions its ``permissions:`` block grants. A request
with a token GitHub does not know gets 401; one whose token lacks the permission
the endpoint needs gets GitHub's 403 ("Resource not accessible by integration",
with ``x-accepted-github-permissions``). Permissions are GitHub's names
(``contents``, ``pull_requests``, ``issues``; ``pull-requests`` as workflows spell
it is accepted), ``read`` or ``write``; the comment endpoints take ``issues`` or
``pull_requests``, as GitHub's do. ``add_comment`` plants a comment by anyone, as
if written earlier.

GitHub's refusals of content: a pull request whose head has no commit its base
lacks (422 "No commits between"), one already open for the same head and base, and
a comment or pull request body over :data:`BODY_LIMIT` characters (422 "body is
too long").

Failure injection, checked after authentication: ``rate_limited`` (primary rate
limit, every request), ``secondary_limit`` (every request; ``limit_status`` 403 or
429, ``retry_after`` seconds or None), and ``throttle(times, ...)``: the next
``times`` requests get a 429 with ``retry-after`` (or a primary limit that resets
in ``reset_in`` seconds), the ones after are served.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

DOCS = "https://docs.github.com/rest"
HTML_ROOT = "https://github.com"
FAKE_SHA = "f" * 40
# What a token may do when not told otherwise: all that modelreg does.
WRITE_ALL: Mapping[str, str] = {"contents": "write", "pull_requests": "write", "issues": "write"}
# GitHub's limit on the body of a comment, an issue or a pull request, in characters.
BODY_LIMIT = 65_536


@dataclass
class Token:
    """Who a token acts as (``None``: a GitHub App installation) and what it may do."""

    login: str | None
    permissions: dict[str, str] = field(default_factory=lambda: dict(WRITE_ALL))


def normalized(granted: Mapping[str, str]) -> dict[str, str]:
    """``granted`` with GitHub's API names (``pull-requests`` is ``pull_requests``),
    without those set to ``none``."""
    named = {k.replace("-", "_"): v for k, v in granted.items()}
    for name, level in named.items():
        assert level in ("read", "write", "none"), f"{name}: {level!r} is no permission level"
    return {k: v for k, v in named.items() if v != "none"}


class Recorded(NamedTuple):
    """One request: ``path`` as sent (prefix and query included), header names lower-case."""

    method: str
    path: str
    body: Any
    headers: dict[str, str]


class Reply(NamedTuple):
    status: int
    body: Any = None
    headers: Mapping[str, str] = {}


def _error(status: int, message: str, docs: str = DOCS, /, **extra: Any) -> Reply:
    return Reply(status, {"message": message, "documentation_url": docs, **extra})


NOT_FOUND = _error(404, "Not Found", f"{DOCS}/overview/resources-in-the-rest-api")
RATE_DOCS = f"{DOCS}/overview/rate-limits-for-the-rest-api"
_SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
# What GitHub answers a comment created or edited without a text body.
_MISSING_COMMENT_BODY = _error(
    422,
    "Validation Failed",
    errors=[{"resource": "IssueComment", "field": "body", "code": "missing_field"}],
)

# The router: method, path under /repos/OWNER/NAME, the FakeGitHub method that answers,
# and the permission it needs: (any of these names, level).
_COMMENTS = ("issues", "pull_requests")
ROUTES = [
    ("GET", r"/pulls", "_list_pulls", (("pull_requests",), "read")),
    ("POST", r"/pulls", "_create_pull", (("pull_requests",), "write")),
    ("GET", r"/issues/(\d+)/comments", "_list_comments", (_COMMENTS, "read")),
    ("POST", r"/issues/(\d+)/comments", "_add_comment", (_COMMENTS, "write")),
    ("PATCH", r"/issues/comments/(\d+)", "_edit_comment", (_COMMENTS, "write")),
    ("GET", r"/git/ref/heads/(.+)", "_get_ref", (("contents",), "read")),
    ("POST", r"/git/refs", "_create_ref", (("contents",), "write")),
    ("DELETE", r"/git/refs/heads/(.+)", "_delete_ref", (("contents",), "write")),
]
_COMPILED = [
    (m, re.compile(r"/repos/([^/]+)/([^/]+)" + p), name, need) for m, p, name, need in ROUTES
]
# What GitHub answers GET /user for an installation token (an app has no user).
_NO_USER = _error(
    403,
    "Resource not accessible by integration",
    f"{DOCS}/users/users#get-the-authenticated-user",
    status="403",
)


class FakeGitHub:
    def __init__(
        self,
        repo: str = "acme/models",
        token: str = "t0ken",
        origin: Path | str | None = None,
        *,
        prefix: str = "",
        branches: Mapping[str, str] | None = None,
        login: str | None = "modelreg-bot",
        app_slug: str = "github-actions",
        permissions: Mapping[str, str] = WRITE_ALL,
    ) -> None:
        self.repo = repo
        self.owner = repo.split("/")[0]
        self.token = token
        self._lock = threading.Lock()
        self.tokens: dict[str, Token] = {}
        self.add_token(token, login=login, permissions=permissions)
        self.app_slug = app_slug
        self.origin = Path(origin) if origin is not None else None
        self.prefix = prefix.rstrip("/")
        self.branches: dict[str, str] = dict(
            branches if branches is not None else {"main": FAKE_SHA}
        )
        self.requests: list[Recorded] = []
        self.pulls: list[dict[str, Any]] = []
        self.comments: list[dict[str, Any]] = []
        self.rate_limited = False
        self.rate_limit_reset = int(time.time()) + 1800
        self.secondary_limit = False
        self.limit_status = 403
        self.retry_after: str | None = "60"
        self._throttled: list[Reply] = []
        # A classic token's scopes, sent as X-OAuth-Scopes on GET /user; None sends none
        # (fine-grained and app tokens).
        self.scopes: str | None = None
        self._next_comment_id = 1_000_001
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifetime ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None, "the fake GitHub is not running"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """The API root to give the client (with the prefix, no trailing slash)."""
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def start(self) -> FakeGitHub:
        fake = self

        class Handler(_Handler):
            github = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- tokens and seeding -------------------------------------------------------------

    def add_token(
        self, token: str, *, login: str | None, permissions: Mapping[str, str] = WRITE_ALL
    ) -> str:
        """Make ``token`` act as ``login`` (``None``: the app's installation) with
        ``permissions``; returns it."""
        with self._lock:
            self.tokens[token] = Token(login, normalized(permissions))
        return token

    def installation_token(self, granted: Mapping[str, str]) -> str:
        """A new ``GITHUB_TOKEN``, as a workflow job gets one: GitHub Actions' app
        installation, with the ``permissions:`` the job was ``granted``."""
        token = f"ghs_job{len(self.tokens):04d}"
        return self.add_token(token, login=None, permissions=granted)

    def throttle(
        self,
        times: int,
        *,
        status: int = 429,
        retry_after: str | None = "0",
        reset_in: int | None = None,
    ) -> None:
        """The next ``times`` requests (past authentication) are refused as rate-limited:
        a secondary limit with ``retry-after`` or, with ``reset_in``, a primary limit
        that resets that many seconds from now."""
        for _ in range(times):
            if reset_in is not None:
                reset = int(time.time()) + reset_in
                self._throttled.append(self._primary_limit(status, reset))
            else:
                self._throttled.append(self._secondary_limit(status, retry_after))

    def add_pull(
        self,
        *,
        head: str,
        base: str = "main",
        title: str = "",
        body: str = "",
        state: str = "open",
        draft: bool = False,
        login: str = "modelreg-bot",
    ) -> dict[str, Any]:
        """A pull request as if ``login`` had opened it earlier (its branches are not
        checked)."""
        with self._lock:
            return self._new_pull(
                head, base, title or f"Change {head}", body, state, draft, self._user(login)
            )

    def add_comment(self, number: int, body: str, *, login: str) -> dict[str, Any]:
        """A comment on pull request ``number`` as if ``login`` had written it earlier."""
        with self._lock:
            return self._new_comment(number, body, self._user(login))

    def paths(self, method: str | None = None) -> list[str]:
        """The paths requested (without query), optionally only those of ``method``."""
        return [
            urlsplit(r.path).path for r in self.requests if method is None or r.method == method
        ]

    # --- dispatch ----------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Reply:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
            bad_json = True
        else:
            bad_json = False
        with self._lock:
            self.requests.append(Recorded(method, target, body, headers))
            scheme, _, secret = headers.get("authorization", "").partition(" ")
            token = self.tokens.get(secret) if scheme in ("Bearer", "token") else None
            if token is None:
                return _error(401, "Bad credentials", status="401")
            login = token.login
            if self._throttled:
                return self._throttled.pop(0)
            if self.rate_limited:
                return self._primary_limit(403, self.rate_limit_reset)
            if self.secondary_limit:
                return self._secondary_limit(self.limit_status, self.retry_after)
            if bad_json:
                return _error(400, "Problems parsing JSON")
            parts = urlsplit(target)
            path = parts.path
            if self.prefix:
                if not path.startswith(self.prefix + "/"):
                    return NOT_FOUND
                path = path[len(self.prefix) :]
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            if path == "/user":
                if method != "GET":
                    return NOT_FOUND
                if login is None:
                    return _NO_USER
                scopes = {} if self.scopes is None else {"X-OAuth-Scopes": self.scopes}
                return Reply(200, self._user(login, full=True), scopes)
            actor = self._user(login if login is not None else f"{self.app_slug}[bot]")
            for route_method, pattern, action, need in _COMPILED:
                match = pattern.fullmatch(path)
                if match is None:
                    continue
                owner, name, *rest = (unquote(g) for g in match.groups())
                if f"{owner}/{name}" != self.repo:
                    return NOT_FOUND
                if route_method != method:
                    continue
                if not _allowed(token, need):
                    return _not_accessible(token, need)
                answer: Callable[..., Reply] = getattr(self, action)
                return answer(*rest, query=query, body=body, path=path, actor=actor)
            return NOT_FOUND

    def _user(self, login: str, *, full: bool = False) -> dict[str, Any]:
        """GitHub's user object for ``login`` (a bot's login ends in "[bot]")."""
        bot = login.endswith("[bot]")
        user: dict[str, Any] = {
            "login": login,
            "id": 41898282 if login == "github-actions[bot]" else 1000 + len(login),
            "node_id": f"U_fake{login}",
            "url": f"{self.url}/users/{login}",
            "html_url": f"{HTML_ROOT}/{'apps/' + login[:-5] if bot else login}",
            "type": "Bot" if bot else "User",
            "site_admin": False,
        }
        if full:  # GET /user answers a few more fields than a comment's "user" carries
            user.update({"name": None, "company": None, "created_at": "2020-01-01T00:00:00Z"})
        return user

    @staticmethod
    def _primary_limit(status: int, reset: int) -> Reply:
        """GitHub's answer once a token's hourly requests are spent."""
        return Reply(
            status,
            {"message": "API rate limit exceeded for user ID 1.", "documentation_url": RATE_DOCS},
            {
                "x-ratelimit-limit": "5000",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(reset),
                "x-ratelimit-used": "5000",
                "x-ratelimit-resource": "core",
            },
        )

    @staticmethod
    def _secondary_limit(status: int, retry_after: str | None) -> Reply:
        """GitHub's answer to too many requests at once (a secondary rate limit)."""
        body = {
            "message": _SECONDARY_MESSAGE,
            "documentation_url": f"{RATE_DOCS}#about-secondary-rate-limits",
        }
        return Reply(status, body, {} if retry_after is None else {"retry-after": retry_after})

    def _page(self, items: list[dict[str, Any]], path: str, query: dict[str, str]) -> Reply:
        """One page of ``items`` and GitHub's ``Link`` header (next, last, first, prev)."""
        per_page = min(max(int(query.get("per_page", 30)), 1), 100)
        page = max(int(query.get("page", 1)), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page : page * per_page]

        def link(number: int, rel: str) -> str:
            q = urlencode({**query, "per_page": per_page, "page": number})
            return f'<http://127.0.0.1:{self.port}{self.prefix}{path}?{q}>; rel="{rel}"'

        links = []
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(min(page - 1, last), "prev")]
        return Reply(200, chunk, {"link": ", ".join(links)} if links else {})

    # --- branches ----------------------------------------------------------------------

    def branch(self, name: str) -> str | None:
        """The commit branch ``name`` points at, from origin or ``branches``."""
        if self.origin is None:
            return self.branches.get(name)
        done = self._git("rev-parse", "--verify", "--quiet", f"refs/heads/{name}^{{commit}}")
        return done.stdout.strip() or None

    def _git(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "--git-dir", str(self.origin), *args],
            capture_output=True,
            text=True,
            check=False,
        )

    def _ref(self, name: str, sha: str) -> dict[str, Any]:
        return {
            "ref": f"refs/heads/{name}",
            "node_id": "REF_fake",
            "url": f"{self.url}/repos/{self.repo}/git/refs/heads/{name}",
            "object": {
                "sha": sha,
                "type": "commit",
                "url": f"{self.url}/repos/{self.repo}/git/commits/{sha}",
            },
        }

    def _get_ref(self, name: str, **_: Any) -> Reply:
        sha = self.branch(name)
        return NOT_FOUND if sha is None else Reply(200, self._ref(name, sha))

    def _create_ref(self, *, body: Any, **_: Any) -> Reply:
        body = body if isinstance(body, dict) else {}
        ref, sha = body.get("ref"), body.get("sha")
        if not isinstance(ref, str) or not isinstance(sha, str):
            return _error(422, 'Invalid request.\n\n"ref", "sha" weren\'t supplied.')
        if not ref.startswith("refs/") or ref.count("/") < 2:
            return _error(422, "Reference name is invalid")
        if not ref.startswith("refs/heads/"):
            return _error(422, "Only branches (refs/heads/...) are served by the fake GitHub")
        name = ref.removeprefix("refs/heads/")
        if self.branch(name) is not None:
            return _error(422, "Reference already exists")
        if self.origin is None:
            if not re.fullmatch(r"[0-9a-f]{40}", sha):
                return _error(422, "Object does not exist")
            self.branches[name] = sha
        else:
            if self._git("check-ref-format", ref).returncode != 0:
                return _error(422, "Reference name is invalid")
            if self._git("cat-file", "-e", f"{sha}^{{commit}}").returncode != 0:
                return _error(422, "Object does not exist")
            done = self._git("update-ref", ref, sha, "")
            if done.returncode != 0:
                return _error(422, f"Reference update failed: {done.stderr.strip()}")
        return Reply(201, self._ref(name, sha))

    def _delete_ref(self, name: str, **_: Any) -> Reply:
        if self.branch(name) is None:
            return _error(422, "Reference does not exist")
        if self.origin is None:
            del self.branches[name]
        else:
            self._git("update-ref", "-d", f"refs/heads/{name}")
        return Reply(204)

    # --- pull requests -----------------------------------------------------------------

    def _new_pull(
        self,
        head: str,
        base: str,
        title: str,
        body: str,
        state: str,
        draft: bool,
        user: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        number = len(self.pulls) + 1
        api = f"{self.url}/repos/{self.repo}"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        pull = {
            "url": f"{api}/pulls/{number}",
            "id": 9_000_000 + number,
            "node_id": f"PR_fake{number}",
            "number": number,
            "html_url": f"{HTML_ROOT}/{self.repo}/pull/{number}",
            "issue_url": f"{api}/issues/{number}",
            "state": state,
            "locked": False,
            "title": title,
            "body": body,
            "draft": draft,
            "user": user or self._user("modelreg-bot"),
            "head": {
                "label": f"{self.owner}:{head}",
                "ref": head,
                "sha": self.branch(head) or FAKE_SHA,
                "repo": {"full_name": self.repo},
            },
            "base": {
                "label": f"{self.owner}:{base}",
                "ref": base,
                "sha": self.branch(base) or FAKE_SHA,
                "repo": {"full_name": self.repo},
            },
            "created_at": stamp,
            "updated_at": stamp,
            "closed_at": None if state == "open" else stamp,
            "merged_at": None,
        }
        self.pulls.append(pull)
        return pull

    def _create_pull(self, *, body: Any, actor: dict[str, Any], **_: Any) -> Reply:
        body = body if isinstance(body, dict) else {}
        missing = [f for f in ("head", "base") if not isinstance(body.get(f), str)]
        if missing:
            return _error(
                422,
                "Validation Failed",
                errors=[
                    {"resource": "PullRequest", "field": f, "code": "missing_field"}
                    for f in missing
                ],
            )
        if not isinstance(body.get("title"), str) or not body["title"]:
            return _error(
                422,
                "Validation Failed",
                errors=[{"resource": "Issue", "field": "title", "code": "missing_field"}],
            )
        head, base = body["head"], body["base"]
        if ":" in head:
            owner, _, head = head.partition(":")
            if owner != self.owner:  # forks are not modelled
                head = f"{owner}:{head}"
        invalid = [
            {"resource": "PullRequest", "field": field, "code": "invalid"}
            for field, branch in (("base", base), ("head", head))
            if self.branch(branch) is None
        ]
        if invalid:
            return _error(422, "Validation Failed", errors=invalid)
        if not self._ahead(head, base):
            return _error(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"No commits between {base} and {head}",
                    }
                ],
            )
        text = body.get("body")
        if isinstance(text, str) and len(text) > BODY_LIMIT:
            return _too_long("Issue", "body", "body")
        # GitHub allows one open pull request per head and base.
        if any(
            p["state"] == "open" and p["head"]["ref"] == head and p["base"]["ref"] == base
            for p in self.pulls
        ):
            return _error(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {self.owner}:{head}.",
                    }
                ],
            )
        pull = self._new_pull(
            head,
            base,
            body["title"],
            text if isinstance(text, str) else "",
            "open",
            bool(body.get("draft", False)),
            actor,
        )
        return Reply(201, pull)

    def _ahead(self, head: str, base: str) -> bool:
        """Whether ``head`` has a commit ``base`` lacks (GitHub's "commits between")."""
        if self.origin is None:
            return self.branches.get(head) != self.branches.get(base)
        done = self._git("rev-list", "--count", f"refs/heads/{base}..refs/heads/{head}")
        return done.returncode == 0 and int(done.stdout.strip() or 0) > 0

    def _list_pulls(self, *, query: dict[str, str], path: str, **_: Any) -> Reply:
        state = query.get("state", "open")
        if state not in ("open", "closed", "all"):
            return _error(
                422,
                "Validation Failed",
                errors=[{"resource": "Search", "field": "state", "code": "invalid"}],
            )
        chosen = [p for p in self.pulls if state == "all" or p["state"] == state]
        head = query.get("head")
        # Like GitHub, a head filter without "owner:" is ignored.
        if head is not None and ":" in head:
            chosen = [p for p in chosen if p["head"]["label"] == head]
        if "base" in query:
            chosen = [p for p in chosen if p["base"]["ref"] == query["base"]]
        # GitHub sorts by creation, newest first, unless told otherwise.
        if query.get("direction", "desc") == "desc":
            chosen = chosen[::-1]
        return self._page(chosen, path, query)

    # --- comments ----------------------------------------------------------------------

    def _issue_url(self, number: int) -> str:
        return f"{self.url}/repos/{self.repo}/issues/{number}"

    def _list_comments(self, number: str, *, query: dict[str, str], path: str, **_: Any) -> Reply:
        if not 1 <= int(number) <= len(self.pulls):
            return NOT_FOUND
        url = self._issue_url(int(number))
        return self._page([c for c in self.comments if c["issue_url"] == url], path, query)

    def _add_comment(self, number: str, *, body: Any, actor: dict[str, Any], **_: Any) -> Reply:
        if not 1 <= int(number) <= len(self.pulls):
            return NOT_FOUND
        text = body.get("body") if isinstance(body, dict) else None
        if not isinstance(text, str):
            return _MISSING_COMMENT_BODY
        if len(text) > BODY_LIMIT:
            return _too_long("IssueComment", "data", "Body")
        return Reply(201, self._new_comment(int(number), text, actor))

    def _new_comment(self, number: int, text: str, user: dict[str, Any]) -> dict[str, Any]:
        comment_id = self._next_comment_id
        self._next_comment_id += 1
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        comment = {
            "id": comment_id,
            "node_id": f"IC_fake{comment_id}",
            "url": f"{self.url}/repos/{self.repo}/issues/comments/{comment_id}",
            "html_url": f"{HTML_ROOT}/{self.repo}/pull/{number}#issuecomment-{comment_id}",
            "issue_url": self._issue_url(number),
            "body": text,
            "user": user,
            "created_at": stamp,
            "updated_at": stamp,
            "author_association": "NONE",
        }
        self.comments.append(comment)
        return comment

    def _edit_comment(self, comment_id: str, *, body: Any, **_: Any) -> Reply:
        # Like GitHub, a token with write access may edit anyone's comment: only the
        # client's own check keeps it off comments it did not write.
        comment = next((c for c in self.comments if c["id"] == int(comment_id)), None)
        if comment is None:
            return NOT_FOUND
        text = body.get("body") if isinstance(body, dict) else None
        if not isinstance(text, str):
            return _MISSING_COMMENT_BODY
        if len(text) > BODY_LIMIT:
            return _too_long("IssueComment", "data", "Body")
        comment["body"] = text
        comment["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return Reply(200, comment)


def _too_long(resource: str, field: str, what: str) -> Reply:
    """GitHub's 422 for a body over :data:`BODY_LIMIT` characters."""
    return _error(
        422,
        "Validation Failed",
        errors=[
            {
                "resource": resource,
                "code": "unprocessable" if resource == "IssueComment" else "custom",
                "field": field,
                "message": f"{what} is too long (maximum is {BODY_LIMIT} characters)",
            }
        ],
    )


def _allowed(token: Token, need: tuple[tuple[str, ...], str]) -> bool:
    names, level = need
    granted = [token.permissions.get(name) for name in names]
    return any(g == "write" or (g == "read" and level == "read") for g in granted)


def _not_accessible(token: Token, need: tuple[tuple[str, ...], str]) -> Reply:
    """GitHub's 403 for a token without the permission an endpoint needs."""
    names, level = need
    by = "integration" if token.login is None else "personal access token"
    reply = _error(403, f"Resource not accessible by {by}", status="403")
    accepted = "; ".join(f"{name}={level}" for name in names)
    return Reply(reply.status, reply.body, {"x-accepted-github-permissions": accepted})


class _Handler(BaseHTTPRequestHandler):
    """Reads one request, hands it to the :class:`FakeGitHub`, writes its reply."""

    github: FakeGitHub
    protocol_version = "HTTP/1.1"  # keep-alive, as GitHub and httpx use it
    # Headers and body go out in two writes: without this, delayed ACKs add 40 ms each.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.github.handle(self.command, self.path, headers, raw)
        data = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        if reply.body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output quiet
