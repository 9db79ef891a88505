"""The repository as shipped: no scratch output committed, and make test's prerequisites
checked up front with the one command that installs what is missing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = re.compile(r"(^|/)(mlflow\.db|mlruns/)|\.(pkl|pickle|db|sqlite)$")


def test_no_scratch_output_is_tracked() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert len(tracked) > 50
    assert [path for path in tracked if SCRATCH.search(path)] == []


def _bin_with(tmp_path: Path, *tools: str) -> str:
    """A PATH holding only ``tools`` (and bash), each linked to the real one."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("bash", *tools):
        found = shutil.which(tool)
        assert found, f"{tool} is needed for this test"
        (folder / tool).symlink_to(found)
    return str(folder)


def test_make_test_stops_at_once_naming_the_install_command(tmp_path: Path) -> None:
    done = subprocess.run(
        [shutil.which("bash") or "bash", str(ROOT / "scripts" / "check-prereqs")],
        env={**os.environ, "PATH": _bin_with(tmp_path, "git")},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == (
        "make test needs chromium: run  sudo apt-get install chromium  (Debian/Ubuntu), "
        "then make test again\n"
    )


def test_the_prerequisites_pass_where_they_are_installed(tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.fail("headless Chromium is needed: apt-get install chromium (.ci/run does)")
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "check-prereqs")],
        env={**os.environ, "PATH": _bin_with(tmp_path, "git", Path(browser).name)},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
