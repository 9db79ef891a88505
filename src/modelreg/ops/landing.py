"""Building a commit with git plumbing, and landing one as a pull request.

:func:`commit_on` makes the commit of a parent's tree with some files changed,
without the index or the working tree: the transaction (:mod:`modelreg.ops.change`)
uses it for a commit on the current branch, and :class:`PullRequestBase` for one
on top of the base branch as fetched from origin, which it pushes to a new branch
and opens as a pull request through the GitHub client.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelreg.core.errors import ConflictError, GitError, InputError
from modelreg.core.git import Git
from modelreg.core.git_source import GitRevisionSource
from modelreg.core.registry import Registry

if TYPE_CHECKING:
    from modelreg.integrations.github import GitHub, PullRequest

__all__ = [
    "BRANCH_PREFIX",
    "Landed",
    "LandedChange",
    "PullRequestBase",
    "blob_at",
    "blob_id",
    "commit_on",
    "upstream",
]

BRANCH_PREFIX = "modelreg"


@dataclass(frozen=True)
class Landed:
    commit: str
    branch: str | None = None
    pull: PullRequest | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class LandedChange:
    """Where a promotion or rollback landed: the fields their results share."""

    path: str
    """The pointer file changed."""
    commit: str
    branch: str | None = None
    pull: PullRequest | None = None
    warnings: tuple[str, ...] = ()

    def landed_json(self) -> dict[str, Any]:
        """These fields, for ``--json``."""
        pull = self.pull
        return {
            "path": self.path,
            "commit": self.commit,
            "branch": self.branch,
            "pull_request": {"number": pull.number, "url": pull.html_url} if pull else None,
            "warnings": list(self.warnings),
        }


@dataclass
class PullRequestBase:
    """Build the commit on origin's ``base`` branch and open a pull request from it."""

    git: Git
    github: GitHub
    base: str
    remote: str = "origin"
    commit: str = ""
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def fetch(cls, git: Git, github: GitHub, base: str | None) -> PullRequestBase:
        branch = base or _default_base(git)
        if branch.startswith("-") or not _valid_branch(git, branch):
            raise InputError(f"--base {branch!r} is not a valid branch name")
        tracking = f"refs/remotes/origin/{branch}"
        try:
            git.run("fetch", "--quiet", "--no-tags", "origin", f"+refs/heads/{branch}:{tracking}")
        except GitError as exc:
            raise GitError(
                f"could not fetch branch {branch!r} from origin to base the pull request on: "
                f"{exc}; check the remote (git remote -v) and --base"
            ) from None
        return cls(git, github, branch, commit=git.resolve_commit(tracking))

    @property
    def label(self) -> str:
        return f"origin/{self.base}"

    def registry(self) -> Registry:
        return Registry(self.git.root, GitRevisionSource(self.git, self.commit), git=self.git)

    def head(self) -> str:
        return self.commit

    def check_open_pulls(self, prefix: str, what: str, *, refuse: bool = True) -> None:
        """Refuse (or, without ``refuse``, warn) when an open pull request already
        changes the same pointer: merging both could only conflict."""
        for pull in self.github.pulls(state="open", base=self.base):
            if not pull.head.startswith(prefix):
                continue
            if refuse:
                raise ConflictError(
                    f"pull request #{pull.number} ({pull.html_url}) already changes {what}; "
                    "merge or close it first, so that the two changes do not race"
                )
            self.warnings.append(
                f"pull request #{pull.number} ({pull.html_url}) also changes {what}; "
                "close it once this one is merged"
            )

    def land(
        self,
        edits: Mapping[str, bytes | None],
        message: str,
        *,
        branch: str,
        title: str,
        body: str,
    ) -> Landed:
        if not _valid_branch(self.git, branch):
            raise InputError(f"cannot make a branch name from {branch!r}")
        sha = commit_on(self.git, self.commit, edits, message)
        try:
            self.git.run(
                "push", "--quiet", "--porcelain", self.remote, f"{sha}:refs/heads/{branch}"
            )
        except GitError as exc:
            raise GitError(
                f"could not push branch {branch!r} to {self.remote}: {exc}. If an earlier "
                f"attempt left that branch, delete it (git push {self.remote} --delete {branch}) "
                "or merge its pull request"
            ) from None
        try:
            pull = self.github.create_pull(head=branch, base=self.base, title=title, body=body)
        except BaseException:
            # Leave nothing behind, so the command can simply be run again.
            with contextlib.suppress(GitError):
                self.git.run("push", "--quiet", self.remote, "--delete", branch)
            raise
        return Landed(sha, branch=branch, pull=pull, warnings=tuple(self.warnings))


