"""Shared fixtures: every test gets real git and DVC, isolated from the user's setup.

The session fixture points HOME, git's global/system config and DVC's config
and site cache at temporary folders, so no test reads or writes anything of
the person (or CI machine) running it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests import builders


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Test Author\n\temail = test@example.com\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )
    saved = dict(os.environ)
    os.environ.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "GIT_CONFIG_GLOBAL": str(gitconfig),
            "GIT_CONFIG_NOSYSTEM": "1",
            "DVC_NO_ANALYTICS": "1",
            "DVC_SITE_CACHE_DIR": str(home / "dvc-site-cache"),
            # MLflow's default store is ./mlflow.db (and ./mlruns) in the current folder,
            # the checkout: a test that forgets to choose one writes here instead.
            "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow-default' / 'mlflow.db'}",
        }
    )
    for key in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "GIT_DIR",
        "GIT_WORK_TREE",
        # A user's MODELREG_* settings (the CLI reads every option from them) stay out.
        *(k for k in os.environ if k.startswith("MODELREG_")),
    ):
        os.environ.pop(key, None)
    (home / "mlflow-default").mkdir()
    yield
    os.environ.clear()
    os.environ.update(saved)


def commit_subjects(root: Path) -> list[str]:
    """The subjects of ``root``'s commits, newest first."""
    return git(root, "log", "--format=%s").splitlines()


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` and return stdout; a failure fails the test with git's message."""
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"git {' '.join(args)} failed: {done.stderr}"
    return done.stdout


@dataclass
class Workspace:
    """A registry repository with a bare ``origin`` and a local DVC remote."""

    root: Path
    origin: Path
    remote: Path

    def git(self, *args: str) -> str:
        return git(self.root, *args)

    def commit_all(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def status(self) -> str:
        return self.git("status", "--porcelain", "--untracked-files=all")


@pytest.fixture
def empty_repo(tmp_path: Path) -> Path:
    """A git repository with one empty commit, and nothing else."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    git(root, "commit", "-q", "--allow-empty", "-m", "start")
    return root


@pytest.fixture
def workspace(tmp_path: Path, empty_repo: Path) -> Workspace:
    """``modelreg init`` run and committed, with origin and a DVC remote configured."""
    from modelreg.api import init

    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(empty_repo, "remote", "add", "origin", str(origin))
    remote = tmp_path / "dvc-remote"
    remote.mkdir()
    init(empty_repo, remote=str(remote), commit=True)
    git(empty_repo, "push", "-q", "origin", "main")
    return Workspace(empty_repo, origin, remote)


@pytest.fixture
def offline_registry(empty_repo: Path) -> Workspace:
    """A registry built from files alone (no DVC), for rules checked with --offline."""
    builders.write_config(empty_repo)
    ws = Workspace(empty_repo, empty_repo, empty_repo)
    ws.commit_all("registry")
    return ws


@dataclass
class RegistryFactory:
    """Builds the registry a test describes on ``offline_registry``, in one commit."""

    workspace: Workspace

    def __call__(
        self,
        versions: builders.Versions,
        *,
        message: str,
        models: Mapping[str, Mapping[str, Any]] | None = None,
        stages: builders.Pointers | None = None,
        aliases: builders.Pointers | None = None,
        policies: Mapping[str, Any] | None = None,
    ) -> Workspace:
        """Write the files with :func:`builders.write_registry` and commit them as
        ``message``: the commit (on top of "start" and "registry") that tests count on."""
        builders.write_registry(
            self.workspace.root,
            versions,
            models=models,
            stages=stages,
            aliases=aliases,
            policies=policies,
        )
        self.workspace.commit_all(message)
        return self.workspace


@pytest.fixture
def make_registry(offline_registry: Workspace) -> RegistryFactory:
    """One shared way to build a test's registry, e.g. ``make_registry({"digits": 3},
    stages={"digits": {"production": 2}}, message="three versions")``."""
    return RegistryFactory(offline_registry)


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


@pytest.fixture
def model_files(tmp_path: Path) -> builders.ModelFiles:
    """Real weights, a real ONNX model and metrics/params files to register."""
    return builders.model_files(tmp_path / "inputs")


@pytest.fixture(scope="session")
def modelreg_exe() -> str:
    """The installed console script beside this interpreter (the venv need not be on PATH)."""
    exe = Path(sys.executable).parent / "modelreg"
    assert exe.is_file(), "the modelreg console script is not installed (pip install -e .)"
    return str(exe)
