"""Shell completion and MODELREG_* settings, through the installed command.

Completion is asked the way bash's completion script asks it (``_MODELREG_COMPLETE=
bash_complete`` with ``COMP_WORDS``/``COMP_CWORD``), so these are the words a user's
Tab gets.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import RegistryFactory, Workspace


@pytest.fixture
def registry(make_registry: RegistryFactory) -> Workspace:
    return make_registry(
        {"digits": 12, "diabetes": 1},
        models={"digits": {}, "diabetes": {}, "other": {}},
        stages={"digits": {"production": 2}},
        aliases={"digits": {"champion": 3}},
        message="two models",
    )


def complete(exe: str, cwd: Path, line: str, env: dict[str, str] | None = None) -> list[str]:
    words = line.split(" ")
    done = subprocess.run(
        [exe],
        cwd=cwd,
        env={
            **os.environ,
            **(env or {}),
            "_MODELREG_COMPLETE": "bash_complete",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    return [item.split(",", 1)[1] for item in done.stdout.splitlines() if item]


def test_model_names_complete(registry: Workspace, modelreg_exe: str) -> None:
    assert complete(modelreg_exe, registry.root, "modelreg versions d") == ["diabetes", "digits"]
    assert complete(modelreg_exe, registry.root, "modelreg history ") == [
        "diabetes",
        "digits",
        "other",
    ]


def test_references_complete_stages_aliases_and_versions(
    registry: Workspace, modelreg_exe: str
) -> None:
    root = registry.root
    assert complete(modelreg_exe, root, "modelreg show digits@") == [
        "digits@staging",
        "digits@production",
        "digits@champion",
    ]
    assert complete(modelreg_exe, root, "modelreg show digits@p") == ["digits@production"]
    assert complete(modelreg_exe, root, "modelreg pull digits/1") == [
        "digits/12",
        "digits/11",
        "digits/10",
        "digits/1",
    ]
    assert complete(modelreg_exe, root, "modelreg resolve nosuch@") == []


def test_stages_complete_after_to(registry: Workspace, modelreg_exe: str) -> None:
    line = "modelreg promote digits 3 --to "
    assert complete(modelreg_exe, registry.root, line) == ["staging", "production"]


def test_completion_outside_a_registry_offers_nothing(tmp_path: Path, modelreg_exe: str) -> None:
    assert complete(modelreg_exe, tmp_path, "modelreg show ") == []


def test_completion_follows_repo_from_the_line_or_the_environment(
    registry: Workspace, tmp_path: Path, modelreg_exe: str
) -> None:
    line = f"modelreg --repo {registry.root} versions di"
    assert complete(modelreg_exe, tmp_path, line) == ["diabetes", "digits"]
    env = {"MODELREG_REPO": str(registry.root)}
    assert complete(modelreg_exe, tmp_path, "modelreg versions di", env) == ["diabetes", "digits"]


def test_options_come_from_modelreg_variables(registry: Workspace, modelreg_exe: str) -> None:
    # MODELREG_<COMMAND>_<PARAMETER>: --json's parameter is as_json.
    elsewhere = registry.root.parent
    env = {**os.environ, "MODELREG_REPO": str(registry.root), "MODELREG_LIST_AS_JSON": "1"}
    done = subprocess.run(
        [modelreg_exe, "list"], cwd=elsewhere, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert '"format": "modelreg.list/1"' in done.stdout
    # The command line wins over the environment.
    done = subprocess.run(
        [modelreg_exe, "--repo", str(elsewhere), "list"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "not a git repository" in done.stderr or "not inside a git" in done.stderr
