"""The transaction every write goes through: a failure at any step leaves nothing behind.

Each test drives :class:`modelreg.ops.change.Change` directly on a real repository. A
killed writer is a real child process that exits hard (``os._exit``) at one step;
the parent then checks that the next change settles it: forward when the commit
had landed, back otherwise, with the working tree, the index and HEAD agreeing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from modelreg.core.errors import ConflictError, GitError
from modelreg.ops.change import Change, commit_message, settle, write_lock
from tests.conftest import RegistryFactory, Workspace, git

MODEL = "registry/m/model.yaml"


@pytest.fixture
def registry(make_registry: RegistryFactory) -> Workspace:
    return make_registry({}, models={"m": {"description": "first"}}, message="model m")


def _head(ws: Workspace) -> str:
    return git(ws.root, "rev-parse", "HEAD").strip()


def _journal(ws: Workspace) -> Path:
    return ws.root / ".git" / "modelreg" / "journal.json"


def test_a_commit_changes_exactly_its_files_and_keeps_the_users_staged_work(
    registry: Workspace,
) -> None:
    (registry.root / "notes.txt").write_text("mine\n")
    git(registry.root, "add", "notes.txt")
    before = _head(registry)
    with Change.open(registry.root) as change:
        model = change.registry.model("m")
        document = {**model.to_document(), "description": "second"}
        change.put_manifest(MODEL, document, "model")
        sha = change.commit(commit_message("update m", {"Event": "model", "Model": "m"}))
    assert sha == _head(registry)
    assert git(registry.root, "rev-parse", "HEAD~1").strip() == before
    changed = git(registry.root, "diff", "--name-only", "HEAD~1", "HEAD").split()
    assert changed == [MODEL]
    assert "Modelreg-Model: m" in git(registry.root, "log", "-1", "--format=%B")
    # The user's staged file is still staged, not committed; the change's file is clean.
    assert registry.status() == "A  notes.txt\n"
    assert not _journal(registry).exists()


def test_nothing_to_change_makes_no_commit(registry: Workspace) -> None:
    before = _head(registry)
    with Change.open(registry.root) as change:
        model = change.registry.model("m")
        change.put_manifest(MODEL, model.to_document(), "model")
        assert change.commit("no-op") is None
    assert _head(registry) == before


def test_an_exception_in_the_block_undoes_folders_and_tool_written_files(
    registry: Workspace,
) -> None:
    before = _head(registry)
    with pytest.raises(RuntimeError, match="tool failed"), Change.open(registry.root) as change:
        folder = change.new_folder("registry/m/artifacts/1")
        change.adopt("registry/m/artifacts/1/w.bin.dvc")
        (folder / "w.bin").write_bytes(b"weights")
        (folder / "w.bin.dvc").write_text("outs: []\n")
        change.put("registry/m/versions/1.yaml", b"version: 1\n")
        raise RuntimeError("tool failed")
    assert not (registry.root / "registry/m/artifacts").exists()
    assert not (registry.root / "registry/m/versions").exists()
    assert registry.status() == ""
    assert _head(registry) == before
    assert not _journal(registry).exists()


def test_an_exception_after_a_tool_staged_its_files_leaves_the_index_clean(
    registry: Workspace,
) -> None:
    """``dvc init`` stages the files it writes; undoing the change unstages them too."""
    with (
        pytest.raises(RuntimeError, match="later step failed"),
        Change.open(registry.root) as change,
    ):
        change.adopt(".dvc/config")
        (registry.root / ".dvc").mkdir()
        (registry.root / ".dvc/config").write_text("[core]\n")
        git(registry.root, "add", ".dvc/config")
        raise RuntimeError("later step failed")
    assert registry.status() == ""
    assert not (registry.root / ".dvc").exists()


def test_a_commit_that_cannot_be_signed_leaves_everything_as_it_was(
    registry: Workspace,
) -> None:
    git(registry.root, "config", "commit.gpgsign", "true")
    git(registry.root, "config", "gpg.program", "false")
    before = _head(registry)
    text = (registry.root / MODEL).read_text()
    with (
        pytest.raises(GitError, match="commits are signed here"),
        Change.open(registry.root) as change,
    ):
        change.put(MODEL, text.replace("first", "second").encode())
        change.commit("update m")
    assert (registry.root / MODEL).read_text() == text
    assert registry.status() == ""
    assert _head(registry) == before


def test_head_moved_by_someone_else_fails_the_change_without_losing_their_commit(
    registry: Workspace,
) -> None:
    with (
        pytest.raises(ConflictError, match="HEAD moved while this change was being made"),
        Change.open(registry.root) as change,
    ):
        change.put("registry/m/stages/production.yaml", b"version: 1\n")
        git(registry.root, "commit", "-q", "--allow-empty", "-m", "someone else's")
        theirs = _head(registry)
        change.commit("promote")
    assert _head(registry) == theirs
    assert not (registry.root / "registry/m/stages").exists()
    assert registry.status() == ""


def test_a_path_with_uncommitted_changes_is_refused(registry: Workspace) -> None:
    (registry.root / MODEL).write_text((registry.root / MODEL).read_text() + "# mine\n")
    with (
        pytest.raises(ConflictError, match=rf"{MODEL} has uncommitted changes"),
        Change.open(registry.root) as change,
    ):
        change.put(MODEL, b"name: m\n")
        change.commit("update m")
    assert (registry.root / MODEL).read_text().endswith("# mine\n")


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_new_files_take_the_users_umask(registry: Workspace, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        with Change.open(registry.root) as change:
            change.put("registry/m/stages/production.yaml", b"version: 1\n")
            change.write()
    finally:
        os.umask(old)
    written = registry.root / "registry/m/stages/production.yaml"
    assert written.stat().st_mode & 0o777 == mode


def test_a_paths_outside_the_repository_are_refused(registry: Workspace) -> None:
    with Change.open(registry.root) as change:
        for bad in ("../escape.yaml", "/etc/passwd", ".git/config", "registry/../../x"):
            with pytest.raises(Exception, match="is not a path inside the repository"):
                change.put(bad, b"x")


def test_the_lock_serialises_writers_and_is_reentrant(registry: Workspace) -> None:
    order: list[str] = []
    entered = threading.Event()

    def second() -> None:
        entered.wait(10)
        with write_lock(registry.root):
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    # the same thread takes it twice: no deadlock
    with write_lock(registry.root), write_lock(registry.root):
        entered.set()
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline and not order:
            time.sleep(0.01)
        order.append("first")
    thread.join(10)
    assert order == ["first", "second"]


# --- a writer killed at each step -------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import os, sys
    import modelreg.ops.change as change_module
    from modelreg.ops.change import Change
    from modelreg.core.git import Git

    root, step = sys.argv[1], sys.argv[2]
    real_run = Git.run

    def run(self, *args, **kwargs):
        if args and args[0] == step:
            os._exit(9)
        return real_run(self, *args, **kwargs)

    Git.run = run
    if step == "place":
        change_module.Change._place_all = lambda self, changes: os._exit(9)
    with Change.open(root) as change:
        folder = change.new_folder("registry/m/artifacts/1")
        (folder / "w.bin").write_bytes(b"weights")
        change.adopt("registry/m/artifacts/1/w.bin.dvc")
        (folder / "w.bin.dvc").write_text("outs:\\n- path: w.bin\\n")
        change.adopt("registry/m/artifacts/1/.gitignore")
        (folder / ".gitignore").write_text("/w.bin\\n")
        text = open(os.path.join(root, "registry/m/model.yaml")).read()
        change.put("registry/m/model.yaml", text.replace("first", "second").encode())
        change.put("registry/m/versions/1.yaml", b"version: 1\\n")
        change.commit("register m version 1")
    """
)


