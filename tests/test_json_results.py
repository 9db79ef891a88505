"""Every write verb's ``--json``: the library's ``to_json()``, with its format first.

Run through the installed ``modelreg``, the way a CI job or deploy script reads it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests import builders
from tests.conftest import Workspace, git


def _json(exe: str, root: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [exe, "--repo", str(root), *args, "--json"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    assert next(iter(document)) == "format"  # the first key, so a reader can dispatch on it
    return document


def _head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()


def test_each_write_verb_prints_its_result_as_json(
    workspace: Workspace, model_files: builders.ModelFiles, modelreg_exe: str
) -> None:
    exe, root = modelreg_exe, workspace.root
    init = _json(exe, root, "init")
    assert init == {
        "format": "modelreg.init/1",
        "root": str(root),
        "written": [],  # the fixture ran init already: nothing to refresh
        "dvc_initialised": False,
        "commit": None,
        "ci": [],  # no --ci
    }

    weights, onnx = str(model_files.weights), str(model_files.onnx)
    first = _json(exe, root, "register", "digits", "--weights", weights, "--onnx", onnx,
                  "--metrics", '{"accuracy": 0.9}', "--no-push", "--commit")  # fmt: skip
    assert first["format"] == "modelreg.register/1"
    assert (first["ref"], first["path"]) == ("digits/1", "registry/digits/versions/1.yaml")
    assert first["commit"] == _head(root) and first["pushed"] is False
    assert "registry/digits/versions/1.yaml" in first["files"]
    assert first["version"]["metrics"] == {"accuracy": 0.9}
    assert [a["name"] for a in first["version"]["artifacts"]] == ["weights", "onnx"]
    _json(exe, root, "register", "digits", "--weights", weights, "--no-push", "--commit")

    promoted = _json(exe, root, "promote", "digits", "1", "--to", "production", "--force",
                     "--reason", "first release")  # fmt: skip
    assert promoted["format"] == "modelreg.promote/1"
    assert (promoted["version"], promoted["previous"]) == (1, None)
    assert promoted["commit"] == _head(root) and promoted["pull_request"] is None
    _json(exe, root, "promote", "digits", "2", "--to", "production", "--force", "--reason", "v2")

    back = _json(exe, root, "rollback", "digits", "--stage", "production", "--reason", "bad")
    assert back["format"] == "modelreg.rollback/1"
    assert (back["version"], back["rolled_back"], back["reason"]) == (1, 2, "bad")
    assert back["commit"] == _head(root)

    deprecated = _json(exe, root, "deprecate", "digits", "2", "--reason", "leaks", "--commit")
    assert deprecated == {
        "format": "modelreg.deprecate/1",
        "ref": "digits/2",
        "deprecated": True,
        "reason": "leaks",
        "path": "registry/digits/versions/2.yaml",
        "aliases": [],
        "commit": _head(root),
    }
    lifted = _json(exe, root, "deprecate", "digits", "2", "--undo", "--commit")
    assert (lifted["deprecated"], lifted["reason"]) == (False, None)
