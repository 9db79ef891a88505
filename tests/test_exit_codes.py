"""The exit-code contract, through the installed executable, as scripts and CI see it.

0 success; 1 any error or failed check; 2 usage; 130 interrupted (docs/cli.md). Each
command is run as a subprocess of the real console script (and ``python -m modelreg``)
on one failure path at least; the answer must be its exit code and one line on stderr,
never a traceback. In-process CliRunner tests cannot see what the console script does
with the code a command returns: that is where CI gates once passed every change.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import builders
from tests.conftest import git

STRICT_POLICY = {
    "production": {"require": {"accuracy": {"min": 0.99}}},
}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed registry: model 'digits' v1 and v2 (accuracy 0.901, 0.902), v1 in
    production, and a production policy that neither version passes."""
    root = tmp_path_factory.mktemp("exit-codes") / "repo"
    root.mkdir()
    git(root, "init", "-q")
    builders.write_config(root, policies=STRICT_POLICY)
    builders.write_version(root, "digits", 1)
    builders.write_version(root, "digits", 2)
    builders.write_pointer(root, "digits", "production", 1, since="2026-01-20T10:00:00Z")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "registry")
    return root


# The two ways a user or a CI step starts modelreg; both must keep the exit codes.
CONSOLE_SCRIPT = [str(Path(sys.executable).parent / "modelreg")]
ENTRY_POINTS = (CONSOLE_SCRIPT, [sys.executable, "-m", "modelreg"])


def run(
    *args: str, cwd: Path, entry: list[str] = CONSOLE_SCRIPT, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*entry, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        check=False,
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], code: int = 1) -> None:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert "internal error" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr


# Each command on a path that must fail with exit 1 and one line (the message is
# asserted by the part that names it, so a message that changes for the worse shows).
FAILURES: list[tuple[str, list[str], str]] = [
    ("list", ["list", "--json"], "registry/registry.yaml"),
    ("versions", ["versions", "nope"], "no model named 'nope'"),
    ("show", ["show", "digits/9"], "has no version 9"),
    ("resolve", ["resolve", "digits@canary"], "has no stage or alias 'canary'"),
    ("pull", ["pull", "digits/9"], "has no version 9"),
    ("promote", ["promote", "digits", "9", "--to", "production"], "has no version 9"),
    ("promote --to unknown", ["promote", "digits", "2", "--to", "prod"], "'prod'"),
    ("rollback", ["rollback", "digits", "--stage", "staging"], "staging"),
    ("deprecate", ["deprecate", "digits", "9", "--reason", "x"], "has no version 9"),
    ("history", ["history", "nope"], "no model named 'nope'"),
    ("diff", ["diff", "no-such-rev"], "no-such-rev"),
    ("compare", ["compare", "digits", "1", "9"], "has no version 9"),
    ("export", ["export", "digits/9"], "has no version 9"),
    ("benchmark", ["benchmark", "digits/9"], "has no version 9"),
    ("serve", ["serve", "digits/9"], "has no version 9"),
    ("report", ["report", "--base", "no-such-rev"], "no-such-rev"),
    ("register", ["register", "../escape", "--weights", "README.md"], "../escape"),
    ("comment", ["comment", "--pr", "1", "--file", "README.md"], "token"),
    # A mistyped store: MLflow would create an empty database here and import nothing.
    (
        "import-mlflow",
        ["import-mlflow", "--tracking-uri", "sqlite:///missing/x.db"],
        "no MLflow database at 'missing/x.db'",
    ),
]


@pytest.mark.parametrize(
    ("args", "expected"), [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES]
)
def test_each_command_fails_with_exit_1_and_one_line(
    registry: Path, args: list[str], expected: str, tmp_path: Path
) -> None:
    (registry / "README.md").write_text("readme\n")
    env = {"GITHUB_TOKEN": "", "GH_TOKEN": "", "GITHUB_REPOSITORY": "acme/models"}
    if args[0] == "list":
        # A broken registry.yaml: every read command must refuse it.
        config = registry / "registry" / "registry.yaml"
        saved = config.read_bytes()
        config.write_text("stages: [\n")
        try:
            done = run(*args, cwd=registry, **env)
        finally:
            config.write_bytes(saved)
    else:
        done = run(*args, cwd=registry, **env)
    assert_one_line_error(done)
    assert expected.lower() in done.stderr.lower()
    assert git(registry, "status", "--porcelain") == "?? README.md\n"


