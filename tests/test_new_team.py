"""A new team adopts modelreg in an existing repository, from the released wheel.

The wheel is built as a release is (scripts/build-release.sh: ``git archive`` of this
commit, then ``python -m build``) and installed, not editable, with the ``mlflow``
extra only into a fresh virtual environment: torch must not come with it. The team's
repository already uses DVC; ``modelreg init --ci github`` adds the registry and the
CI, two versions are registered, and the scaffolded workflows are linted, audited and
run the way Actions runs them, on a valid pull request and on an invalid one. The
pre-commit hook they point at passes and fails the same way.
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from modelreg.core.project import REPOSITORY, REPOSITORY_URL
from tests.actions_runner import Runner
from tests.conftest import git

ROOT = Path(__file__).resolve().parent.parent
DEV_BIN = Path(sys.executable).parent


def _pip_cache() -> str:
    """The user's pip cache (the tests run with a scratch HOME), so the fresh
    environment installs from the wheels make already downloaded."""
    return str(Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "pip")


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A fresh virtual environment holding the released wheel with [mlflow]; the
    commit the wheel was built from."""
    work = tmp_path_factory.mktemp("release")
    commit = git(ROOT, "rev-parse", "HEAD").strip()
    built = subprocess.run(
        ["bash", str(ROOT / "scripts/build-release.sh"), commit, str(work / "dist")],
        cwd=ROOT,
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = (work / "dist").glob("modelreg-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    installed = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "install", "--quiet",
         "-c", str(ROOT / "constraints.txt"), f"{wheel}[mlflow]"],
        env={**os.environ, "PIP_CACHE_DIR": _pip_cache()},
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    return venv / "bin", commit


def _run(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / args[0]), *args[1:]], cwd=cwd, capture_output=True, text=True, check=False
    )


