"""The workflows fail when they should: their run: steps under bash -eo pipefail, the way
a runner runs them, on changes that must not pass (an invalid manifest, a version that
fails its gate, a dispatched promotion that fails its gate)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import builders
from tests.actions_runner import Runner
from tests.conftest import Workspace
from tests.github_server import FakeGitHub
from tests.test_workflow_steps import PR_TOKEN, github, register, sandbox, save_cnn

__all__ = ["github", "sandbox"]  # fixtures, used by name

STRICT = """\
policies:
  production:
    require:
      accuracy: {min: 0.99}
"""


def pull_request_runner(
    ws: Workspace, github: FakeGitHub, scratch: Path, number: int, **kwargs: object
) -> Runner:
    event = {"pull_request": {"number": number, "head": {"repo": {"full_name": "acme/models"}}}}
    local = Runner(
        ws.root,
        scratch,
        event_name="pull_request",
        event=event,
        github_env={"GITHUB_API_URL": github.url},
        secrets={"MODELREG_PR_TOKEN": PR_TOKEN},
        github_token=github.installation_token,
        **kwargs,  # type: ignore[arg-type]
    )
    local.github["base_ref"] = "main"
    return local


def register_with_onnx(ws: Workspace, accuracy: float) -> None:
    """The next version of digits with an ONNX artifact, as the benchmark job needs."""
    weights = ws.root.parent / "weights-onnx" / "model.pt"
    weights.parent.mkdir(exist_ok=True)
    save_cnn(weights, seed=1)
    onnx = weights.parent / "model.onnx"
    onnx.write_bytes(builders.onnx_model_bytes(1))
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "modelreg"),
            "register",
            "digits",
            "--weights",
            str(weights),
            "--onnx",
            str(onnx),
            "--metrics",
            json.dumps({"accuracy": accuracy}),
            "--commit",
        ],
        cwd=ws.root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def strict_production(ws: Workspace) -> None:
    config = ws.root / "registry" / "registry.yaml"
    text = config.read_text().replace("policies: {}\n", STRICT)
    assert "accuracy: {min: 0.99}" in text
    config.write_text(text)
    ws.commit_all("production needs accuracy 0.99")
    ws.git("push", "-q", "origin", "main")


def test_an_invalid_manifest_fails_validate_with_annotations_and_a_summary(
    sandbox: Workspace, github: FakeGitHub, tmp_path: Path
) -> None:
    sandbox.git("checkout", "-q", "-b", "add-v2")
    register(sandbox, seed=1, accuracy=0.93)
    manifest = sandbox.root / "registry" / "digits" / "versions" / "2.yaml"
    text = manifest.read_text()
    # An attacker's field, with a value that tries to start a workflow command of its own.
    manifest.write_text(text + 'notes: "x\\n::add-mask::secret"\n')
    line = len(text.splitlines()) + 1
    sandbox.commit_all("v2, with an extra field")
    sandbox.git("push", "-q", "origin", "add-v2")
    number = github.add_pull(head="add-v2", title="digits v2")["number"]
    local = pull_request_runner(sandbox, github, tmp_path, number)

    job = local.run("validate.yml", "validate", check=False)

    assert job.failed
    step = job.step("Validate the change")
    assert step.returncode == 1
    assert (
        f"::error file=registry/digits/versions/2.yaml,line={line},title=schema%3A notes::"
        "unknown field; allowed: " in step.output
    )
    # Every line that quotes the manifest sits between stop-commands and its token.
    lines = step.output.splitlines()
    pause = next(i for i, text in enumerate(lines) if text.startswith("::stop-commands::"))
    token = lines[pause].removeprefix("::stop-commands::")
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    resume = lines.index(f"::{token}::")
    quoted = lines[pause + 1 : resume]
    assert any("registry/digits/versions/2.yaml" in text for text in quoted)
    commands = [text for text in lines if text.startswith("::")]
    assert all(
        text.startswith(("::error file=", "::stop-commands::", f"::{token}::")) for text in commands
    ), commands
    assert "::add-mask::" not in "\n".join(lines[:pause] + lines[resume + 1 :])
    # The job summary has the finding, as one table row.
    assert "### modelreg validate" in job.summary
    from markdown_it import MarkdownIt

    page = MarkdownIt("commonmark").enable("table").render(job.summary)
    assert (
        f"<td>error</td>\n<td>registry/digits/versions/2.yaml</td>\n<td>{line}</td>\n"
        "<td>notes</td>\n<td>unknown field; allowed: " in page
    ), page
    # Nothing after the failed step ran: no export, no comment.
    assert job.step("Export new versions to ONNX and check parity").skipped
    assert not (sandbox.root / "exports").exists()
    assert github.comments == []


def test_a_valid_change_passes_validate_with_a_summary(
    sandbox: Workspace, github: FakeGitHub, tmp_path: Path
) -> None:
    sandbox.git("checkout", "-q", "-b", "describe")
    manifest = sandbox.root / "registry" / "digits" / "versions" / "1.yaml"
    manifest.write_text(manifest.read_text() + "description: the first one\n")
    sandbox.commit_all("describe v1")
    sandbox.git("push", "-q", "origin", "describe")
    number = github.add_pull(head="describe", title="describe v1")["number"]
    local = pull_request_runner(sandbox, github, tmp_path, number)

    job = local.run("validate.yml", "validate", check=False)

    step = job.step("Validate the change")
    failed = [(s.name, s.output[-2000:]) for s in job.steps if s.returncode]
    assert (step.returncode, job.failed) == (0, False), failed
    assert "::error" not in step.output
    assert "ok: the change is valid (0 errors, 0 warnings" in step.output
    assert "modelreg validate" not in job.summary


def test_a_version_that_fails_its_gate_fails_the_benchmark_job(
    sandbox: Workspace, github: FakeGitHub, tmp_path: Path
) -> None:
    strict_production(sandbox)
    sandbox.git("checkout", "-q", "-b", "v2-to-production")
    register_with_onnx(sandbox, accuracy=0.93)
    from modelreg.api import promote

    promote("digits", 2, "production", repo=sandbox.root, force=True, reason="the PR under test")
    sandbox.git("push", "-q", "origin", "v2-to-production")
    number = github.add_pull(head="v2-to-production", title="digits v2 to production")["number"]
    local = pull_request_runner(sandbox, github, tmp_path / "plan", number)
    plan = local.run("benchmark.yml", "plan")
    candidates = json.loads(plan.outputs["candidates"])
    assert candidates == [
        {"ref": "digits/2", "model": "digits", "version": 2, "stage": "production"}
    ]

    gpu = pull_request_runner(
        sandbox,
        github,
        tmp_path / "gpu",
        number,
        machine_env={"DEVICE": "cpu"},
        # This machine has the CPU builds (torch, onnxruntime), not the GPU runner's.
        machine_inputs={"gpu": "false"},
        needs={"plan": plan.outputs},
    )
    job = gpu.run("benchmark.yml", "benchmark", check=False)

    assert job.failed
    bench = job.step("Benchmark candidates against production, and gate them")
    assert bench.returncode == 0 and bench.outputs["failed"] == "true", bench.output
    gate = job.step("Fail when a gate fails")
    assert gate.returncode == 1
    assert "::error::a candidate fails the policy" in gate.output
    # The figures and the failed gate reached the pull request before the job failed.
    [comment] = github.comments
    assert "accuracy" in comment["body"] and "0.93" in comment["body"]
    assert comment["user"]["login"] == "github-actions[bot]"
    assert job.permissions == {"contents": "read", "pull-requests": "write"}


@pytest.mark.parametrize("accuracy", [0.93])
def test_a_dispatched_promotion_that_fails_its_gate_opens_no_pull_request(
    sandbox: Workspace, github: FakeGitHub, tmp_path: Path, accuracy: float
) -> None:
    strict_production(sandbox)
    register(sandbox, seed=1, accuracy=accuracy)
    sandbox.git("push", "-q", "origin", "main")
    inputs = {"model": "digits", "version": "2", "stage": "production", "reason": "better"}
    local = Runner(
        sandbox.root,
        tmp_path / "runs",
        event_name="workflow_dispatch",
        event={},
        inputs=inputs,
        github_env={"GITHUB_API_URL": github.url},
        secrets={"MODELREG_PR_TOKEN": PR_TOKEN},
        github_token=github.installation_token,
    )
    branches_before = sandbox.git("ls-remote", "--heads", "origin")

    job = local.run("promote.yml", "promote", check=False)

    assert job.failed
    step = job.step("Open the promotion pull request")
    assert step.returncode == 1
    assert "accuracy" in step.output and "Traceback" not in step.output
    assert github.pulls == []
    assert sandbox.git("ls-remote", "--heads", "origin") == branches_before
