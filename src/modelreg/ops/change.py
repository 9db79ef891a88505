"""One registry change: read, checked, written and landed as one transaction.

Every command that writes the registry (register, deprecate, the edits behind the
MLflow plugin, import-mlflow, init, promote, rollback) is a few lines on
:class:`Change`::

    with Change.open(repo) as change:          # repo found once, lock taken
        version = change.registry.version(...)  # one snapshot, read under the lock
        ...checks...
        change.put_manifest(path, document, "version")
        sha = change.commit(message)            # or change.write(), or a pull request

What it guarantees:

* **One writer at a time.** A lock (a thread lock and ``flock`` on a file in the git
  directory) is held from the first read to the last write, so two promotions of one
  stage in one clone run one after the other, and the second reads what the first
  wrote: its gates and its ``previous`` are judged against the version now there.
* **All or nothing, even under ``kill -9``.** Before the working tree changes, a
  journal in the git directory records HEAD, the earlier content of every file the
  change touches (as git blobs) and the folders it creates. New content is staged in
  the git directory (never as stray files in the tree). The commit is built with git
  plumbing from HEAD's tree, signed as the user's config asks, and HEAD moves by
  compare-and-swap: a commit made meanwhile by anyone fails the change instead of
  being lost. Only then do files move into place, and the journal goes last. If the
  process dies at any point, the next modelreg command that opens the registry
  finds the journal with the lock free and settles it: forward when HEAD already is
  the change's commit, otherwise back to exactly what was there. An exception does
  the same at once.
* **The user's setup is kept**: files are created with the umask's mode, commits are
  signed per ``commit.gpgsign``, and nothing else in the index is touched (a user's
  staged work stays staged, and is never swept into the commit).

A change lands in one of three ways: :meth:`Change.commit` (one commit on the
current branch), :meth:`Change.write` (files only, for the user to commit), or, for a
change opened with ``pull=``, :meth:`Change.land` opens a pull request from a branch
built on the fetched base (:mod:`modelreg.ops.landing`), without touching the working
tree at all.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelreg.core.errors import ConflictError, GitError, InputError
from modelreg.core.git import Git
from modelreg.core.registry import Registry
from modelreg.core.source import WorktreeSource, find_repo_root
from modelreg.core.yaml_io import new_file_mode, write_bytes_atomic
from modelreg.ops.landing import Landed, PullRequestBase, blob_at, blob_id, commit_on, upstream

if TYPE_CHECKING:
    from modelreg.integrations.github import GitHub

__all__ = ["Change", "Pull", "PullSpec", "Step", "commit_message", "settle", "write_lock"]

Clock = Callable[[], datetime]

_LOCK_TIMEOUT_S = 120.0
_THREAD_LOCK = threading.RLock()
_HELD = threading.local()


def commit_message(subject: str, trailers: Mapping[str, object], body: str = "") -> str:
    """A commit message in modelreg's shape: subject, optional body, ``Modelreg-*``
    trailers (git reads them back with ``%(trailers)``). Empty values are left out and
    each value is kept to one line."""
    lines = "".join(
        f"Modelreg-{key}: {' '.join(str(value).split())}\n"
        for key, value in trailers.items()
        if value is not None and str(value).strip()
    )
    text = body.strip()
    return f"{subject}\n\n{text + chr(10) + chr(10) if text else ''}{lines}"


# --- the lock ----------------------------------------------------------------------------


def _git_dir(root: Path) -> Path:
    """The repository's git directory (``.git``, or where a ``.git`` file points)."""
    dot_git = root / ".git"
    if dot_git.is_dir():
        return dot_git
    out = Git(root).text("rev-parse", "--absolute-git-dir").strip()
    return Path(out)


def _state_dir(root: Path) -> Path:
    folder = _git_dir(root) / "modelreg"
    folder.mkdir(exist_ok=True)
    return folder


