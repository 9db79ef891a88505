"""Where a pointer change lands: a commit on the current branch, or a pull request.

``promote`` and ``rollback`` both end in the same shape: one commit that changes
only pointer files of one model, with a message carrying ``Modelreg-*`` trailers.
This module owns that last step, so the two commands cannot drift apart.

* :class:`Worktree` writes the files and commits them on the current branch. It
  first asks the branch's upstream whether someone else changed the same pointer
  since this clone last pulled: the second of two concurrent promotions of one
  stage is refused here, before it makes a commit that could only conflict.
* :class:`PullRequestBase` builds the commit on top of the base branch as fetched
  from origin, without touching the working tree, index or current branch
  (git plumbing on a private index), pushes it to a new branch, and opens the
  pull request through the GitHub client.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from modelreg._errors import ConflictError, GitError, InputError
from modelreg._git import Git
from modelreg._git_source import GitRevisionSource
from modelreg._registry import Registry
from modelreg._source import WorktreeSource
from modelreg._yaml import write_bytes_atomic

if TYPE_CHECKING:
    from modelreg._github import GitHub, PullRequest

__all__ = [
    "BRANCH_PREFIX",
    "Edit",
    "Landed",
    "PullRequestBase",
    "Worktree",
    "landed_json",
    "trailers",
]

BRANCH_PREFIX = "modelreg"


@dataclass(frozen=True)
class Edit:
    """The new content of one pointer file; None deletes it."""

    path: str
    content: bytes | None


@dataclass(frozen=True)
class Landed:
    commit: str
    branch: str | None = None
    pull: PullRequest | None = None
    warnings: tuple[str, ...] = ()


class _LandedResult(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def commit(self) -> str: ...
    @property
    def branch(self) -> str | None: ...
    @property
    def pull(self) -> PullRequest | None: ...
    @property
    def warnings(self) -> tuple[str, ...]: ...


def landed_json(result: _LandedResult) -> dict[str, Any]:
    """Where a promotion or rollback landed, for ``--json``."""
    pull = result.pull
    return {
        "path": result.path,
        "commit": result.commit,
        "branch": result.branch,
        "pull_request": {"number": pull.number, "url": pull.html_url} if pull else None,
        "warnings": list(result.warnings),
    }


def trailers(pairs: list[tuple[str, str]]) -> str:
    """``Key: value`` lines git reads back with ``%(trailers)``; values kept to one line."""
    return "".join(f"{key}: {' '.join(value.split())}\n" for key, value in pairs if value)


def _short(sha: str) -> str:
    return sha[:10]


@dataclass
class Worktree:
    """Commit on the current branch, in the working tree."""

    git: Git
    warnings: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return "the working tree"

    def registry(self) -> Registry:
        return Registry(self.git.root, WorktreeSource(self.git.root), git=self.git)

    def head(self) -> str:
        head = self.git.head_commit()
        if head is None:
            raise ConflictError("this repository has no commits yet; commit the registry first")
        return head

    def check_clean(self, path: str) -> None:
        """Refuse when ``path`` differs between HEAD, the index and the working tree
        (read directly: git status would stat every file of a large registry)."""
        head = _blob(self.git, "HEAD", path)
        staged = self.git.text("ls-files", "--stage", "--", path).split()
        index = staged[1] if len(staged) >= 2 else ""
        try:
            data: bytes | None = (self.git.root / path).read_bytes()
        except FileNotFoundError:
            data = None
        sha256 = len(head or index) == 64
        on_disk = _blob_id(data, sha256=sha256) if data is not None else ""
        if not head == index == on_disk:
            raise ConflictError(
                f"{path} has uncommitted changes; commit or discard them first (git diff -- {path})"
            )

    def check_upstream(self, path: str, what: str) -> None:
        """Refuse when the branch's upstream changed ``path`` after this clone's last pull.

        An unreachable upstream is a warning, not a refusal: the push will still be
        refused by git if the two promotions meet there.
        """
        upstream = _upstream(self.git)
        if upstream is None:
            return
        remote, branch, tracking = upstream
        try:
            self.git.run("fetch", "--quiet", "--no-tags", remote, f"+{branch}:{tracking}")
        except GitError as exc:
            self.warnings.append(
                f"could not fetch {remote} to look for newer changes of {what}: {exc}"
            )
            return
        base = self.git.text("merge-base", "HEAD", tracking, check=False).strip()
        theirs = _blob(self.git, tracking, path)
        if not base or _blob(self.git, base, path) == theirs:
            return
        last = self.git.text(
            "log", "-1", "--format=%h by %an, %ar: %s", tracking, "--", path
        ).strip()
        short = tracking.removeprefix("refs/remotes/")
        raise ConflictError(
            f"{short} changed {what} after this clone last pulled ({last}); a second change "
            f"would conflict with it. Update first with 'git pull --rebase' (if a local commit "
            f"of yours changes {path} too, drop it), check the state with 'modelreg show', "
            "then run the command again"
        )

    def land(self, edits: list[Edit], message: str) -> Landed:
        """Commit ``edits`` on HEAD without git's whole-index commit: the new tree is built
        from HEAD's (only the folders on the edited paths are rewritten), HEAD moves only
        if it still points where it did (a concurrent commit makes this fail, not lose
        work), then the files and their index entries follow."""
        head = self.head()
        sha = _commit_on(self.git, head, edits, message)
        self.git.run("update-ref", "-m", f"commit: {message.splitlines()[0]}", "HEAD", sha, head)
        for edit in edits:
            target = self.git.root / edit.path
            if edit.content is None:
                target.unlink(missing_ok=True)
            else:
                write_bytes_atomic(target, edit.content)
        self.git.run("update-index", "--add", "--remove", "--", *(e.path for e in edits))
        return Landed(sha, warnings=tuple(self.warnings))


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
        self, edits: list[Edit], message: str, *, branch: str, title: str, body: str
    ) -> Landed:
        if not _valid_branch(self.git, branch):
            raise InputError(f"cannot make a branch name from {branch!r}")
        sha = _commit_on(self.git, self.commit, edits, message)
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


def _commit_on(git: Git, parent: str, edits: list[Edit], message: str) -> str:
    """A commit of ``parent``'s tree with ``edits`` applied; returns its id.

    Only the trees on the edited paths are read and written again (a handful of
    small git calls), so the cost does not grow with the size of the registry, and
    neither the index nor the working tree is involved.
    """
    changes: dict[str, bytes | None] = {e.path: e.content for e in edits}
    tree = _rebuild(git, f"{parent}^{{tree}}", changes)
    if tree is None:
        raise ConflictError("the change would leave the repository empty")
    return git.commit_tree(tree, [parent], message)


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


def _blob_id(data: bytes, *, sha256: bool = False) -> str:
    """The id git gives a blob of ``data``."""
    digest = hashlib.sha256 if sha256 else hashlib.sha1
    return digest(b"blob %d\0" % len(data) + data).hexdigest()


def _blob(git: Git, rev: str, path: str) -> str:
    return git.text("rev-parse", "--verify", "--quiet", f"{rev}:{path}", check=False).strip()


def _upstream(git: Git) -> tuple[str, str, str] | None:
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
    upstream = _upstream(git)
    if upstream is not None and upstream[0] == "origin":
        return upstream[1].removeprefix("refs/heads/")
    return "main"


_UNSAFE_BRANCH = re.compile(r"[\x00-\x20~^:?*\[\\\x7f]|\.\.|@\{|//|/\.|\.lock(/|$)|^/|/$|\.$")


def _valid_branch(git: Git, branch: str) -> bool:
    if not branch or _UNSAFE_BRANCH.search(branch):
        return False
    done = git.run("check-ref-format", "--branch", branch, check=False)
    return bool(done.strip())
