"""DVC's config read as DVC reads it: configobj's syntax, every level, config.local last.

Each case is checked against the real ``dvc remote list`` (DVC's own answer), so
modelreg cannot drift from it: an inline ``#`` comment is not part of a value
(``;`` starts one only at the start of a line, for configobj as for DVC), quotes
are not part of a path, and ``.dvc/config.local`` overrides ``.dvc/config``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelreg.artifacts.dvc import read_dvc_config
from tests import builders
from tests.conftest import Workspace, git

DVC = str(Path(sys.executable).parent / "dvc")


def dvc_remote_list(root: Path) -> tuple[dict[str, str], str | None]:
    """(name -> url, the default remote) as ``dvc remote list`` prints them."""
    wide = {**os.environ, "COLUMNS": "4096"}  # rich would wrap long lines at 80 columns
    done = subprocess.run(
        [DVC, "remote", "list"], cwd=root, env=wide, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    urls, default = {}, None
    for line in done.stdout.splitlines():
        # "name<TAB>url[<TAB>(default)]", the tabs expanded to spaces on the way out.
        name, url = line.split(None, 1)
        if url.endswith("(default)"):
            default, url = name, url.removesuffix("(default)")
        urls[name] = url.strip()
    return urls, default


@pytest.fixture
def dvc_repo(empty_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with DVC initialised, and its own DVC global config folder."""
    subprocess.run([DVC, "init", "-q"], cwd=empty_repo, check=True, capture_output=True)
    monkeypatch.setenv("DVC_GLOBAL_CONFIG_DIR", str(tmp_path / "dvc-global"))
    monkeypatch.setenv("DVC_SYSTEM_CONFIG_DIR", str(tmp_path / "dvc-system"))
    return empty_repo


CASES = {
    "inline-comments": (
        "[core]\n"
        "    remote = store  # the team's store\n"
        "['remote \"store\"']\n"
        "    url = /srv/dvc-store  # where it lives\n",
        None,
    ),
    "quoting": (
        "[core]\n"
        "    remote = 'spaced'\n"
        "['remote \"spaced\"']\n"
        '    url = "/srv/a store/with spaces"  # quoted\n'
        "['remote \"relative\"']\n"
        "    url = ../../stores/rel  # relative to .dvc/\n"
        "['remote \"cloud\"']\n"
        "    url = s3://bucket/path  # a cloud remote\n",
        None,
    ),
    "config-local-wins": (
        "[core]\n    remote = store\n"
        "['remote \"store\"']\n    url = /srv/shared\n"
        "['remote \"other\"']\n    url = /srv/other\n",
        "[core]\n    remote = other  # mine\n['remote \"store\"']\n    url = /home/me/store\n",
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_modelreg_reads_what_dvc_remote_list_reads(dvc_repo: Path, case: str) -> None:
    config, local = CASES[case]
    (dvc_repo / ".dvc" / "config").write_text(config)
    if local is not None:
        (dvc_repo / ".dvc" / "config.local").write_text(local)

    ours = read_dvc_config(dvc_repo)

    urls, default = dvc_remote_list(dvc_repo)
    assert (ours.remote_urls, ours.default_remote) == (urls, default)
    assert ours.default_remote is not None and "#" not in ours.default_remote


def test_the_global_level_is_dvcs_too(dvc_repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "dvc-global"
    folder.mkdir()
    (folder / "config").write_text(
        "[core]\n    remote = everywhere # global\n['remote \"everywhere\"']\n    url = /srv/all\n"
    )
    (dvc_repo / ".dvc" / "config").write_text("['remote \"here\"']\n    url = /srv/here\n")

    ours = read_dvc_config(dvc_repo)

    assert (ours.remote_urls, ours.default_remote) == dvc_remote_list(dvc_repo)
    assert ours.default_remote == "everywhere"


def test_cache_dir_is_resolved_like_dvc(dvc_repo: Path) -> None:
    (dvc_repo / ".dvc" / "config").write_text("[cache]\n    dir = ../shared cache  # here\n")
    assert read_dvc_config(dvc_repo).cache_dir == dvc_repo / "shared cache"


def _run(exe: str, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [exe, "--repo", str(root), *args], cwd=root, capture_output=True, text=True, check=False
    )


def test_validate_finds_pushed_artifacts_through_a_commented_remote(
    workspace: Workspace, model_files: builders.ModelFiles, modelreg_exe: str
) -> None:
    done = _run(
        modelreg_exe,
        workspace.root,
        "register",
        "digits",
        "--weights",
        str(model_files.weights),
        "--commit",
    )
    assert done.returncode == 0, done.stderr
    # The artifact is only in the remote now; the default remote's line has a comment.
    shutil.rmtree(workspace.root / ".dvc" / "cache")
    config = workspace.root / ".dvc" / "config"
    text = config.read_text()
    assert "remote = storage\n" in text
    config.write_text(text.replace("remote = storage\n", "remote = storage  # team store\n"))

    done = _run(modelreg_exe, workspace.root, "validate", "--no-cache")

    assert (done.returncode, done.stderr) == (0, ""), done.stdout
    assert done.stdout.startswith("ok: "), done.stdout


def test_a_config_dvc_cannot_read_is_one_line(workspace: Workspace, modelreg_exe: str) -> None:
    builders.write_version(workspace.root, "digits", 1)
    workspace.commit_all("a version")
    (workspace.root / ".dvc" / "config.local").write_text("[core\n    remote = x\n")

    done = _run(modelreg_exe, workspace.root, "validate", "--no-cache")

    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("error: DVC cannot read its config ") and "config.local" in line, line
    assert git(workspace.root, "status", "--porcelain") == ""


def test_validate_looks_in_the_remote_registry_yaml_names(
    workspace: Workspace, model_files: builders.ModelFiles, modelreg_exe: str, tmp_path: Path
) -> None:
    backup = tmp_path / "backup-remote"
    backup.mkdir()
    subprocess.run([DVC, "remote", "add", "backup", str(backup)], cwd=workspace.root, check=True)
    config = workspace.root / "registry" / "registry.yaml"
    config.write_text(config.read_text() + "storage:\n  dvc_remote: Backup\n")
    workspace.commit_all("artifacts go to the backup remote")
    weights = str(model_files.weights)
    done = _run(
        modelreg_exe, workspace.root, "register", "digits", "--weights", weights, "--commit"
    )
    assert done.returncode == 0, done.stderr
    shutil.rmtree(workspace.root / ".dvc" / "cache")  # only in the backup remote now
    assert not any((workspace.remote / "files").glob("md5/*/*"))  # not in the default one

    done = _run(modelreg_exe, workspace.root, "validate", "--no-cache")
    assert (done.returncode, done.stderr) == (0, ""), done.stdout
    assert done.stdout.startswith("ok: "), done.stdout

    config.write_text(config.read_text().replace("dvc_remote: Backup", "dvc_remote: nosuch"))
    done = _run(modelreg_exe, workspace.root, "validate", "--no-cache")
    assert done.returncode == 1
    assert (
        "registry/registry.yaml:" in done.stdout
        and "storage.dvc_remote" in done.stdout
        and "'nosuch' is not one of DVC's remotes (dvc remote list: backup, storage)" in done.stdout
    ), done.stdout
