"""``make demo`` keeps working: its script builds a registry with two versions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelreg.api import Registry, validate

ROOT = Path(__file__).parent.parent


@pytest.mark.slow
def test_demo_builds_a_valid_registry_with_two_versions(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["DEMO_DIR"] = str(tmp_path / "demo")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo.sh")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok: the registry is valid" in done.stdout
    registry_root = tmp_path / "demo" / "registry"
    with Registry.open(registry_root) as registry:
        versions = registry.versions("digits-linear")
    assert [v.version for v in versions] == [1, 2]
    # Real training: the longer run is better, and both clear chance (10%) by far.
    assert versions[1].metrics["accuracy"] > versions[0].metrics["accuracy"] > 0.8
    assert validate(registry_root).ok  # artifacts pushed to the demo's DVC remote
    origin_log = subprocess.run(
        ["git", "log", "--oneline", "main"],
        cwd=tmp_path / "demo" / "origin.git",
        capture_output=True,
        text=True,
        check=True,
    )
    assert "register digits-linear version 2" in origin_log.stdout


def test_this_repository_is_a_valid_registry() -> None:
    report = validate(ROOT, offline=True)
    assert report.findings == ()