@contextlib.contextmanager
def write_lock(root: Path, *, timeout: float = _LOCK_TIMEOUT_S) -> Iterator[None]:
    """One writer at a time in ``root``'s repository, across threads and processes.

    Re-entrant within a thread (a plugin call that takes the lock may run a command
    that takes it again). A writer that waits longer than ``timeout`` gives up with one
    line naming the process that holds it.
    """
    depth = getattr(_HELD, "depth", 0)
    if depth:
        _HELD.depth = depth + 1
        try:
            yield
        finally:
            _HELD.depth -= 1
        return
    deadline = time.monotonic() + timeout
    if not _THREAD_LOCK.acquire(timeout=timeout):
        raise ConflictError(_busy(root, timeout))
    try:
        path = _state_dir(root) / "lock"
        with path.open("a+") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() > deadline:
                        raise ConflictError(_busy(root, timeout)) from None
                    time.sleep(0.02)
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            _HELD.depth = 1
            try:
                yield
            finally:
                _HELD.depth = 0
                fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        _THREAD_LOCK.release()


def _busy(root: Path, timeout: float) -> str:
    with contextlib.suppress(OSError):
        pid = (_git_dir(root) / "modelreg" / "lock").read_text().strip()
        if pid:
            return (
                f"another modelreg command (process {pid}) is changing this repository; "
                f"gave up waiting after {timeout:g} s: run it again when that one is done"
            )
    return f"another modelreg command is changing this repository; gave up after {timeout:g} s"


# --- the journal -------------------------------------------------------------------------


@dataclass
class _Journal:
    """What a change in progress has done, so that a killed one can be settled."""

    head: str | None
    files: dict[str, str | None] = field(default_factory=dict)
    """Each touched path -> the git blob of its earlier content (None: it did not exist)."""
    folders: list[str] = field(default_factory=list)
    """Folders the change created (removed again if it does not land)."""
    moves: list[tuple[str, str]] = field(default_factory=list)
    """Folders the change moved (old, new)."""
    commit: str | None = None
    """The change's commit, once it is built: HEAD at that commit means it landed."""
    index: bool = False
    """Whether the change's paths are to be staged as in its commit."""

    def save(self, path: Path) -> None:
        write_bytes_atomic(path, json.dumps(asdict(self)).encode())

    @classmethod
    def load(cls, path: Path) -> _Journal | None:
        try:
            raw = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            raw = {}
        return cls(
            head=raw.get("head"),
            files=dict(raw.get("files") or {}),
            folders=list(raw.get("folders") or []),
            moves=[(a, b) for a, b in raw.get("moves") or []],
            commit=raw.get("commit"),
            index=bool(raw.get("index")),
        )


def settle(root: Path) -> None:
    """Finish or undo a change that a killed modelreg process left half done.

    Cheap when there is nothing to do (one ``stat``). Only acts when the writer's lock
    is free, i.e. the process that wrote the journal is gone.
    """
    state = _git_dir(root) / "modelreg"  # a stat when .git is a folder; no git process
    if not (state / "journal.json").exists():
        return
    with write_lock(root):
        _settle_locked(Git(root), state)


def _settle_locked(git: Git, state: Path) -> None:
    journal = _Journal.load(state / "journal.json")
    if journal is None:
        return
    _clear_git_locks(state.parent)
    head = git.head_commit()
    if journal.commit is not None and head == journal.commit:
        _roll_forward(git, journal)
    else:
        _roll_back(git, journal)
    (state / "journal.json").unlink(missing_ok=True)
    shutil.rmtree(state / "staged", ignore_errors=True)


_GIT_LOCK_GRACE_S = 2.0


def _clear_git_locks(git_dir: Path) -> None:
    """Remove the lock files of git commands the killed writer ran (``index.lock``,
    ``HEAD.lock``, a branch's ``.lock``): git would refuse every later write while
    they exist. A lock a live git command holds goes away within moments, so each is
    given a short grace period first."""
    locks = [git_dir / "index.lock", git_dir / "HEAD.lock"]
    locks += (git_dir / "refs" / "heads").rglob("*.lock")
    deadline = time.monotonic() + _GIT_LOCK_GRACE_S
    for lock in locks:
        while lock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        lock.unlink(missing_ok=True)


