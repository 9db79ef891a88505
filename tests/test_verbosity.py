"""-v shows the git and DVC operations; -q prints nothing but errors and asked-for JSON."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests import builders
from tests.conftest import Workspace


def run(exe: str, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [exe, "--repo", str(root), *args], capture_output=True, text=True, check=False
    )


def test_verbose_traces_each_git_and_dvc_operation_on_stderr(
    workspace: Workspace, model_files: builders.ModelFiles, modelreg_exe: str
) -> None:
    done = run(modelreg_exe, workspace.root, "-v", "register", "digits",
               "--weights", str(model_files.weights), "--commit")  # fmt: skip
    assert done.returncode == 0, done.stderr
    traced = done.stderr.splitlines()
    assert any(line.startswith("· dvc add registry/digits/artifacts/1/") for line in traced)
    assert any(line.startswith("· dvc push ") and "1 objects" in line for line in traced)
    assert any(line.startswith("· git update-ref ") and ": exit 0, " in line for line in traced)
    assert done.stdout.startswith("registered digits/1")
    # Without -v the same kind of command is silent on stderr.
    again = run(modelreg_exe, workspace.root, "register", "digits",
                "--weights", str(model_files.weights), "--commit")  # fmt: skip
    assert (again.returncode, again.stderr) == (0, "")


def test_quiet_prints_only_errors_and_json(
    workspace: Workspace, model_files: builders.ModelFiles, modelreg_exe: str
) -> None:
    root = workspace.root
    done = run(modelreg_exe, root, "-q", "register", "digits",
               "--weights", str(model_files.weights), "--commit")  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert json.loads(run(modelreg_exe, root, "-q", "list", "--json").stdout)["models"]
    assert run(modelreg_exe, root, "-q", "list").stdout == ""
    failed = run(modelreg_exe, root, "-q", "promote", "digits", "9", "--to", "production")
    assert failed.returncode == 1
    assert failed.stderr.startswith("error: ") and "9" in failed.stderr
    both = run(modelreg_exe, root, "-q", "-v", "list")
    assert both.returncode == 2 and "give -v or -q, not both" in both.stderr
