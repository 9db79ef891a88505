"""``modelreg doctor`` through the installed command: one line a check, exit 1 on a failure."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import Workspace, git
from tests.github_server import FakeGitHub


def doctor(
    exe: str, root: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in {"GITHUB_TOKEN", "GH_TOKEN"}} | (
        env or {}
    )
    return subprocess.run(
        [exe, "--repo", str(root), "doctor", *extra],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def lines(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """check name -> 'STATUS detail'."""
    found = {}
    for line in done.stdout.splitlines():
        status, name, detail = line[:5].strip(), line[6:17].strip(), line[18:]
        found[name] = f"{status} {detail}"
    return found


def test_a_ready_registry_passes_every_check(workspace: Workspace, modelreg_exe: str) -> None:
    done = doctor(modelreg_exe, workspace.root)
    assert (done.returncode, done.stderr) == (0, "")
    found = lines(done)
    assert list(found) == ["git", "repository", "dvc", "dvc remote", "signing", "github", "extras"]
    assert found["repository"] == f"ok registry in {workspace.root}"
    assert found["dvc remote"].startswith("ok ") and found["dvc remote"].endswith(", writable")
    assert found["signing"] == "ok commits are not signed (commit.gpgsign is off)"
    assert found["github"].startswith("warn no GITHUB_TOKEN or GH_TOKEN")
    assert "installed: export, serve, mlflow" in found["extras"]


def test_a_missing_remote_and_a_missing_signer_fail(
    workspace: Workspace, modelreg_exe: str
) -> None:
    shutil.rmtree(workspace.remote)
    git(workspace.root, "config", "commit.gpgsign", "true")
    git(workspace.root, "config", "gpg.program", "/nonexistent/gpg")
    done = doctor(modelreg_exe, workspace.root)
    assert done.returncode == 1
    found = lines(done)
    assert found["dvc remote"] == f"FAIL 'storage' is {workspace.remote}, which does not exist"
    assert found["signing"] == "FAIL commits are signed (openpgp) but /nonexistent/gpg is not found"
    report = json.loads(doctor(modelreg_exe, workspace.root, "--json").stdout)
    assert report["format"] == "modelreg.doctor/1" and report["ok"] is False
    assert {c["check"] for c in report["checks"] if c["status"] == "fail"} == {
        "dvc remote",
        "signing",
    }


def test_a_cloud_remote_without_its_extra_names_the_install(
    workspace: Workspace, modelreg_exe: str
) -> None:
    # The test environment has the s3 plugin (tests/test_s3_remote.py) but not gs's.
    assert importlib.util.find_spec("dvc_gs") is None
    assert importlib.util.find_spec("dvc_s3") is not None
    for name, url in (("cloud", "gs://bucket/models"), ("other", "s3://bucket/models")):
        subprocess.run(
            [sys.executable, "-m", "dvc", "remote", "add", "-d", name, url],
            cwd=workspace.root,
            check=True,
            capture_output=True,
        )
        found = lines(doctor(modelreg_exe, workspace.root))
        if name == "cloud":
            assert found["dvc remote"] == (
                "FAIL 'cloud' is gs://bucket/models, which needs pip install 'modelreg[gs]'"
            )
        else:
            assert found["dvc remote"] == (
                "ok 'other' is s3://bucket/models (plugin installed; not contacted)"
            )


def test_the_token_is_named_never_shown_with_its_login_and_scopes(
    workspace: Workspace, modelreg_exe: str
) -> None:
    with FakeGitHub(repo="acme/models", token="s3cret-t0ken") as github:
        env = {
            "GITHUB_TOKEN": "s3cret-t0ken",
            "GITHUB_REPOSITORY": "acme/models",
            "GITHUB_API_URL": github.url,
        }
        done = doctor(modelreg_exe, workspace.root, env=env)
        assert done.returncode == 0, done.stdout
        assert lines(done)["github"] == (
            f"ok GITHUB_TOKEN acts as modelreg-bot on {github.url}; no scopes reported "
            "(a fine-grained or app token: its permissions apply)"
        )
        github.scopes = "read:org, workflow"
        found = lines(doctor(modelreg_exe, workspace.root, env=env))
        assert found["github"] == (
            "warn GITHUB_TOKEN acts as modelreg-bot; scopes read:org, workflow: no 'repo' scope"
        )
        bad = doctor(modelreg_exe, workspace.root, env={**env, "GITHUB_TOKEN": "wrong"})
        assert bad.returncode == 1
        assert lines(bad)["github"].startswith("FAIL GITHUB_TOKEN is set, but ")
        assert "s3cret" not in done.stdout + bad.stdout and "wrong" not in bad.stdout
