"""The pointer log and rollback stack (modelreg.core.pointer_log), exactly: what each
git log record becomes, which pointer files the fast reader accepts, and how the
stack moves for each kind of change.

Written to kill the mutants mutation testing left alive (make mutation).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelreg.core.git import Git
from modelreg.core.pointer_log import (
    PointerBlob,
    PointerChange,
    PointerStack,
    PointerState,
    pointer_stack,
    read_canonical_pointer,
    read_pointer_blob,
    read_pointer_blobs,
    read_pointer_log,
)
from tests.conftest import git

STAGES = "registry/digits/stages"
PATH = f"{STAGES}/production.yaml"


def change(
    commit: str,
    old: str | None,
    new: str | None,
    *,
    subject: str = "",
    event: str = "",
    parents: tuple[str, ...] = ("p",),
) -> PointerChange:
    return PointerChange(
        commit, parents, "A <a@x>", "2026-01-01", subject, event, "", PATH, old, new
    )


# --- PointerChange ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "pr"),
    [
        ("Merge pull request #15 from team/promote-3", 15),
        ("Merge pull request #7", 7),
        ("Merge pull request #15x from team", None),
        ("promote digits to production (#42)", 42),
        ("promote digits (#42)  ", 42),
        ("promote (#42) digits", None),
        ("Merge branch 'promote' into 'main' (!9)", 9),
        ("Merge branch 'promote' into main (!12)", 12),
        ("Merge branch 'x' (!12)", None),
        ("promote digits/3 to production", None),
        ("", None),
    ],
)
def test_the_pull_request_a_subject_names(subject: str, pr: int | None) -> None:
    assert change("c", None, "b", subject=subject).pr == pr


def test_a_merge_is_a_commit_with_several_parents() -> None:
    assert change("c", None, "b", parents=("a", "b")).merge is True
    assert change("c", None, "b", parents=("a",)).merge is False
    assert change("c", None, "b", parents=()).merge is False


# --- the fast reader -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("blob", "expected"),
    [
        (b"version: 3\n", PointerBlob(3, "")),
        (b"version: 3", PointerBlob(3, "")),
        (b"since: x\nversion: 123456789\n", PointerBlob(123456789, "")),
        (b"version: 3\nreason: hot fix\n", PointerBlob(3, "hot fix")),
        (b"version: 3\r\nreason: fix (v2).\r\n", PointerBlob(3, "fix (v2).")),
        (b"version: 3\nreason: A\n", PointerBlob(3, "A")),
        (b"version: 3\nreason: a_b/c+d=e-f\n", PointerBlob(3, "a_b/c+d=e-f")),
        (b"reason: first\nversion: 9\n", PointerBlob(9, "first")),
    ],
)
def test_the_fast_reader_reads_canonical_pointers(blob: bytes, expected: PointerBlob) -> None:
    assert read_canonical_pointer(blob) == expected
    assert read_pointer_blob(blob) == expected


@pytest.mark.parametrize(
    "blob",
    [
        b"version: 0\n",
        b"version: 1234567890\n",
        b"version: 3\nversion: 4\n",
        b"reason: x\n",
        b"version: 3\nreason: a\nreason: b\n",
        b"version: 3\n  extra: 1\n",
        b"version: 3\n\textra: 1\n",
        b"{version: 3}\n",
        b"version: 3\nretired: [1, 2]\n",
        b"version: 3\nreason: \xff\n",
        b"version: 3\nreason: 1abc\n",
        b"version: 3\nreason: a!\n",
        b"version: 3\nreason: ab,\n",
        b"version: 3\nreason: yes\n",
        b"version: 3\nreason: No\n",
        b"version: 3\nreason: NULL\n",
        b"version: 3\nreason: y\n",
        b"version: 3\nreason: a: b\n",
        b"version: 3\nreason: a #b\n",
        b"version: 3\nreason:\n",
    ],
)
def test_the_fast_reader_declines_what_only_the_parser_reads_right(blob: bytes) -> None:
    assert read_canonical_pointer(blob) is None


@pytest.mark.parametrize(
    ("blob", "expected"),
    [
        (b"version: 3\nreason: yes\n", PointerBlob(3, "yes")),
        (b"version: 3\nreason: a: b\n", PointerBlob(3, "a")),
        (b"version: 3\nreason: 12\n", PointerBlob(3, "")),
        (b"version: 3\nreason: true\n", PointerBlob(3, "")),
        (b"version: true\n", PointerBlob(None, "")),
        (b"version: 1.5\n", PointerBlob(None, "")),
        (b"version: '3'\n", PointerBlob(None, "")),
        (b"version: [3]\n", PointerBlob(None, "")),
        (b"{version: 4, reason: 'r'}\n", PointerBlob(4, "r")),
        (b"version: 0\n", PointerBlob(0, "")),
        (b"- 1\n", PointerBlob(None, "")),
        (b"", PointerBlob(None, "")),
    ],
)
def test_other_pointers_go_through_the_parser(blob: bytes, expected: PointerBlob) -> None:
    assert read_pointer_blob(blob) == expected


# --- the stack -------------------------------------------------------------------------------


def test_changes_that_chain_push_and_a_return_to_an_earlier_file_pops() -> None:
    stack = PointerStack()
    assert stack.apply(change("c1", None, "b1", subject="promote v1")) == "pushed"
    assert stack.states == [PointerState(None, None, ""), PointerState("b1", "c1", "promote v1")]
    assert stack.apply(change("c2", "b1", "b2", subject="promote v2")) == "pushed"
    assert stack.apply(change("c3", "b2", "b3", subject="promote v3")) == "pushed"
    assert [s.blob for s in stack.states] == [None, "b1", "b2", "b3"]
    # a rollback (or a hand revert) brings back b1: b2 and b3 come off
    assert stack.apply(change("c4", "b3", "b1", subject="Revert")) == "restored"
    assert stack.states == [PointerState(None, None, ""), PointerState("b1", "c1", "promote v1")]
    # reverting the rollback brings b3 back as a new state, pushed
    assert stack.apply(change("c5", "b1", "b3", subject='Revert "Revert"')) == "pushed"
    assert stack.states[-1] == PointerState("b3", "c5", 'Revert "Revert"')
    assert len(stack.states) == 3
    # removing the pointer restores the state before the first promotion
    assert stack.apply(change("c6", "b3", None)) == "restored"
    assert stack.states == [PointerState(None, None, "")]


def test_a_change_that_does_not_chain_starts_the_stack_afresh() -> None:
    stack = PointerStack()
    stack.apply(change("c1", None, "b1"))
    stack.apply(change("c2", "b1", "b2"))
    # history starts at b7 (a shallow clone), or someone rewrote it
    assert stack.apply(change("c3", "b7", "b8", subject="s")) == "pushed"
    assert stack.states == [PointerState("b7", None, ""), PointerState("b8", "c3", "s")]
    # the forgotten b1 is not on the stack any more: bringing it back pushes
    assert stack.apply(change("c4", "b8", "b1")) == "pushed"
    assert [s.blob for s in stack.states] == ["b7", "b8", "b1"]
    assert stack.apply(change("c5", "b1", "b7")) == "restored"
    assert [s.blob for s in stack.states] == ["b7"]


def test_a_first_change_of_an_existing_file_records_the_file_before_it() -> None:
    stack = PointerStack()
    assert stack.apply(change("c1", "b0", "b1")) == "pushed"
    assert stack.states == [PointerState("b0", None, ""), PointerState("b1", "c1", "")]


def test_a_fresh_rollback_pointer_replaces_the_top() -> None:
    stack = PointerStack()
    for commit, old, new in (("c1", None, "b1"), ("c2", "b1", "b2"), ("c3", "b2", "b3")):
        stack.apply(change(commit, old, new))
    moved = stack.apply(change("c4", "b3", "f2", event="rollback", subject="roll back"))
    assert moved == "replaced"
    assert stack.states[-1] == PointerState("f2", "c4", "roll back")
    assert [s.blob for s in stack.states] == [None, "b1", "b2", "f2"]
    # the replaced b3 is off the stack: reverting the rollback pushes it again
    assert stack.apply(change("c5", "f2", "b3")) == "pushed"
    assert [s.blob for s in stack.states] == [None, "b1", "b2", "f2", "b3"]
    # the event trailer may list several events
    assert stack.apply(change("c6", "b3", "f9", event="promote,rollback")) == "replaced"
    assert [s.blob for s in stack.states] == [None, "b1", "b2", "f2", "f9"]
    # a rollback event that restores a held file is a restore
    assert stack.apply(change("c7", "f9", "b1", event="rollback")) == "restored"
    assert [s.blob for s in stack.states] == [None, "b1"]


def test_a_change_to_the_same_blob_restores_the_top() -> None:
    stack = PointerStack()
    stack.apply(change("c1", None, "b1"))
    assert stack.apply(change("c2", "b1", "b1")) == "restored"
    assert [s.blob for s in stack.states] == [None, "b1"]
    assert stack.states[-1].commit == "c1"


# --- from git --------------------------------------------------------------------------------


def write(root: Path, text: str | None, message: str, *trailers: str) -> str:
    file = root / PATH
    if text is None:
        file.unlink()
    else:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text)
    git(root, "add", "-A")
    extra = [arg for t in trailers for arg in ("--trailer", t)]
    git(root, "commit", "-q", "-m", message, *extra)
    return git(root, "rev-parse", "HEAD").strip()


def blob_of(root: Path, commit: str) -> str:
    return git(root, "rev-parse", f"{commit}:{PATH}").strip()


def test_the_log_reads_every_field_of_each_change(empty_repo: Path) -> None:
    root = empty_repo
    (root / "other.txt").write_text("x\n")
    first = write(root, "version: 1\n", "promote digits/1 (#3)")
    second = write(
        root,
        "version: 2\nreason: better\n",
        "Promote digits/2",
        "Modelreg-Event: promote",
        "Modelreg-Reason: much  better",
    )
    third = write(root, None, "remove the pointer")
    changes = read_pointer_log(Git(root), "HEAD", [PATH])
    assert [c.commit for c in changes] == [third, second, first]
    newest, middle, oldest = changes
    assert oldest.subject == "promote digits/1 (#3)" and oldest.pr == 3
    assert oldest.old_blob is None and oldest.new_blob == blob_of(root, first)
    assert oldest.event == "" and oldest.reason == ""
    assert oldest.author == "Test Author <test@example.com>"
    assert oldest.date.startswith("20") and "T" in oldest.date
    assert oldest.path == PATH and oldest.merge is False
    assert middle.parents == (first,)
    assert middle.event == "promote"
    assert middle.reason == "much  better"
    assert (middle.old_blob, middle.new_blob) == (blob_of(root, first), blob_of(root, second))
    assert newest.old_blob == blob_of(root, second) and newest.new_blob is None
    # a range, and paths that did not change, read nothing more
    assert [c.commit for c in read_pointer_log(Git(root), f"{first}..HEAD", [PATH])] == [
        third,
        second,
    ]
    assert read_pointer_log(Git(root), "HEAD", ["registry/none.yaml"]) == []


def test_the_log_follows_the_first_parent_line(empty_repo: Path) -> None:
    root = empty_repo
    base = write(root, "version: 1\n", "promote v1")
    git(root, "checkout", "-q", "-b", "promote-2")
    branch = write(root, "version: 2\n", "promote v2")
    git(root, "checkout", "-q", "main")
    git(root, "merge", "-q", "--no-ff", "-m", "Merge pull request #8 from team/p2", "promote-2")
    merge = git(root, "rev-parse", "HEAD").strip()
    changes = read_pointer_log(Git(root), "HEAD", [PATH])
    assert [c.commit for c in changes] == [merge, base]
    assert changes[0].merge is True and changes[0].pr == 8
    assert changes[0].parents == (base, branch)
    assert changes[0].new_blob == blob_of(root, branch)


def commit_files(root: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


def test_one_commit_that_writes_several_pointers_gives_a_change_for_each(
    empty_repo: Path,
) -> None:
    root = empty_repo
    names = [f"{STAGES}/{stage}.yaml" for stage in ("canary", "production", "staging")]
    commit = commit_files(root, dict.fromkeys(names, "version: 1\n"), "promote v1")
    blob = blob_of(root, commit)
    changes = read_pointer_log(Git(root), "HEAD", [STAGES])
    assert [(c.commit, c.path, c.old_blob, c.new_blob) for c in changes] == [
        (commit, name, None, blob) for name in names
    ]


def test_a_renamed_pointer_is_read_as_a_removal_and_an_addition(empty_repo: Path) -> None:
    root = empty_repo
    first = write(root, "version: 1\n", "promote v1")
    git(root, "mv", PATH, f"{STAGES}/staging.yaml")
    git(root, "commit", "-q", "-m", "move the pointer")
    moved = git(root, "rev-parse", "HEAD").strip()
    blob = blob_of(root, first)
    # git's rename detection would make this one change naming both paths
    changes = read_pointer_log(Git(root), "HEAD", [STAGES])
    assert [(c.commit, c.path, c.old_blob, c.new_blob) for c in changes] == [
        (moved, PATH, blob, None),
        (moved, f"{STAGES}/staging.yaml", None, blob),
        (first, PATH, None, blob),
    ]


def test_a_path_with_spaces_is_one_change(empty_repo: Path) -> None:
    root = empty_repo
    name = f"{STAGES}/a b c d e.yaml"
    commit = commit_files(root, {name: "version: 1\n"}, "promote v1")
    changes = read_pointer_log(Git(root), "HEAD", [STAGES])
    assert [(c.commit, c.path, c.old_blob, c.new_blob) for c in changes] == [
        (commit, name, None, git(root, "rev-parse", f"{commit}:{name}").strip())
    ]


def test_a_path_that_is_not_utf8_comes_back_surrogate_escaped(empty_repo: Path) -> None:
    root = empty_repo
    (root / STAGES).mkdir(parents=True)
    raw_name = f"{STAGES}/caf".encode() + b"\xe9.yaml"
    try:
        with open(os.fsencode(root) + b"/" + raw_name, "wb") as file:
            file.write(b"version: 1\n")
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "promote v1")
    (change,) = read_pointer_log(Git(root), "HEAD", [STAGES])
    assert change.path == f"{STAGES}/caf\udce9.yaml"
    assert change.path.encode("utf-8", "surrogateescape") == raw_name
    assert change.new_blob == git(root, "rev-parse", "HEAD:" + change.path).strip()


@pytest.mark.parametrize(
    "subject",
    [
        # the log format's field separator (before each separator carried a token
        # drawn per call, this record had too many fields and was dropped)
        "promote\x1fv3",
        # its record separator too, after what looks like the fields of a record and
        # a raw diff line
        "promote\x1fe\x1fr\x1f:100644 100644 1 2 M\x1ev3",
        # and both with a fixed token after them: the token must be one no commit holds
        "promote\x1fNone\x1eNone v3",
    ],
)
def test_separators_in_a_subject_neither_hide_nor_shift_a_record(
    empty_repo: Path, subject: str
) -> None:
    root = empty_repo
    first = write(root, "version: 1\n", "promote v1")
    second = write(root, "version: 2\n", "promote v2")
    third = write(root, "version: 3\n", subject)
    changes = read_pointer_log(Git(root), "HEAD", [PATH])
    assert [c.commit for c in changes] == [third, second, first]
    assert changes[0].subject == subject and changes[0].path == PATH
    assert changes[0].new_blob == blob_of(root, third)


def test_the_stack_of_a_real_history_and_the_blobs_it_names(empty_repo: Path) -> None:
    root = empty_repo
    first = write(root, "version: 1\nreason: first\n", "promote v1")
    second = write(root, "version: 2\n", "promote v2")
    rollback = write(root, "version: 1\nreason: first\n", 'Revert "promote v2"')
    states = pointer_stack(Git(root), "HEAD", PATH)
    assert states == [
        PointerState(None, None, ""),
        PointerState(blob_of(root, first), first, "promote v1"),
    ]
    assert blob_of(root, rollback) == blob_of(root, first)
    blobs = read_pointer_blobs(
        Git(root), [blob_of(root, first), blob_of(root, second), blob_of(root, first), "f" * 40]
    )
    assert blobs == {
        blob_of(root, first): PointerBlob(1, "first"),
        blob_of(root, second): PointerBlob(2, ""),
    }
    assert read_pointer_blobs(Git(root), []) == {}


@pytest.mark.parametrize("blob", [b"x: {\nversion: 4\n}\n", b"x: [\nversion: 4\n]\n"])
def test_a_version_line_inside_flow_style_is_not_the_pointers(blob: bytes) -> None:
    assert read_canonical_pointer(blob) is None
    assert read_pointer_blob(blob) == PointerBlob(None, "")
