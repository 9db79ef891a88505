"""Every commit modelreg makes is signed when the user's git config says so.

A branch that requires signed commits must accept a promotion made by modelreg
as readily as one made by ``git commit``. The key is a real SSH key made in the
test; git verifies the signatures against an allowed-signers file, so ``%G?``
reads ``G`` only for a good signature by that key. The commands run through
the installed executable, as users and CI run them.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

from tests import builders
from tests.conftest import git

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")


def run(exe: str, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [exe, "--repo", str(root), *args], cwd=root, capture_output=True, text=True, check=False
    )


def sign_with_ssh_key(root: Path, folder: Path) -> None:
    """Make an SSH key and set ``root``'s git config to sign every commit with it."""
    folder.mkdir()
    key = folder / "signing"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", str(key)],
        check=True,
        capture_output=True,
    )
    public = key.with_suffix(".pub")
    allowed = folder / "allowed_signers"
    allowed.write_text(f'test@example.com namespaces="git" {public.read_text().strip()}\n')
    for name, value in (
        ("gpg.format", "ssh"),
        ("user.signingkey", str(public)),
        ("commit.gpgsign", "true"),
        ("gpg.ssh.allowedSignersFile", str(allowed)),
    ):
        git(root, "config", name, value)


def signatures(root: Path, since: str) -> list[tuple[str, str]]:
    """(``%G?``, subject) of each commit after ``since``, newest first."""
    log = git(root, "log", "--format=%G? %s", f"{since}..HEAD")
    return [(line[0], line[2:]) for line in log.splitlines()]


@pytest.fixture
def signed(
    empty_repo: Path, tmp_path: Path, modelreg_exe: str, model_files: builders.ModelFiles
) -> Path:
    """A registry made by ``init --commit`` with signing on, digits v1 and v2 registered."""
    sign_with_ssh_key(empty_repo, tmp_path / "keys")
    remote = tmp_path / "dvc-remote"
    remote.mkdir()
    steps = [
        ("init", "--remote", str(remote), "--commit"),
        ("register", "digits", "--weights", str(model_files.weights), "--commit"),
        ("register", "digits", "--weights", str(model_files.onnx), "--commit"),
    ]
    for args in steps:
        done = run(modelreg_exe, empty_repo, *args)
        assert done.returncode == 0, done.stderr
    return empty_repo


def test_every_command_signs_its_commit(
    signed: Path, modelreg_exe: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    start = git(signed, "rev-list", "--max-parents=0", "HEAD").strip()
    for args in (
        ("promote", "digits", "1", "--to", "production"),
        ("promote", "digits", "2", "--to", "production"),
        ("rollback", "digits", "--stage", "production"),
        ("deprecate", "digits", "2", "--reason", "leaks labels", "--commit"),
    ):
        done = run(modelreg_exe, signed, *args)
        assert done.returncode == 0, done.stderr

    # The MLflow plugin: a tag (an edit commit) and a stage transition (a pointer commit).
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"modelreg://{signed}")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mlflow import MlflowClient

        client = MlflowClient()
        client.set_registered_model_tag("digits", "team", "vision")
        client.transition_model_version_stage("digits", "1", "Staging")

    made = signatures(signed, start)
    assert [subject for _, subject in made] == [
        "promote digits version 1 to staging",
        "update model digits",
        "deprecate digits version 2",
        'Revert "promote digits version 2 to production"',
        "promote digits version 2 to production",
        "promote digits version 1 to production",
        "register digits version 2",
        "register digits version 1",
        "modelreg init",
    ]
    assert [(mark, subject) for mark, subject in made if mark != "G"] == []


@pytest.mark.parametrize(
    "args",
    [
        ("promote", "digits", "2", "--to", "production"),
        ("deprecate", "digits", "1", "--commit"),
        ("register", "digits", "--weights", "README", "--commit"),
        ("rollback", "digits", "--stage", "staging"),
    ],
    ids=lambda args: args[0],
)
def test_a_commit_that_cannot_be_signed_fails_and_leaves_nothing(
    signed: Path, modelreg_exe: str, args: tuple[str, ...]
) -> None:
    (signed / "README").write_text("weights\n")
    git(signed, "add", "README")
    git(signed, "commit", "-q", "-m", "readme")
    for number in ("1", "2"):
        done = run(modelreg_exe, signed, "promote", "digits", number, "--to", "staging")
        assert done.returncode == 0, done.stderr
    head = git(signed, "rev-parse", "HEAD").strip()
    # Signing is on, but the signing program fails: the commit cannot be made.
    git(signed, "config", "gpg.format", "openpgp")
    git(signed, "config", "gpg.program", "false")

    done = run(modelreg_exe, signed, *args)

    assert done.returncode == 1, done.stdout + done.stderr
    assert git(signed, "rev-parse", "HEAD").strip() == head
    assert git(signed, "status", "--porcelain", "--untracked-files=all") == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("error: ") and "commit.gpgsign is true" in line, line


def test_init_that_cannot_sign_leaves_no_registry(empty_repo: Path, modelreg_exe: str) -> None:
    git(empty_repo, "config", "commit.gpgsign", "true")
    git(empty_repo, "config", "gpg.program", "false")

    done = run(modelreg_exe, empty_repo, "init", "--commit")

    assert done.returncode == 1
    assert git(empty_repo, "status", "--porcelain", "--untracked-files=all", "--ignored") == ""
    assert sorted(p.name for p in empty_repo.iterdir()) == [".git"]
    [line] = done.stderr.splitlines()
    assert "gpg failed to sign" in line and "commit.gpgsign is true" in line, line