def test_init_outside_a_git_repository_exits_1(tmp_path: Path) -> None:
    done = run("init", cwd=tmp_path)
    assert_one_line_error(done)
    assert "git" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_dashboard_that_cannot_write_exits_1(registry: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "site"
    blocker.write_text("a file, not a folder\n")
    done = run("dashboard", "--out", str(blocker / "inside"), cwd=registry)
    assert_one_line_error(done)
    assert blocker.read_text() == "a file, not a folder\n"


def test_validate_findings_exit_1_through_both_entry_points(registry: Path) -> None:
    manifest = registry / "registry" / "digits" / "versions" / "2.yaml"
    saved = manifest.read_bytes()
    manifest.write_bytes(saved + b"unknown_field: 1\n")
    try:
        for entry in ENTRY_POINTS:
            done = run("validate", "--offline", cwd=registry, entry=entry)
            assert done.returncode == 1, (entry, done.stdout, done.stderr)
            assert "registry/digits/versions/2.yaml" in done.stdout
            assert "unknown_field: unknown field" in done.stdout
            assert done.stdout.splitlines()[-1].startswith("invalid: 1 errors")
    finally:
        manifest.write_bytes(saved)
    ok = run("validate", "--offline", cwd=registry)
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_a_failed_gate_exits_1_and_a_passing_check_0(registry: Path) -> None:
    for entry in ENTRY_POINTS:
        done = run(
            "promote", "digits", "2", "--to", "production", "--check", cwd=registry, entry=entry
        )
        assert done.returncode == 1, (entry, done.stdout, done.stderr)
        assert "accuracy" in done.stdout
        assert "Traceback" not in done.stderr
    # The same check against a stage without a policy passes.
    passing = run("promote", "digits", "2", "--to", "staging", "--check", cwd=registry)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    # A refused promotion (not a check) is exit 1 too, and changes nothing.
    head = git(registry, "rev-parse", "HEAD")
    refused = run("promote", "digits", "2", "--to", "production", "--no-pr", cwd=registry)
    assert_one_line_error(refused)
    assert git(registry, "rev-parse", "HEAD") == head


@pytest.mark.parametrize(
    "args",
    [["nonsense"], ["show"], ["history", "digits", "--limit", "0"], ["validate", "--x"]],
)
def test_usage_errors_exit_2(registry: Path, args: list[str]) -> None:
    done = run(*args, cwd=registry)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Usage: modelreg" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture
def silent_server() -> Iterator[tuple[str, threading.Event]]:
    """An HTTP 'server' that accepts a connection and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        held.append(connection)
        accepted.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    host, port = listener.getsockname()[:2]
    try:
        yield f"http://{host}:{port}", accepted
    finally:
        listener.close()
        for connection in held:
            connection.close()


# A shell that starts a job in the background (a CI runner's script, `nohup`, `cmd &`)
# sets SIGINT to "ignore" for it and its children, and Python then installs no
# KeyboardInterrupt handler: Ctrl-C is what a terminal sends a program whose SIGINT is
# default. Reset it and exec the installed script, so this test means the same wherever
# pytest runs (a CI run timed out here: with SIGINT ignored, the old test hung every time).
SIGINT_DEFAULT = [
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])",
]


def test_ctrl_c_exits_130(
    registry: Path, tmp_path: Path, silent_server: tuple[str, threading.Event]
) -> None:
    url, accepted = silent_server
    body = tmp_path / "body.md"
    body.write_text("report\n")
    command = [*CONSOLE_SCRIPT, "comment", "--pr", "1", "--file", str(body), "--api-url", url]
    with subprocess.Popen(
        [*SIGINT_DEFAULT, *command],
        cwd=registry,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "GITHUB_TOKEN": "t0ken", "GITHUB_REPOSITORY": "acme/models"},
    ) as process:
        try:
            assert accepted.wait(60), "modelreg never connected"  # and waits for the answer
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stderr
    assert "t0ken" not in stdout + stderr
