"""Edits of an existing manifest keep what a person wrote in it: comments, key order.

The version file here is written by hand: a note at the top, a reviewer's
comment above a field, an inline comment, keys in an order of its author's
choosing. ``deprecate`` (through the installed command) and the MLflow plugin's
tag and description edits change only their fields; the rest stays as it was.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from modelreg.api import Registry, validate
from modelreg.core.yaml_edit import edit_manifest_text
from modelreg.core.yaml_io import dump_yaml, parse_yaml
from tests import builders
from tests.conftest import Workspace

PATH = "registry/digits/versions/3.yaml"

HAND_WRITTEN = """\
# yaml-language-server: $schema=../../.schemas/version.schema.json
# Version 3: retrained after the March data fix.
version: 3
model: digits
# NOTE(reviewer): accuracy checked by hand on the holdout set.
metrics:
  accuracy: 0.903  # holdout, not validation
author: Test Author <test@example.com>
artifacts:
- name: weights
  path: registry/digits/artifacts/3/model.pt
  md5: {md5}
  size: 28
  format: pytorch
created: '2026-01-15T09:30:00Z'  # UTC
"""

KEPT = (
    "# Version 3: retrained after the March data fix.\n",
    "version: 3\nmodel: digits\n",
    "# NOTE(reviewer): accuracy checked by hand on the holdout set.\nmetrics:\n",
    "  accuracy: 0.903  # holdout, not validation\n",
    "created: '2026-01-15T09:30:00Z'  # UTC\n",
)


def _hand_write(ws: Workspace) -> None:
    builders.write_version(ws.root, "digits", 3, store=ws.remote)
    md5 = parse_yaml((ws.root / PATH).read_bytes(), PATH)["artifacts"][0]["md5"]
    (ws.root / PATH).write_text(HAND_WRITTEN.format(md5=md5))
    ws.commit_all("version 3, written by hand")


def _assert_kept(root: Path) -> str:
    text = (root / PATH).read_text()
    for part in KEPT:
        assert part in text, part
    assert text.index("author:") < text.index("artifacts:") < text.index("created:")
    assert validate(root, offline=True).ok
    return text


def test_deprecate_keeps_comments_and_key_order(
    offline_registry: Workspace, modelreg_exe: str
) -> None:
    _hand_write(offline_registry)
    root = offline_registry.root
    done = subprocess.run(
        [modelreg_exe, "deprecate", "digits", "3", "--reason", "leaked labels", "--commit"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr

    text = _assert_kept(root)
    assert "\ndeprecation:\n  date: '" in text and "  reason: leaked labels\n" in text
    with Registry.open(root) as reg:
        deprecation = reg.version("digits", 3).deprecation
    assert deprecation is not None and deprecation.reason == "leaked labels"
    assert offline_registry.status() == ""

    undone = subprocess.run(
        [modelreg_exe, "deprecate", "digits", "3", "--undo", "--commit"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert undone.returncode == 0, undone.stderr
    # Lifting it again gives back the file as it was written by hand.
    assert "deprecation" not in _assert_kept(root)
    assert offline_registry.git("diff", "HEAD~2", "HEAD", "--", PATH) == ""


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
def test_plugin_tag_and_description_edits_keep_comments_and_key_order(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mlflow import MlflowClient

    _hand_write(workspace)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"modelreg://{workspace.root}")
    monkeypatch.chdir(tmp_path)
    client = MlflowClient()

    client.set_model_version_tag("digits", "3", "reviewed", "yes")
    text = _assert_kept(workspace.root)
    assert "tags:\n  reviewed: 'yes'\n" in text

    client.update_model_version("digits", "3", description="Retrained on the fixed data.\nSee #12.")
    text = _assert_kept(workspace.root)
    assert "description: |-\n  Retrained on the fixed data.\n  See #12.\n" in text
    version = client.get_model_version("digits", "3")
    assert version.description == "Retrained on the fixed data.\nSee #12."
    assert version.tags == {"reviewed": "yes"}

    client.delete_model_version_tag("digits", "3", "reviewed")
    client.update_model_version("digits", "3", description="")
    _assert_kept(workspace.root)
    assert workspace.status() == ""


def test_a_canonical_file_stays_canonical() -> None:
    header = "yaml-language-server: $schema=../x.json"
    old = {"model": "m", "version": 1, "tags": {"a": "no"}}
    new = {"model": "m", "version": 1, "description": "two\nlines", "tags": {"a": "no", "b": "1"}}
    assert edit_manifest_text(dump_yaml(old, header=header), new, header=header) == dump_yaml(
        new, header=header
    )


def test_edits_read_back_as_the_new_document() -> None:
    old = "b: 1  # one\n# about a\na:\n  x: 'on'\n  y: [1, 2]\n"
    for new in (
        {"b": 2, "a": {"x": "on", "y": [1, 2, 3]}},
        {"a": {"x": "off"}},
        {"b": 1, "c": "1.10", "a": {"x": "on", "y": []}},
        {"b": "yes", "a": {"x": "multi\nline", "y": [1, 2]}},
    ):
        edited = edit_manifest_text(old, new)
        assert parse_yaml(edited.encode(), "") == new, edited
    assert "# about a\n" in edit_manifest_text(old, {"b": 2, "a": {"x": "on", "y": [1, 2]}})


def test_reading_never_imports_the_round_trip_library(offline_registry: Workspace) -> None:
    _hand_write(offline_registry)
    code = (
        "import sys; from modelreg.cli import cli\n"
        "try: cli(['--repo', sys.argv[1], 'show', 'digits'])\n"
        "except SystemExit as exit: assert exit.code == 0, exit.code\n"
        "print(sorted(m for m in sys.modules if m.startswith('ruamel')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(offline_registry.root)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.splitlines()[-1] == "[]"