def _ok(bin_dir: Path, cwd: Path, *args: str) -> str:
    done = _run(bin_dir, cwd, *args)
    assert done.returncode == 0, f"{shlex.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def team(release: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The team's repository, with DVC already, after init --ci github and v1."""
    bin_dir, _ = release
    work = tmp_path_factory.mktemp("team")
    origin, repo, remote = work / "origin.git", work / "repo", work / "dvc-remote"
    git(work, "init", "-q", "--bare", str(origin))
    repo.mkdir()
    remote.mkdir()
    git(repo, "init", "-q")
    git(repo, "remote", "add", "origin", str(origin))
    (repo / "train.py").write_text("print('training')\n")
    _ok(bin_dir, repo, "dvc", "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "our training code, with DVC")

    out = _ok(bin_dir, repo, "modelreg", "init", "--ci", "github", "--remote", str(remote),
              "--owner", "@acme/ml-leads", "--commit")  # fmt: skip
    assert "wrote .github/workflows/modelreg-validate.yml" in out
    assert "wrote .pre-commit-config.yaml" in out
    weights = work / "v1.bin"
    weights.write_bytes(os.urandom(4096))
    _ok(bin_dir, repo, "modelreg", "register", "classifier", "--weights", str(weights),
        "--metrics", '{"accuracy": 0.91}', "--commit")  # fmt: skip
    git(repo, "push", "-q", "origin", "main")
    return repo


def test_the_base_of_the_release_has_no_torch(release: tuple[Path, str]) -> None:
    bin_dir, _ = release
    listed = _ok(bin_dir, Path.cwd(), "python", "-m", "pip", "list", "--format=json")
    names = {p["name"].lower() for p in json.loads(listed)}
    assert "mlflow" in names and "modelreg" in names
    assert "torch" not in names
    assert _run(bin_dir, Path.cwd(), "python", "-c", "import torch").returncode == 1
    # Installed from the wheel, not from this checkout.
    where = _ok(bin_dir, Path.cwd(), "python", "-c", "import modelreg; print(modelreg.__file__)")
    assert "site-packages" in where and str(ROOT) not in where


def test_the_scaffold_pins_the_release_it_came_from(release: tuple[Path, str], team: Path) -> None:
    _, commit = release
    text = (team / ".github/workflows/modelreg-validate.yml").read_text()
    assert f"uses: {REPOSITORY}/.github/workflows/reusable-validate.yml@{commit} # v" in text
    assert "extras: mlflow\n" in text  # what this team installed
    [entry] = yaml.safe_load((team / ".pre-commit-config.yaml").read_text())["repos"]
    assert entry == {"repo": REPOSITORY_URL, "rev": commit, "hooks": [{"id": "modelreg-validate"}]}
    lint = _run(DEV_BIN, team, "actionlint", "-no-color")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    audit = _run(DEV_BIN, team, "zizmor", "--offline", "--format", "json", ".github")
    serious = [
        f["ident"]
        for f in json.loads(audit.stdout)
        if f["determinations"]["severity"] in ("Medium", "High")
    ]
    assert serious == []


def _pull_request(team: Path, branch: str, scratch: Path, bin_dir: Path) -> Runner:
    git(team, "push", "-q", "origin", branch)
    # A fork's pull request: no comment is written, so no GitHub API is needed.
    event = {"pull_request": {"number": 1, "head": {"repo": {"full_name": "someone/fork"}}}}
    runner = Runner(
        team,
        scratch,
        event_name="pull_request",
        event=event,
        base_ref="main",
        machine_env={
            # The runner's Python is the team's release environment; its install step
            # runs for real, offline: what it asks for is already installed.
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "PIP_NO_INDEX": "1",
            "PIP_CACHE_DIR": str(scratch / "pip-cache"),
        },
    )
    runner.github["base_ref"] = "main"
    return runner


def _hook(team: Path, bin_dir: Path, commit: str) -> subprocess.CompletedProcess[str]:
    """The hook the team's pre-commit config names, as pre-commit runs it: the entry
    from .pre-commit-hooks.yaml at the pinned commit, with the installed modelreg."""
    hooks = yaml.safe_load(git(ROOT, "show", f"{commit}:.pre-commit-hooks.yaml"))
    [hook] = [h for h in hooks if h["id"] == "modelreg-validate"]
    entry = shlex.split(hook["entry"])
    return _run(bin_dir, team, *entry)


def test_a_valid_pull_request_passes_the_scaffolded_validate(
    release: tuple[Path, str], team: Path, tmp_path: Path
) -> None:
    bin_dir, commit = release
    git(team, "checkout", "-q", "-B", "add-v2", "main")
    weights = tmp_path / "model.bin"
    weights.write_bytes(os.urandom(4096))
    _ok(bin_dir, team, "modelreg", "register", "classifier", "--weights", str(weights),
        "--metrics", '{"accuracy": 0.93}', "--commit")  # fmt: skip
    runner = _pull_request(team, "add-v2", tmp_path / "runs", bin_dir)

    job = runner.run(team / ".github/workflows/modelreg-validate.yml", "validate", check=False)

    assert not job.failed, [(s.name, s.output) for s in job.steps if s.returncode]
    install = job.step("Install modelreg")
    assert not install.skipped and "modelreg, version" in install.output
    assert "ok: the change is valid" in job.step("Validate the change").output
    events = json.loads(job.step("Registry events").outputs["events"])
    assert [e["ref"] for e in events] == ["classifier/2"]
    assert "no torch checkpoint" in job.step("Export new versions to ONNX and check parity").output
    assert "| registered | classifier | v2 |" in job.summary
    assert job.step("Sticky comment").skipped  # a fork's pull request
    assert _hook(team, bin_dir, commit).returncode == 0


def test_an_invalid_pull_request_fails_it_and_the_hook(
    release: tuple[Path, str], team: Path, tmp_path: Path
) -> None:
    bin_dir, commit = release
    git(team, "checkout", "-q", "-B", "break-v1", "main")
    manifest = team / "registry/classifier/versions/1.yaml"
    manifest.write_text(manifest.read_text() + "colour: red\n")
    git(team, "commit", "-q", "-am", "an unknown field")
    runner = _pull_request(team, "break-v1", tmp_path / "runs", bin_dir)

    job = runner.run(team / ".github/workflows/modelreg-validate.yml", "validate", check=False)

    assert job.failed
    step = job.step("Validate the change")
    assert step.returncode == 1
    assert "::error file=registry/classifier/versions/1.yaml" in step.output
    assert "colour" in step.output
    assert job.step("Report").skipped  # nothing after the failed step runs
    hook = _hook(team, bin_dir, commit)
    assert hook.returncode == 1
    assert "registry/classifier/versions/1.yaml" in hook.stdout
