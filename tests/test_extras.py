"""The base install is the registry; the rest are extras that fail in one line when absent.

Each case runs the real command in a fresh interpreter where the extras' modules
are made unimportable (``sys.modules[name] = None``, which makes ``import name``
fail exactly as on a machine without it).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import builders
from tests.conftest import Workspace

# Every module an extra brings; none may be needed by the base commands.
EXTRA_MODULES = ("torch", "onnxruntime", "onnxscript", "mlflow", "fastapi", "uvicorn")


def run_without(
    hidden: tuple[str, ...], root: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    program = (
        "import sys\n"
        f"for name in {hidden!r}:\n"
        "    sys.modules[name] = None\n"
        "from modelreg.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", program, "--repo", str(root), *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_registry_commands_need_no_extra(
    workspace: Workspace, model_files: builders.ModelFiles
) -> None:
    root = workspace.root
    for args in (
        ["register", "digits", "--weights", str(model_files.weights), "--onnx",
         str(model_files.onnx), "--metrics", '{"accuracy": 0.9}', "--commit"],
        ["register", "digits", "--weights", str(model_files.weights), "--commit"],
        ["promote", "digits", "1", "--to", "production", "--force", "--reason", "first"],
        ["promote", "digits", "2", "--to", "production", "--force", "--reason", "second"],
        ["rollback", "digits", "--stage", "production"],
        ["deprecate", "digits", "2", "--reason", "worse", "--commit"],
        ["validate"],
        ["list"],
        ["show", "digits@production"],
        ["history", "digits"],
        ["diff", "HEAD~3"],
        ["pull", "digits/1"],
    ):  # fmt: skip
        done = run_without(EXTRA_MODULES, root, *args)
        assert done.returncode == 0, (args, done.stderr)
    assert workspace.status() == ""


@pytest.mark.parametrize(
    ("hidden", "args", "message"),
    [
        (
            ("torch",),
            ["export", "--checkpoint", "model.pt"],
            "modelreg export needs torch, which modelreg's 'export' extra installs: "
            "pip install 'modelreg[export]'",
        ),
        (
            ("fastapi", "uvicorn"),
            ["serve", "digits@production", "--port", "1"],
            "modelreg serve needs fastapi, uvicorn, which modelreg's 'serve' extra installs: "
            "pip install 'modelreg[serve]'",
        ),
        (
            ("mlflow",),
            ["import-mlflow", "--tracking-uri", "sqlite:///nowhere.db"],
            "modelreg import-mlflow needs mlflow, which modelreg's 'mlflow' extra installs: "
            "pip install 'modelreg[mlflow]'",
        ),
        (
            ("onnxruntime",),
            ["benchmark", "--onnx", "model.onnx"],
            "modelreg benchmark needs onnxruntime, which modelreg's 'serve' extra installs: "
            "pip install 'modelreg[serve]'",
        ),
    ],
)
def test_a_missing_extra_fails_in_one_line_naming_it(
    workspace: Workspace,
    model_files: builders.ModelFiles,
    hidden: tuple[str, ...],
    args: list[str],
    message: str,
) -> None:
    for name in ("model.pt", "model.onnx"):
        (workspace.root / name).write_bytes(model_files.onnx.read_bytes())
    done = run_without(hidden, workspace.root, *args)
    assert (done.returncode, done.stderr) == (1, f"error: {message}\n")
    assert done.stdout == ""


def test_a_cloud_remote_without_its_plugin_fails_before_dvc_runs(
    workspace: Workspace, model_files: builders.ModelFiles
) -> None:
    root = workspace.root
    weights = str(model_files.weights)
    first = run_without((), root, "register", "digits", "--weights", weights, "--commit")
    assert first.returncode == 0, first.stderr
    subprocess.run(
        [sys.executable, "-m", "dvc", "remote", "add", "-d", "cloud", "s3://bucket/models"],
        cwd=root,
        check=True,
        capture_output=True,
    )
    workspace.commit_all("models go to S3 now")
    message = (
        "error: the DVC remote 'cloud' (s3://bucket/models) needs dvc_s3, which modelreg's "
        "'s3' extra installs: pip install 'modelreg[s3]'\n"
    )
    head = workspace.git("rev-parse", "HEAD")

    done = run_without(("dvc_s3",), root, "register", "digits", "--weights", weights, "--commit")
    assert (done.returncode, done.stderr) == (1, message)
    assert workspace.git("rev-parse", "HEAD") == head
    assert workspace.status() == ""

    # An object already in the cache needs no remote; one that is not asks for the plugin.
    shutil.rmtree(root / ".dvc" / "cache")
    (root / "registry/digits/artifacts/1" / model_files.weights.name).unlink()
    done = run_without(("dvc_s3",), root, "pull", "digits/1")
    assert (done.returncode, done.stderr) == (1, message)
