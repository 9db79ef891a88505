"""Progress while pull and register move bytes: drawn only on a terminal, never in a
pipe, never with -q."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shutil
import struct
import subprocess
import termios
from pathlib import Path

import pytest

from modelreg.api import Registry, pull
from tests.conftest import Workspace, git

SIZE = 24 << 20  # several chunks, and long enough to draw on a terminal


@pytest.fixture
def registered(workspace: Workspace, tmp_path: Path, modelreg_exe: str) -> Workspace:
    weights = tmp_path / "big.pt"
    weights.write_bytes(os.urandom(SIZE))
    done = subprocess.run(
        [modelreg_exe, "--repo", str(workspace.root), "register", "digits",
         "--weights", str(weights), "--commit"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return workspace


def _forget_local_copies(root: Path) -> None:
    shutil.rmtree(root / ".dvc" / "cache")
    (root / "registry/digits/artifacts/1/big.pt").unlink()


def test_pull_reports_each_fetch_and_write_to_the_last_byte(registered: Workspace) -> None:
    _forget_local_copies(registered.root)
    calls: list[tuple[str, int, int]] = []
    with Registry.open(registered.root) as registry:
        version = registry.resolve("digits/1").version
        pull(registry.root, version, progress=lambda *call: calls.append(call))
    fetched = [
        c for c in calls if c[0] == "fetch digits/1 weights (registry/digits/artifacts/1/big.pt)"
    ]
    written = [c for c in calls if c[0] == "write digits/1 weights"]
    for steps in (fetched, written):
        assert steps[0] == (steps[0][0], 0, SIZE) and steps[-1] == (steps[0][0], SIZE, SIZE)
        assert len(steps) == SIZE // (1 << 20) + 1
        assert [done for _, done, _ in steps] == sorted(done for _, done, _ in steps)


def _run_on_a_terminal(command: list[str], cwd: Path) -> tuple[int, str]:
    leader, follower = pty.openpty()
    # A terminal 120 columns wide (a fresh pty has none, and bars draw nothing in zero).
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"TERM": "xterm", "COLUMNS": "120"}
    process = subprocess.Popen(
        command, cwd=cwd, stdin=follower, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return process.wait(30), b"".join(chunks).decode(errors="replace")


def test_a_terminal_sees_the_bar_and_a_pipe_never_does(
    registered: Workspace, modelreg_exe: str
) -> None:
    root = registered.root
    _forget_local_copies(root)
    code, screen = _run_on_a_terminal([modelreg_exe, "pull", "digits/1"], root)
    assert code == 0, screen
    assert "write digits/1 weights" in screen or "fetch digits/1 weights" in screen
    assert "digits/1: 1 artifacts, verified by md5" in screen

    _forget_local_copies(root)
    done = subprocess.run(
        [modelreg_exe, "pull", "digits/1"], cwd=root, capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("digits/1: 1 artifacts, verified by md5\n")
    assert git(root, "status", "--porcelain") == ""


def test_register_draws_dvcs_bars_on_a_terminal_only(
    workspace: Workspace, tmp_path: Path, modelreg_exe: str
) -> None:
    root = workspace.root
    weights = tmp_path / "big.pt"
    weights.write_bytes(os.urandom(SIZE))
    register = ["register", "digits", "--weights", str(weights), "--commit"]
    code, screen = _run_on_a_terminal([modelreg_exe, *register], root)
    assert code == 0, screen
    assert "Adding..." in screen and "|" in screen  # DVC's hashing bar
    assert "Pushing" in screen  # and its transfer to the remote
    assert "To track the changes with git" not in screen  # DVC's log lines stay out
    assert "registered digits/1" in screen

    code, screen = _run_on_a_terminal([modelreg_exe, "-q", *register], root)
    assert code == 0, screen
    assert "Adding..." not in screen and "Pushing" not in screen

    done = subprocess.run(
        [modelreg_exe, *register], cwd=root, capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("registered digits/3 ")
    assert git(root, "status", "--porcelain") == ""
