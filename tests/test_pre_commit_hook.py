"""The pre-commit hook, run the way pre-commit runs it: its entry, split like a shell
word list, in the repository, with no file names (pass_filenames: false)."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import yaml

from tests.conftest import RegistryFactory

HOOKS = Path(__file__).parent.parent / ".pre-commit-hooks.yaml"


def _hook() -> dict[str, object]:
    [hook] = [h for h in yaml.safe_load(HOOKS.read_text()) if h["id"] == "modelreg-validate"]
    return hook


def test_the_hook_is_declared_for_registry_files_only() -> None:
    hook = _hook()
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    pattern = re.compile(str(hook["files"]))
    assert pattern.search("registry/digits/versions/1.yaml")
    assert not pattern.search("src/train.py")


def test_the_hook_passes_a_valid_registry_and_fails_a_broken_one(
    make_registry: RegistryFactory, modelreg_exe: str
) -> None:
    registry = make_registry({"digits": 2}, message="two versions")
    entry = shlex.split(str(_hook()["entry"]))
    assert entry[0] == "modelreg"
    command = [modelreg_exe, *entry[1:]]

    done = subprocess.run(command, cwd=registry.root, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr

    broken = registry.root / "registry/digits/versions/2.yaml"
    broken.write_text(broken.read_text().replace("created:", "creatd:"))
    done = subprocess.run(command, cwd=registry.root, capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "registry/digits/versions/2.yaml" in done.stdout
    assert "creatd" in done.stdout
