"""The log of stage and alias pointer files: one reader for history, rollback and diff.

A pointer's past is read in one ``git log`` along the first-parent line (so a
merged pull request is its merge commit, a squash merge its one commit), and the
versions in it from the blobs themselves through one ``git cat-file --batch``.

The changes are then replayed as a stack (:class:`PointerStack`): a change that
brings back a file the pointer held earlier on the stack (a rollback, or a hand
``git revert`` of a promotion) pops down to it; any other change pushes. Pointers
carry the time they were written, so a new promotion never reproduces an earlier
file byte for byte. Reverting a rollback brings back a file that was popped off,
no longer on the stack, so it pushes: a re-promotion, whatever its subject
(``Revert "Revert ..."``) says. What a change did is read from the files, never
guessed from commit messages; the one message read is modelreg's own
``Modelreg-Event: rollback`` trailer, for a rollback that had to write a fresh
pointer because history could not show the earlier file.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from modelreg.core.git import Git, is_null_sha
from modelreg.core.yaml_io import top_level_scalars

__all__ = [
    "Move",
    "PointerBlob",
    "PointerChange",
    "PointerStack",
    "PointerState",
    "pointer_stack",
    "read_canonical_pointer",
    "read_pointer_blob",
    "read_pointer_blobs",
    "read_pointer_log",
]

_PR_PATTERNS = (
    re.compile(r"^Merge pull request #(\d+)\b"),
    re.compile(r"\(#(\d+)\)\s*$"),
    re.compile(r"^Merge branch '[^']*' into .*\(!(\d+)\)"),
)
# The fields of one commit. Subjects, names and trailers are free text that may hold any
# character git keeps, the separators too, so each separator carries a token drawn per
# call: no commit can hold it, so none can shift a field or hide a record.
_FIELDS = (
    "%H",
    "%P",
    "%an <%ae>",
    "%aI",
    "%s",
    "%(trailers:key=Modelreg-Event,valueonly,separator=%x2C)",
    "%(trailers:key=Modelreg-Reason,valueonly,separator=%x20)",
)


@dataclass(frozen=True)
class PointerChange:
    """One first-parent commit's change of one pointer file."""

    commit: str
    parents: tuple[str, ...]
    author: str
    date: str
    """ISO 8601, as git gives it."""
    subject: str
    event: str
    """The ``Modelreg-Event`` trailer ('' for a commit modelreg did not write)."""
    reason: str
    """The ``Modelreg-Reason`` trailer."""
    path: str
    old_blob: str | None
    """None: the file did not exist before this commit."""
    new_blob: str | None
    """None: this commit removed the file."""

    @property
    def merge(self) -> bool:
        return len(self.parents) > 1

    @property
    def pr(self) -> int | None:
        """The pull request number a merge or squash subject names."""
        for pattern in _PR_PATTERNS:
            match = pattern.search(self.subject)
            if match:
                return int(match.group(1))
        return None


def read_pointer_log(git: Git, revisions: str, paths: Sequence[str]) -> list[PointerChange]:
    """Every change to the files under ``paths`` on the first-parent line of
    ``revisions`` (a commit, or ``a..b``), newest first; one ``git log``."""
    token = secrets.token_hex(16)
    fields_format = "".join(f"{field}%x1f{token}" for field in _FIELDS)
    output = git.run(
        "log",
        "--first-parent",
        "--no-abbrev",
        "--raw",
        "-z",
        "--no-renames",
        f"--format=%x1e{token}{fields_format}",
        revisions,
        "--",
        *paths,
    )
    field_end = f"\x1f{token}"
    changes = []
    for record in output.split(f"\x1e{token}".encode()):
        if not record.strip():
            continue
        head, _, raw = record.rpartition(field_end.encode())
        values = head.decode("utf-8", "replace").split(field_end)
        if len(values) != len(_FIELDS):
            continue
        commit, parents, author, date, subject, event, reason = values
        fields = raw.lstrip(b"\0\n").split(b"\0")
        for i in range(0, len(fields) - 1, 2):
            meta = fields[i].decode().lstrip(":").split(" ")
            if len(meta) < 5:
                continue
            old, new = (None if is_null_sha(sha) else sha for sha in (meta[2], meta[3]))
            changes.append(
                PointerChange(
                    commit=commit,
                    parents=tuple(parents.split()),
                    author=author,
                    date=date,
                    subject=subject,
                    event=event,
                    reason=reason.strip(),
                    path=fields[i + 1].decode("utf-8", "surrogateescape"),
                    old_blob=old,
                    new_blob=new,
                )
            )
    return changes


# --- what a pointer blob says ----------------------------------------------------------------