def _roll_forward(git: Git, journal: _Journal) -> None:
    """The commit landed: make the working tree and the index show it."""
    root = git.root
    assert journal.commit is not None
    for old, new in journal.moves:
        if (root / old).exists() and not (root / new).exists():
            (root / old).rename(root / new)
    paths = list(journal.files)
    with git.blobs() as reader:
        for path in paths:
            data = reader.read(f"{journal.commit}:{path}")
            _place(root / path, data)
    _stage(git, paths)


def _roll_back(git: Git, journal: _Journal) -> None:
    """The commit did not land: put every file, folder and index entry back."""
    root = git.root
    with git.blobs() as reader:
        for path, blob in journal.files.items():
            _place(root / path, reader.read(blob) if blob else None)
    for folder in reversed(journal.folders):
        shutil.rmtree(root / folder, ignore_errors=True)
    for old, new in reversed(journal.moves):
        if (root / new).exists() and not (root / old).exists():
            (root / new).rename(root / old)
    if journal.index and journal.files:
        _unstage(git, journal.head, list(journal.files))


def _place(target: Path, data: bytes | None) -> None:
    if data is None:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            target.unlink()
        return
    with contextlib.suppress(FileNotFoundError):
        if target.read_bytes() == data:
            return
    write_bytes_atomic(target, data)


def _stage(git: Git, paths: list[str]) -> None:
    """Index entries of ``paths`` as the working tree has them (removed where gone)."""
    if paths:
        git.run("update-index", "--add", "--remove", "--", *paths)


def _unstage(git: Git, head: str | None, paths: list[str]) -> None:
    """Index entries of ``paths`` as ``head`` has them."""
    if head is None:
        git.run("rm", "-q", "-r", "--cached", "--ignore-unmatch", "--", *paths, check=False)
    else:
        git.run("reset", "-q", head, "--", *paths, check=False)


# --- the change --------------------------------------------------------------------------


@dataclass(frozen=True)
class Pull:
    """Land as a pull request against ``base`` (default: origin's default branch),
    through ``github`` (default: a client from the environment, closed afterwards)."""

    github: GitHub | None = None
    base: str | None = None


@dataclass(frozen=True)
class Step:
    """One more commit after a change's own, for :meth:`Change.commit`'s ``series``: an
    import replaying someone else's history, each step by its original author."""

    message: str
    changes: Mapping[str, bytes | None]
    author: tuple[str, str, str] | None = None
    """(name, email, ISO date) of the step's author; the committer is the user."""


@dataclass(frozen=True)
class PullSpec:
    """The pull request a change opens, when it lands as one."""

    branch: str
    title: str
    body: Callable[[], str]