def commit_on(
    git: Git,
    parent: str | None,
    changes: Mapping[str, bytes | None],
    message: str,
    *,
    author: tuple[str, str, str] | None = None,
) -> str:
    """A commit of ``parent``'s tree (none: an empty one) with ``changes`` applied
    (None removes a file); returns its id. No ref moves.

    Only the trees on the changed paths are read and written again (a handful of
    small git calls), so the cost does not grow with the size of the registry, and
    neither the index nor the working tree is involved.
    """
    tree = _rebuild(git, f"{parent}^{{tree}}" if parent else None, dict(changes))
    if tree is None:
        raise ConflictError("the change would leave the repository empty")
    return git.commit_tree(tree, [parent] if parent else [], message, author=author)


def _rebuild(git: Git, tree: str | None, changes: dict[str, bytes | None]) -> str | None:
    """The id of ``tree`` with ``changes`` (paths relative to it) applied; None if empty."""
    entries: dict[str, str] = {}  # name -> "mode type sha"
    if tree is not None:
        for record in git.run("ls-tree", "-z", tree).split(b"\0"):
            if record:
                raw_meta, raw_name = record.split(b"\t", 1)
                entries[raw_name.decode("utf-8", "surrogateescape")] = raw_meta.decode()
    groups: dict[str, dict[str, bytes | None]] = {}
    for path, content in changes.items():
        head, _, rest = path.partition("/")
        if rest:
            groups.setdefault(head, {})[rest] = content
        elif content is None:
            entries.pop(head, None)
        else:
            blob = git.run("hash-object", "-w", "--stdin", input_bytes=content).decode().strip()
            entries[head] = f"100644 blob {blob}"
    for name, sub in groups.items():
        current = entries.get(name, "")
        child = current.split()[2] if current.split()[1:2] == ["tree"] else None
        rebuilt = _rebuild(git, child, sub)
        if rebuilt is None:
            entries.pop(name, None)
        else:
            entries[name] = f"040000 tree {rebuilt}"
    if not entries:
        return None
    listing = b"".join(
        f"{meta}\t".encode() + name.encode("utf-8", "surrogateescape") + b"\0"
        for name, meta in entries.items()
    )
    return git.run("mktree", "-z", input_bytes=listing).decode().strip()


def blob_id(data: bytes, *, sha256: bool = False) -> str:
    """The id git gives a blob of ``data``."""
    digest = hashlib.sha256 if sha256 else hashlib.sha1
    return digest(b"blob %d\0" % len(data) + data).hexdigest()


def blob_at(git: Git, rev: str, path: str) -> str:
    """The blob id of ``path`` at ``rev``; empty when it has none."""
    return git.text("rev-parse", "--verify", "--quiet", f"{rev}:{path}", check=False).strip()


def upstream(git: Git) -> tuple[str, str, str] | None:
    """(remote, remote branch ref, tracking ref) of the current branch, if it has one."""
    branch = git.text("symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip()
    if not branch:
        return None
    remote = git.config_get(f"branch.{branch}.remote")
    merge = git.config_get(f"branch.{branch}.merge")
    if not remote or not merge or remote == ".":
        return None
    tracking = git.text(
        "rev-parse", "--symbolic-full-name", f"{branch}@{{upstream}}", check=False
    ).strip()
    if not tracking.startswith("refs/remotes/"):
        return None
    return remote, merge, tracking


def _default_base(git: Git) -> str:
    """origin's default branch, else the current branch's upstream branch, else main."""
    head = git.text("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD", check=False).strip()
    if head.startswith("refs/remotes/origin/"):
        return head.removeprefix("refs/remotes/origin/")
    upstream_ = upstream(git)
    if upstream_ is not None and upstream_[0] == "origin":
        return upstream_[1].removeprefix("refs/heads/")
    return "main"


_UNSAFE_BRANCH = re.compile(r"[\x00-\x20~^:?*\[\\\x7f]|\.\.|@\{|//|/\.|\.lock(/|$)|^/|/$|\.$")


def _valid_branch(git: Git, branch: str) -> bool:
    if not branch or _UNSAFE_BRANCH.search(branch):
        return False
    done = git.run("check-ref-format", "--branch", branch, check=False)
    return bool(done.strip())
