"""The one place modelreg talks to git: the ``git`` CLI, run as a subprocess.

:class:`Git` is the seam: tests and callers pass a repository root, and every
command runs with a fixed locale and no prompts, so its output can be parsed.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from modelreg.core.errors import GitError, InputError
from modelreg.core.trace import trace, tracing

__all__ = ["BlobReader", "Git", "TreeEntry", "is_null_sha"]

_ZERO_SHA = "0" * 40


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    kind: str  # "blob", "tree" or "commit"
    sha: str
    path: str

    @property
    def is_symlink(self) -> bool:
        return self.mode == "120000"


class Git:
    """Runs git commands in one repository."""

    def __init__(self, root: Path, *, extra_env: Mapping[str, str] | None = None) -> None:
        self.root = root
        env = dict(os.environ)
        env.update(
            {
                "LC_ALL": "C",
                "LANG": "C",
                "GIT_TERMINAL_PROMPT": "0",
                # Read-only commands must not take index.lock from a concurrent writer.
                "GIT_OPTIONAL_LOCKS": "0",
            }
        )
        env.update(extra_env or {})
        self.env = env

    def run(
        self,
        *args: str,
        input_bytes: bytes | None = None,
        check: bool = True,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> bytes:
        """Run ``git args...`` and return its stdout; :class:`GitError` on failure.
        ``env`` adds variables for this one command."""
        started = time.perf_counter() if tracing() else None
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=self.root,
                env={**self.env, **env} if env else self.env,
                input=input_bytes,
                capture_output=True,
                check=False,
                timeout=timeout,
            )
        except FileNotFoundError:
            raise GitError("git is not installed or not on PATH") from None
        except subprocess.TimeoutExpired:
            raise GitError(f"git {args[0]} did not finish in {timeout:g} s") from None
        if started is not None:
            elapsed = (time.perf_counter() - started) * 1000
            trace(f"git {' '.join(args)}: exit {done.returncode}, {elapsed:.0f} ms")
        if check and done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip().splitlines()
            detail = " ".join(line.strip() for line in message[:3]) or f"exit {done.returncode}"
            raise GitError(f"git {args[0]} failed: {detail}")
        return done.stdout

    def text(self, *args: str, check: bool = True) -> str:
        return self.run(*args, check=check).decode("utf-8", "replace")

    # --- revisions ---------------------------------------------------------------------

    def resolve_commit(self, rev: str) -> str:
        """The full commit id ``rev`` names; :class:`GitError` saying so if none."""
        if rev.startswith("-"):
            raise InputError(f"{rev!r} is not a revision")
        out = self.run(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", check=False
        )
        sha = out.decode().strip()
        if not sha:
            raise GitError(f"unknown revision {rev!r}: no such branch, tag or commit here")
        return sha

    def head_commit(self) -> str | None:
        """HEAD's commit id, or None in a repository without commits."""
        out = self.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
        return out.decode().strip() or None

    def is_dirty(self, paths: Sequence[str] = ()) -> bool:
        out = self.run("status", "--porcelain", "--untracked-files=no", "--", *paths)
        return bool(out.strip())

    def config_get(self, key: str) -> str | None:
        out = self.run("config", "--get", key, check=False)
        return out.decode("utf-8", "replace").strip() or None

    def author_identity(self) -> str:
        """``Name <email>`` as git would record it for a commit made now."""
        ident = self.text("var", "GIT_AUTHOR_IDENT", check=False).strip()
        if not ident:
            return ""
        # "Name <email> 1700000000 +0000": drop the timestamp and zone.
        return ident.rsplit(" ", 2)[0]

    # --- trees and blobs ---------------------------------------------------------------

    def ls_tree(self, commit: str, paths: Sequence[str]) -> list[TreeEntry]:
        """Every blob under ``paths`` at ``commit`` (recursive)."""
        out = self.run("ls-tree", "-r", "-z", "--full-tree", commit, "--", *paths)
        entries = []
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, path = record.split(b"\t", 1)
            mode, kind, sha = meta.decode().split(" ")
            entries.append(TreeEntry(mode, kind, sha, path.decode("utf-8", "surrogateescape")))
        return entries

    def blobs(self) -> BlobReader:
        """A long-lived ``git cat-file --batch`` for reading many objects quickly."""
        return BlobReader(self)

    def changed_paths(
        self, base: str, paths: Sequence[str], untracked: Sequence[str] | None = None
    ) -> list[tuple[str, str]]:
        """(status letter, path) for files under ``paths`` that differ between ``base``
        and the working tree, plus untracked files under ``untracked`` (default:
        ``paths``) as "A". The two git commands run side by side."""
        diff = self._start("diff", "--name-status", "-z", "--no-renames", base, "--", *paths)
        others = self._start(
            "ls-files",
            "--others",
            "--exclude-standard",
            "-z",
            "--",
            *(paths if untracked is None else untracked),
        )
        diff_out = self._finish(diff, "diff")
        others_out = self._finish(others, "ls-files")
        fields = [f.decode("utf-8", "surrogateescape") for f in diff_out.split(b"\0") if f]
        changes = [(fields[i][0], fields[i + 1]) for i in range(0, len(fields) - 1, 2)]
        changes += [
            ("A", p.decode("utf-8", "surrogateescape")) for p in others_out.split(b"\0") if p
        ]
        return changes

    def _start(self, *args: str) -> subprocess.Popen[bytes]:
        try:
            return subprocess.Popen(
                ["git", *args],
                cwd=self.root,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except FileNotFoundError:
            raise GitError("git is not installed or not on PATH") from None

    def _finish(self, process: subprocess.Popen[bytes], name: str) -> bytes:
        out, err = process.communicate()
        if process.returncode != 0:
            detail = " ".join(err.decode("utf-8", "replace").split()[:40])
            raise GitError(f"git {name} failed: {detail or f'exit {process.returncode}'}")
        return out

    # --- writing -----------------------------------------------------------------------

    def add(self, paths: Iterable[str]) -> None:
        self.run("add", "--", *paths)

    def signing_args(self) -> list[str]:
        """The flags that sign a commit the way the user's git config asks.

        Every commit modelreg makes takes its signing from here. ``git commit``
        reads ``commit.gpgsign`` itself, but ``git commit-tree`` is plumbing and
        never does: without ``-S`` a promotion would be unsigned where the branch
        requires signed commits. A bare ``-S`` lets git pick the key from
        ``user.signingkey`` and the kind (OpenPGP, SSH, X.509) from ``gpg.format``.
        """
        done = subprocess.run(
            ["git", "config", "--type=bool", "--get", "commit.gpgsign"],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            check=False,
        )
        if done.returncode == 1:  # not set
            return []
        if done.returncode != 0:
            detail = " ".join(done.stderr.decode("utf-8", "replace").split())
            raise GitError(f"cannot read commit.gpgsign from the git config: {detail}")
        return ["-S"] if done.stdout.strip() == b"true" else ["--no-gpg-sign"]

    def commit_tree(
        self,
        tree: str,
        parents: Sequence[str],
        message: str,
        *,
        author: tuple[str, str, str] | None = None,
    ) -> str:
        """A commit object of ``tree`` on ``parents``, signed as configured; its id.
        No ref moves: the caller decides where the commit goes. ``author`` (name,
        email, ISO date) records someone else's change, as an import does; the
        committer stays the user."""
        sign = self.signing_args()
        args = ["commit-tree", *sign, tree]
        for parent in parents:
            args += ["-p", parent]
        extra = (
            {
                "GIT_AUTHOR_NAME": author[0],
                "GIT_AUTHOR_EMAIL": author[1],
                "GIT_AUTHOR_DATE": author[2],
            }
            if author
            else None
        )
        try:
            out = self.run(*args, "-F", "-", input_bytes=message.encode(), env=extra)
        except GitError as exc:
            raise _signing_error(exc, sign) from None
        return out.decode().strip()

    def commit_paths(self, message: str, paths: Sequence[str], *, add: bool = True) -> str:
        """Commit exactly ``paths`` (whatever else is staged stays staged); return the id.

        With ``add`` the paths are staged first, untracked files under them
        included; without it only what git already tracks there is committed (a
        caller that staged its own files, and must not sweep in a user's others).
        On failure (a hook-less commit fails mostly when signing does) the index
        entries of ``paths`` are put back as HEAD has them; the files the caller
        wrote are the caller's to restore.
        """
        sign = self.signing_args()
        if add:
            self.run("add", "--", *paths)
        try:
            self.run(
                "commit",
                "--quiet",
                "--no-verify",
                *sign,
                "-F",
                "-",
                "--only",
                "--",
                *paths,
                input_bytes=message.encode(),
            )
        except BaseException as exc:
            self.run("reset", "-q", "--", *paths, check=False)
            if isinstance(exc, GitError):
                raise _signing_error(exc, sign) from None
            raise
        sha = self.head_commit()
        assert sha is not None  # a commit was just made
        return sha


class BlobReader:
    """Reads objects through one ``git cat-file --batch`` process."""

    def __init__(self, git: Git) -> None:
        self._proc = subprocess.Popen(
            ["git", "cat-file", "--batch"],
            cwd=git.root,
            env=git.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def read(self, spec: str) -> bytes | None:
        """The content of ``spec`` (a sha, or ``rev:path``), or None if it does not exist."""
        stdin, stdout = self._pipes()
        stdin.write(spec.encode("utf-8", "surrogateescape") + b"\n")
        stdin.flush()
        header = stdout.readline()
        if not header or header.endswith((b" missing\n", b" ambiguous\n")):
            return None
        size = int(header.split()[2])
        data = stdout.read(size)
        stdout.read(1)  # the newline after each object
        return data

    def read_many(self, specs: Sequence[str]) -> list[bytes | None]:
        """Like :meth:`read` for many objects, writing all requests before reading."""
        stdin, stdout = self._pipes()
        # A writer thread is unnecessary: requests are short, and git answers in
        # order, but a large batch could fill the pipe, so feed it in chunks.
        results: list[bytes | None] = []
        chunk = 256
        for start in range(0, len(specs), chunk):
            part = specs[start : start + chunk]
            stdin.write(b"".join(s.encode("utf-8", "surrogateescape") + b"\n" for s in part))
            stdin.flush()
            for _ in part:
                header = stdout.readline()
                if not header or header.endswith((b" missing\n", b" ambiguous\n")):
                    results.append(None)
                    continue
                size = int(header.split()[2])
                results.append(stdout.read(size))
                stdout.read(1)
        return results

    def _pipes(self) -> tuple[IO[bytes], IO[bytes]]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        return self._proc.stdin, self._proc.stdout

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait()
        if self._proc.stdout:
            self._proc.stdout.close()

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _signing_error(exc: GitError, sign: Sequence[str]) -> GitError:
    """``exc``, with the fix named when the commit failed because it could not be signed."""
    if "-S" not in sign:
        return exc
    return GitError(
        f"{exc}; commits are signed here (commit.gpgsign is true): check that "
        "user.signingkey and gpg.format name a usable key ('git commit --allow-empty -S "
        "-m test' shows git's own error)"
    )


def is_null_sha(sha: str) -> bool:
    return sha == _ZERO_SHA or set(sha) == {"0"}