class Change:
    """One transaction on the registry; see the module docstring. Make it with
    :meth:`open`."""

    def __init__(
        self,
        git: Git,
        registry: Registry,
        now: datetime,
        state: Path,
        base: PullRequestBase | None,
    ) -> None:
        self.git = git
        self.root = git.root
        self.registry = registry
        """The registry as it is now, read once, under the lock."""
        self.now = now
        """The change's one clock reading (whole seconds, UTC)."""
        self.base = base
        """Where a pull request would be based, for a change opened with ``pull=``."""
        self.warnings: list[str] = []
        self.changed: tuple[str, ...] = ()
        """The paths the change altered, once it has landed."""
        self._state = state
        self._staged: dict[str, bytes | None] = {}
        self._adopted: set[str] = set()
        self.head = git.head_commit() if base is None else base.commit
        """The commit the change builds on: HEAD, or the fetched base of a pull request."""
        self._journal = _Journal(head=self.head)
        self._journal_saved = False

    @classmethod
    @contextlib.contextmanager
    def open(
        cls,
        repo: str | Path | None = None,
        *,
        now: Clock | None = None,
        pull: Pull | None = None,
    ) -> Iterator[Change]:
        """Find the repository once, take the lock, settle a killed writer's change,
        read the registry; on any exception inside the block, undo everything."""
        root = find_repo_root(Path(repo) if repo is not None else Path.cwd())
        git = Git(root)
        moment = (now or (lambda: datetime.now(UTC)))().replace(microsecond=0)
        with contextlib.ExitStack() as stack:
            stack.enter_context(write_lock(root))
            state = _state_dir(root)
            _settle_locked(git, state)
            base = None
            if pull is not None:
                github = pull.github
                if github is None:
                    from modelreg.integrations.github import GitHub

                    github = stack.enter_context(GitHub.from_environment())
                base = PullRequestBase.fetch(git, github, pull.base)
            registry = base.registry() if base else Registry(root, WorktreeSource(root), git=git)
            change = cls(git, registry, moment, state, base)
            try:
                with registry:
                    yield change
            except BaseException:
                change._undo()
                raise
            else:
                change._undo()  # a change left unlanded leaves nothing behind

    # --- what the change writes ------------------------------------------------------

    def put(self, path: str, data: bytes | None) -> None:
        """Stage ``path``'s new content (None removes it); nothing is written yet."""
        self._check_path(path)
        self._staged[path] = data

    def put_manifest(self, path: str, document: dict[str, Any], kind: str) -> bytes:
        """Stage a registry file holding ``document``, checked against its schema. An
        existing file keeps its comments and key order outside the changed fields."""
        from modelreg.core.yaml_edit import manifest_bytes

        old = self._staged.get(path) if path in self._staged else self._current(path)
        data = manifest_bytes(path, document, kind, old=old)
        self.put(path, data)
        return data

    def staged(self, path: str) -> bytes | None:
        """What the change has staged for ``path`` (None: nothing, or a removal)."""
        return self._staged.get(path)

    def new_folder(self, path: str) -> Path:
        """Create folder ``path`` (and missing parents) for files a tool writes in place
        (DVC); it is removed again if the change does not land."""
        self._check_path(path)
        target = self.root / path
        if target.exists():
            raise ConflictError(f"{path} already exists; remove it first")
        self._record_folders(path)
        target.mkdir(parents=True)
        return target

    def adopt(self, path: str) -> None:
        """``path`` is (about to be) written in place by a tool; its content at landing
        joins the change. Call it before the tool writes: the earlier content is kept."""
        self._check_path(path)
        self._backup([path])
        self._adopted.add(path)
        # A tool may stage what it writes (dvc init does): undoing restores the index too.
        self._journal.index = True
        self._save()

    def move_folder(self, old: str, new: str) -> None:
        """Move folder ``old`` to ``new`` now (moved back if the change does not land)."""
        self._check_path(old)
        self._check_path(new)
        if (self.root / new).exists():
            raise ConflictError(f"{new} already exists; remove it first")
        self._record_folders(new, parents_only=True)
        self._journal.moves.append((old, new))
        self._save()
        (self.root / new).parent.mkdir(parents=True, exist_ok=True)
        (self.root / old).rename(self.root / new)

    def refuse_dirty(self, *paths: str) -> None:
        """Refuse when a path differs between HEAD, the index and the working tree:
        someone's unfinished edit there must not be swept into the commit (read
        directly: ``git status`` would stat every file of a large registry). A change
        landing as a pull request never touches the working tree: nothing to refuse."""
        if self.base is not None:
            return
        head = self._journal.head
        for path in paths:
            in_head = blob_at(self.git, head, path) if head else ""
            staged = self.git.text("ls-files", "--stage", "--", path).split()
            index = staged[1] if len(staged) >= 2 else ""
            data = self._current(path)
            sha256 = len(in_head or index) == 64
            on_disk = blob_id(data, sha256=sha256) if data is not None else ""
            if not in_head == index == on_disk:
                raise ConflictError(
                    f"{path} has uncommitted changes; commit or discard them first "
                    f"(git diff -- {path})"
                )

    def check_concurrent(
        self,
        path: str,
        what: str,
        *,
        prefix: str | None,
        refuse: bool = True,
        read: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Refuse a change that could only conflict with one made elsewhere.

        Landing here: when the branch's upstream changed ``path`` after this clone's
        last pull (an unreachable upstream is a warning: git still refuses the push if
        the two meet there), or changed one of the files in ``read`` (path, what) that
        the change was decided on: a version deprecated upstream must not be promoted
        by a stale clone, though git would rebase the two changes without a conflict.
        Landing as a pull request: when an open pull request from a branch under
        ``prefix`` already changes the same thing (without ``refuse``, a warning); the
        change was then decided on the base's own files.
        """
        if self.base is not None:
            if prefix is not None:
                self.base.check_open_pulls(prefix, what, refuse=refuse)
            return
        found = upstream(self.git)
        if found is None:
            return
        remote, branch, tracking = found
        try:
            self.git.run("fetch", "--quiet", "--no-tags", remote, f"+{branch}:{tracking}")
        except GitError as exc:
            self.warnings.append(
                f"could not fetch {remote} to look for newer changes of {what}: {exc}"
            )
            return
        base = self.git.text("merge-base", "HEAD", tracking, check=False).strip()
        if not base:
            return
        watched_paths = [path, *(p for p, _ in read)]
        changed = set(
            self.git.text(
                "diff", "--name-only", "-z", "--no-renames", base, tracking, "--", *watched_paths
            ).split("\0")
        )
        for watched, named in ((path, what), *read):
            if watched not in changed:
                continue
            last = self.git.text(
                "log", "-1", "--format=%h by %an, %ar: %s", tracking, "--", watched
            ).strip()
            short = tracking.removeprefix("refs/remotes/")
            conflict = (
                "a second change would conflict with it"
                if watched == path
                else f"this change of {what} was decided on the old state"
            )
            raise ConflictError(
                f"{short} changed {named} after this clone last pulled ({last}); {conflict}. "
                f"Update first with 'git pull --rebase' (if a local commit of yours changes "
                f"{watched} too, drop it), check the state with 'modelreg show', then run the "
                "command again"
            )

    # --- landing ---------------------------------------------------------------------

    def land(self, message: str, *, pull: PullSpec | None = None) -> Landed | None:
        """Land the change: as a pull request when opened with ``pull=``, else as one
        commit on the current branch. None when nothing would change."""
        if self.base is not None:
            if pull is None:
                raise InputError("this change was opened for a pull request")
            edits = dict(self._staged)
            for path in self._adopted:
                edits[path] = self._current(path)
            landed = self.base.land(
                edits, message, branch=pull.branch, title=pull.title, body=pull.body()
            )
            self._finish()
            warnings = (*landed.warnings, *self.warnings)
            return Landed(landed.commit, landed.branch, landed.pull, warnings)
        sha = self.commit(message)
        return None if sha is None else Landed(sha, warnings=tuple(self.warnings))

    def commit(self, message: str, *, series: Sequence[Step] = ()) -> str | None:
        """One commit of exactly the change's files on HEAD, HEAD moved by
        compare-and-swap; then the files and their index entries. None if nothing
        would change. ``series`` adds commits after it (each its own files, message
        and author), landed together: HEAD moves once, to the last."""
        changes = self._changes()
        final: dict[str, bytes | None] = dict(changes)
        for step in series:
            for path in step.changes:
                self._check_path(path)
            final.update(step.changes)
        self.changed = tuple(final)
        if not final:
            self._finish()
            return None
        # Files a tool wrote in place were checked by the caller before the tool ran.
        self.refuse_dirty(
            *(
                p
                for p in final
                if p not in self._adopted and not self._in_new_folder(p) and not self._under_move(p)
            )
        )
        head = self._journal.head
        self._journal.index = True
        self._backup(list(final))
        sha = commit_on(self.git, head, changes, message) if changes else head
        for step in series:
            sha = commit_on(self.git, sha, step.changes, step.message, author=step.author)
        assert sha is not None
        self._journal.commit = sha
        self._save()
        try:
            self.git.run(
                "update-ref", "-m", f"commit: {message.splitlines()[0]}", "HEAD", sha, head or ""
            )
        except GitError:
            raise ConflictError(
                "HEAD moved while this change was being made (a commit, a checkout or a "
                "pull happened meanwhile); nothing was changed: run the command again"
            ) from None
        self._place_all(final)
        _stage(self.git, list(final))
        self._finish()
        return sha

    def apply(self, message: str, *, commit: bool) -> str | None:
        """What a writer's ``commit`` flag asks: one commit with ``message`` (its id, or
        None when nothing would change), or the files only (None)."""
        if commit:
            return self.commit(message)
        self.write()
        return None

    def write(self) -> list[str]:
        """Write the change's files into the working tree without committing (for the
        user to review and commit); returns the paths that changed."""
        changes = self._changes()
        self.changed = tuple(changes)
        if changes:
            self._backup(list(changes))
            self._place_all(changes)
        self._finish()
        return list(changes)

    # --- internals -------------------------------------------------------------------

    def _changes(self) -> dict[str, bytes | None]:
        """Every path whose content the change alters -> its new content."""
        changes: dict[str, bytes | None] = {}
        for path, data in self._staged.items():
            if data != self._current(path) or self._under_move(path):
                changes[path] = data
        for path in self._adopted:
            data = self._current(path)
            if data != self._earlier(path) or self._in_new_folder(path):
                changes[path] = data
        return changes

    def _under_move(self, path: str) -> bool:
        """Paths in a moved folder change in the commit though the tree already shows it."""
        return any(path.startswith((f"{old}/", f"{new}/")) for old, new in self._journal.moves)

    def _earlier(self, path: str) -> bytes | None:
        blob = self._journal.files.get(path)
        return self.git.run("cat-file", "blob", blob) if blob else None

    def _current(self, path: str) -> bytes | None:
        try:
            return (self.root / path).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def _backup(self, paths: list[str]) -> None:
        """Record the earlier content of ``paths`` (as blobs) before anything changes."""
        new = [p for p in paths if p not in self._journal.files]
        if not new:
            return
        existing = [p for p in new if (self.root / p).is_file()]
        blobs: list[str] = []
        if existing:
            out = self.git.text("hash-object", "-w", "--no-filters", "--", *existing)
            blobs = out.split()
        found = dict(zip(existing, blobs, strict=True))
        for path in new:
            self._journal.files[path] = found.get(path)
            if path not in found and not self._under_move(path):
                self._record_folders(str(Path(path).parent), parents_only=False, save=False)
        self._save()

    def _record_folders(self, path: str, *, parents_only: bool = False, save: bool = True) -> None:
        """Note the top-most folder on ``path`` that does not exist yet: the change
        creates it, and removes it again if it does not land."""
        parts = Path(path).parts
        if parents_only:
            parts = parts[:-1]
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth])
            if not (self.root / folder).exists():
                if folder not in self._journal.folders:
                    self._journal.folders.append(folder)
                break
        if save:
            self._save()

    def _in_new_folder(self, path: str) -> bool:
        return any(path.startswith(f"{f}/") for f in self._journal.folders)

    def _place_all(self, changes: Mapping[str, bytes | None]) -> None:
        staging = self._state / "staged"
        staging.mkdir(exist_ok=True)
        mode = new_file_mode()
        for path, data in changes.items():
            target = self.root / path
            if path in self._adopted:
                continue
            if data is None:
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = staging / uuid.uuid4().hex
            with tmp.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            keep = target.stat().st_mode & 0o777 if target.is_file() else mode
            tmp.chmod(keep)
            try:
                tmp.replace(target)
            except OSError as exc:  # the git directory on another file system
                tmp.unlink(missing_ok=True)
                if exc.errno != errno.EXDEV:
                    raise
                write_bytes_atomic(target, data)

    def _save(self) -> None:
        self._journal.save(self._state / "journal.json")
        self._journal_saved = True

    def _finish(self) -> None:
        """The change is complete: forget the journal."""
        if self._journal_saved:
            (self._state / "journal.json").unlink(missing_ok=True)
        shutil.rmtree(self._state / "staged", ignore_errors=True)
        self._journal = _Journal(head=self._journal.head)
        self._journal_saved = False
        self._staged.clear()
        self._adopted.clear()

    def _undo(self) -> None:
        if self._journal_saved:
            _settle_locked(self.git, self._state)
            self._journal_saved = False
        self._staged.clear()
        self._adopted.clear()

    def _check_path(self, path: str) -> None:
        parts = path.split("/")
        if not path or path.startswith("/") or any(p in ("", ".", "..", ".git") for p in parts):
            raise InputError(f"{path!r} is not a path inside the repository")