@pytest.mark.parametrize(
    ("step", "lands"),
    [
        ("hash-object", False),  # while the earlier content is kept
        ("mktree", False),  # while the commit's tree is built
        ("commit-tree", False),
        ("update-ref", False),  # the compare-and-swap never ran
        ("place", True),  # HEAD moved, no file in place yet
        ("update-index", True),  # files in place, index not yet
    ],
)
def test_a_writer_killed_at_each_step_is_settled_by_the_next(
    registry: Workspace, step: str, lands: bool
) -> None:
    before = _head(registry)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(registry.root), step],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 9, done.stderr
    assert _journal(registry).exists()
    settle(registry.root)
    assert not _journal(registry).exists()
    assert registry.status() == ""
    if lands:
        assert git(registry.root, "rev-parse", "HEAD~1").strip() == before
        assert (registry.root / "registry/m/versions/1.yaml").read_bytes() == b"version: 1\n"
        assert "second" in (registry.root / MODEL).read_text()
        assert (registry.root / "registry/m/artifacts/1/w.bin").exists()
    else:
        assert _head(registry) == before
        assert not (registry.root / "registry/m/artifacts").exists()
        assert not (registry.root / "registry/m/versions").exists()
        assert "first" in (registry.root / MODEL).read_text()
    assert not list((registry.root / ".git" / "modelreg").glob("staged/*"))


def test_a_journal_whose_writer_still_holds_the_lock_is_left_alone(registry: Workspace) -> None:
    with Change.open(registry.root) as change:
        change.new_folder("registry/m/artifacts/1")
        assert _journal(registry).exists()
        # Another thread's settle waits for the lock instead of undoing a live change.
        finished = threading.Event()
        worker = threading.Thread(target=lambda: (settle(registry.root), finished.set()))
        worker.start()
        assert not finished.wait(0.3)
        change.put("registry/m/versions/1.yaml", b"version: 1\n")
        change.commit("register")
    worker.join(10)
    assert finished.is_set()
    assert (registry.root / "registry/m/artifacts/1").is_dir()
    assert registry.status() == ""