_POINTER_KEYS = frozenset({"version", "reason"})


@dataclass(frozen=True)
class PointerBlob:
    """The version and reason a pointer file names (None: none readable)."""

    version: int | None
    reason: str


# Pointer files written by modelreg are canonical: block style, one top-level key per
# line, the reason a plain scalar on its own line. Those (all but hand-written ones)
# are read with two regular expressions; anything else goes through the YAML parser.
_FAST_VERSION = re.compile(rb"^version: ([1-9][0-9]{0,8})\r?$", re.MULTILINE)
_FAST_REASON = re.compile(rb"^reason: ?(.*?)\r?$", re.MULTILINE)
_PLAIN_REASON = re.compile(r"[A-Za-z][\w ,.()/+=-]*[\w.)]|[A-Za-z]")
_NOT_TEXT = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n"})


def read_pointer_blob(blob: bytes) -> PointerBlob:
    fast = read_canonical_pointer(blob)
    if fast is not None:
        return fast
    values = top_level_scalars(blob, _POINTER_KEYS)
    version = values.get("version")
    reason = values.get("reason")
    return PointerBlob(
        version if isinstance(version, int) and not isinstance(version, bool) else None,
        reason if isinstance(reason, str) else "",
    )


def read_canonical_pointer(blob: bytes) -> PointerBlob | None:
    """The blob read without the YAML parser, or None when it is not canonical
    enough for that to give the parser's answer."""
    if b"\n " in blob or b"\n\t" in blob or b"{" in blob or b"[" in blob:
        return None  # indented continuation lines or flow style: let the parser decide
    versions = _FAST_VERSION.findall(blob)
    reasons = _FAST_REASON.findall(blob)
    if len(versions) != 1 or len(reasons) > 1:
        return None
    reason = ""
    if reasons:
        try:
            reason = reasons[0].decode()
        except UnicodeDecodeError:
            return None
        if not _PLAIN_REASON.fullmatch(reason) or reason.lower() in _NOT_TEXT:
            return None
        if ": " in reason or " #" in reason:
            return None
    return PointerBlob(int(versions[0]), reason)


def read_pointer_blobs(git: Git, shas: Iterable[str]) -> dict[str, PointerBlob]:
    """What each pointer blob says, read through one ``git cat-file --batch``; blobs
    git does not have are left out."""
    ordered = sorted(set(shas))
    if not ordered:
        return {}
    with git.blobs() as reader:
        contents = reader.read_many(ordered)
    return {
        sha: read_pointer_blob(data)
        for sha, data in zip(ordered, contents, strict=True)
        if data is not None
    }


# --- the stack -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointerState:
    """One state on a pointer's stack: the file's blob (None: no pointer) and the
    commit that put it there (None where history starts with the file already there)."""

    blob: str | None
    commit: str | None
    subject: str


Move = Literal["pushed", "restored", "replaced"]
"""What a change did to the stack: put a new state on top, brought back one held
below (popping those above), or took the top off and put a fresh file for an
earlier state in its place (a rollback that could not restore the earlier file)."""


class PointerStack:
    """The states one pointer file can be rolled back through, built by replaying
    its changes oldest first."""

    def __init__(self) -> None:
        self.states: list[PointerState] = []
        self._index: dict[str | None, int] = {}  # blob -> its place; blobs on it are unique

    def apply(self, change: PointerChange) -> Move:
        states = self.states
        if not states or states[-1].blob != change.old_blob:
            # History starts here (a shallow clone) or does not chain: start afresh.
            self._truncate(0)
            self._push(PointerState(change.old_blob, None, ""))
        state = PointerState(change.new_blob, change.commit, change.subject)
        held = self._index.get(change.new_blob)
        if held is not None:
            self._truncate(held + 1)
            return "restored"
        if "rollback" in change.event:
            # modelreg's rollback wrote a fresh pointer to the version below: it undoes
            # the top as a restore would, so reverting it brings the top back on.
            self._truncate(len(states) - 1)
            self._push(state)
            return "replaced"
        self._push(state)
        return "pushed"

    def _push(self, state: PointerState) -> None:
        self._index[state.blob] = len(self.states)
        self.states.append(state)

    def _truncate(self, size: int) -> None:
        for state in self.states[size:]:
            del self._index[state.blob]
        del self.states[size:]


def pointer_stack(git: Git, head: str, path: str) -> list[PointerState]:
    """The states the pointer at ``path`` can be rolled back through, oldest first;
    the last is the state at ``head``."""
    stack = PointerStack()
    for change in reversed(read_pointer_log(git, head, [path])):
        stack.apply(change)
    return stack.states
